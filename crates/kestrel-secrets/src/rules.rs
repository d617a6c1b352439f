//! The built-in secret rules: providers' token formats, private keys, JWTs, URLs with passwords, Docker
//! registry auths, `.env` files, Kubernetes Secrets and generic password assignments. Each rule names the
//! literal keywords that must occur near a match: a SIMD pass over the bytes finds them (`prefilter`), and only then
//! does the rule's regex run, on the lines around the keyword.

use kestrel_core::Severity;

/// One rule.
#[derive(Debug, Clone)]
pub struct RuleDef {
    /// `aws-access-key-id`.
    pub id: &'static str,
    /// What it finds.
    pub title: &'static str,
    /// How bad a hit is.
    pub severity: Severity,
    /// The pattern (Rust regex syntax). Capture group `secret` (or the whole match) is the secret.
    pub pattern: &'static str,
    /// Literals (matched case-insensitively) one of which occurs in every match.
    pub keywords: &'static [&'static str],
    /// Least Shannon entropy (bits per character) of the secret, for rules whose pattern alone is loose.
    pub min_entropy: Option<f64>,
    /// Whether the rule's format is specific enough that a match is a secret whatever the context (a provider's
    /// prefixed token) rather than a guess (a generic assignment).
    pub specific: bool,
    /// Whether a match spans lines (a key's body, a manifest's data): the regex then looks further after the
    /// keyword than the end of its line.
    pub multiline: bool,
    /// The file names (globs on the base name) the rule applies to; empty: every file.
    pub files: &'static [&'static str],
}

macro_rules! rule {
    ($id:expr, $title:expr, $sev:ident, $pat:expr, [$($k:expr),*], $ent:expr, $spec:expr) => {
        RuleDef { id: $id, title: $title, severity: Severity::$sev, pattern: $pat, keywords: &[$($k),*], min_entropy: $ent, specific: $spec, multiline: false, files: &[] }
    };
    ($id:expr, $title:expr, $sev:ident, $pat:expr, [$($k:expr),*], $ent:expr, $spec:expr, multiline) => {
        RuleDef { id: $id, title: $title, severity: Severity::$sev, pattern: $pat, keywords: &[$($k),*], min_entropy: $ent, specific: $spec, multiline: true, files: &[] }
    };
    ($id:expr, $title:expr, $sev:ident, $pat:expr, [$($k:expr),*], $ent:expr, $spec:expr, files [$($f:expr),*]) => {
        RuleDef { id: $id, title: $title, severity: Severity::$sev, pattern: $pat, keywords: &[$($k),*], min_entropy: $ent, specific: $spec, multiline: false, files: &[$($f),*] }
    };
}

/// Every built-in rule.
#[rustfmt::skip]
pub const RULES: &[RuleDef] = &[
    rule!("aws-access-key-id", "AWS access key id", High, r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b", ["akia", "asia", "abia", "acca"], Some(3.0), true),
    rule!("aws-secret-access-key", "AWS secret access key", Critical, r#"(?i)aws.{0,20}?(?:secret|sk|access).{0,20}?['"=:\s]{1,5}(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#, ["aws_secret", "aws-secret", "awssecret", "aws secret", "secret_access_key", "secretaccesskey", "aws_sk"], Some(4.0), true),
    rule!("gcp-service-account-key", "Google Cloud service account key", Critical, r#""private_key_id"\s*:\s*"(?P<secret>[0-9a-f]{40})""#, ["private_key_id"], None, true),
    rule!("gcp-api-key", "Google API key", High, r"\b(?P<secret>AIza[0-9A-Za-z_-]{35})\b", ["aiza"], Some(3.5), true),
    rule!("azure-storage-key", "Azure storage account key", Critical, r"(?i)AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)", ["accountkey"], None, true),
    rule!("azure-sas-token", "Azure shared access signature", High, r"(?i)[?&]sig=(?P<secret>[A-Za-z0-9%+/]{43,}(?:%3D|=){0,2})", ["sig="], Some(4.0), true),
    rule!("github-token", "GitHub token", Critical, r"\b(?P<secret>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})\b", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], Some(3.5), true),
    rule!("github-fine-grained-token", "GitHub fine-grained token", Critical, r"\b(?P<secret>github_pat_[A-Za-z0-9_]{82})\b", ["github_pat_"], None, true),
    rule!("gitlab-token", "GitLab personal access token", Critical, r"\b(?P<secret>glpat-[A-Za-z0-9_-]{20})\b", ["glpat-"], Some(3.0), true),
    rule!("slack-token", "Slack token", High, r"\b(?P<secret>xox[baprs]-[0-9]{8,13}-[A-Za-z0-9-]{10,})\b", ["xox"], None, true),
    rule!("slack-webhook", "Slack incoming webhook", Medium, r"(?P<secret>https://hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{20,})", ["hooks.slack.com"], None, true),
    rule!("stripe-key", "Stripe secret key", Critical, r"\b(?P<secret>(?:sk|rk)_live_[A-Za-z0-9]{24,99})\b", ["_live_"], Some(3.5), true),
    // Twilio keys have no distinctive prefix (SK + 32 hex): a "twilio" nearby is required.
    rule!("twilio-api-key", "Twilio API key", High, r"(?i)twilio[\s\S]{0,200}?\b(?P<secret>SK[0-9a-fA-F]{32})\b", ["twilio"], Some(3.2), true, multiline),
    rule!("sendgrid-key", "SendGrid API key", High, r"\b(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})\b", ["sg."], None, true),
    rule!("npm-token", "npm access token", Critical, r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b", ["npm_"], Some(3.5), true),
    rule!("npmrc-auth", "npm registry auth token", High, r"(?m)_authToken\s*=\s*(?P<secret>[A-Za-z0-9_\-.=]{20,})", ["_authtoken"], Some(3.5), true),
    rule!("pypi-token", "PyPI upload token", Critical, r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})", ["pypi-ageichlwas5vcmc"], None, true),
    rule!("private-key", "Private key", Critical, r"-----BEGIN (?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----\r?\n(?:[A-Za-z-]+: [^\n]*\r?\n)*\r?\n?(?P<secret>[A-Za-z0-9+/=]{40,})", ["private key"], None, true, multiline),
    rule!("jwt", "JSON Web Token", Medium, r"\b(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})", ["eyj"], Some(4.0), true),
    rule!("url-password", "Password in a connection URL", High, r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|ftp|sftp|ldaps?)://[^\s:@/'\x22]{1,64}:(?P<secret>[^\s@/'\x22]{4,128})@", ["postgres", "mysql://", "mariadb://", "mongodb", "redis", "amqp", "mssql://", "sqlserver://", "ftp://", "ldap"], Some(2.0), true),
    rule!("docker-config-auth", "Docker registry credentials", High, r#""auth"\s*:\s*"(?P<secret>[A-Za-z0-9+/]{16,}={0,2})""#, ["\"auth\""], Some(3.0), true),
    rule!("kubernetes-secret", "Kubernetes Secret with values", Medium, r"(?i)kind:\s*Secret\b[\s\S]{0,600}?\n\s*(?:data|stringData):\s*\n\s+[A-Za-z0-9_.-]+:\s*(?P<secret>\S{8,})", ["kind: secret"], Some(2.5), false, multiline),
    rule!("env-secret", "Secret in an environment assignment", High, r##"(?m)^\s*(?:export\s+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*\s*=\s*['"]?(?P<secret>[^\s'"#]{8,200})"##, ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "access_key"], Some(3.0), false,
        files [".env", ".env.*", "*.env", ".envrc", "*.sh", "*.bash", "*.zsh", "*.properties", "*.ini", "*.cfg", "*.conf", "*.list", "env", "environment"]),
    rule!("password-assignment", "Hardcoded password", High, r#"(?i)\b[a-z0-9_.-]{0,32}?(?:password|passwd|pwd|secret|api[_-]?key|auth[_-]?token|access[_-]?token|client[_-]?secret)\b["']?\s*(?::|=|:=|=>)\s*["'](?P<secret>[^"'\s]{8,200})["']"#, ["password", "passwd", "pwd", "secret", "api_key", "api-key", "apikey", "auth_token", "auth-token", "authtoken", "access_token", "access-token", "accesstoken"], Some(3.0), false),
];

/// Whether a value from a generic rule looks like a credential rather than code or prose: no spaces, not a
/// path, not an identifier or a constant's name, and at least two kinds of characters (lower, upper, digit,
/// symbol).
pub fn plausible_secret(s: &str) -> bool {
    if s.starts_with('/') || s.starts_with("./") || s.starts_with("~/") || s.contains(char::is_whitespace) {
        return false;
    }
    if looks_like_identifier(s) {
        return false;
    }
    let classes = [
        s.chars().any(|c| c.is_ascii_lowercase()),
        s.chars().any(|c| c.is_ascii_uppercase()),
        s.chars().any(|c| c.is_ascii_digit()),
        s.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|x| **x).count() >= 2
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A name in code rather than a random string: `snake_case`, `CONSTANT_CASE`, `camelCase`, `PascalCase`,
/// `dotted.names`, `V1SecretProjection` — every upper-case letter starts a word (is followed by a lower-case
/// letter, a digit, a separator or the end), and digits are few. Random strings break that rule quickly.
pub fn looks_like_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_alphanumeric() || b"_.-$".contains(c)) {
        return false;
    }
    if b.iter().filter(|c| c.is_ascii_digit()).count() > 2 || b[0].is_ascii_digit() {
        return false;
    }
    let all_upper = !b.iter().any(|c| c.is_ascii_lowercase());
    if all_upper {
        return true;
    }
    b.windows(2).all(|w| !(w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase()))
}

/// Values people write where a secret would go: placeholders, variables, examples.
pub fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "example",
        "changeme",
        "change_me",
        "placeholder",
        "your_",
        "your-",
        "<",
        "${",
        "{{",
        "$(",
        "xxxx",
        "****",
        "dummy",
        "redacted",
        "sample",
        "secret_here",
        "password_here",
        "notasecret",
        "insert",
        "replace",
        "todo",
        "fixme",
        "test123",
        "foobar",
        "process.env",
        "os.environ",
        "getenv",
        "env(",
        "vault:",
        "/run/secrets",
    ];
    // `$VAR`, `${VAR}`, `%VAR%` (Windows): a reference to a secret kept elsewhere.
    let windows_var = s.len() > 2
        && s.starts_with('%')
        && s.ends_with('%')
        && s[1..s.len() - 1].chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if WORDS.iter().any(|w| l.contains(w)) || s.starts_with('$') || windows_var {
        return true;
    }
    // One character repeated, a plain word, or a name in capitals as documentation writes where a secret goes
    // (`postgres://USER:PASSWORD@HOST/DB`, `SECRET_KEY`): letters and `_` only, no digit, and short or with a `_`
    // (an AWS access key id is 20 capitals, and one in thirty has no digit).
    let first = s.chars().next().unwrap_or(' ');
    let capitals = s.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    s.chars().all(|c| c == first)
        || (s.chars().all(|c| c.is_ascii_lowercase()) && s.len() < 16)
        || (capitals && (s.len() <= 12 || (s.contains('_') && s.len() < 32)))
}
