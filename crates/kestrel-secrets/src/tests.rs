use super::*;

/// Test secrets are assembled at run time: nothing secret-shaped is committed.
fn tok(prefix: &str, body: &str) -> String {
    format!("{prefix}{body}")
}

const B36: &str = "Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5";

fn rules_of(text: &str) -> Vec<(String, usize)> {
    Scanner::new().scan_bytes("t", text.as_bytes()).into_iter().map(|f| (f.rule, f.line)).collect()
}

#[test]
fn every_rule_compiles() {
    for r in rules::RULES {
        assert!(Regex::new(r.pattern).is_ok(), "{}", r.id);
        assert!(!r.keywords.is_empty(), "{}", r.id);
    }
    assert_eq!(Scanner::new().rules.len(), rules::RULES.len());
}

#[test]
fn each_provider_is_found_on_its_line_and_redacted() {
    let aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9a8b7C6d";
    let cases: Vec<(String, &str)> = vec![
        (format!("key = {}\n", tok("AKIA", "Z7Q4M2XK9WPLR3TV")), "aws-access-key-id"),
        (format!("aws_secret_access_key = {aws_secret}\n"), "aws-secret-access-key"),
        (
            format!("\"private_key_id\": \"{}\",\n", "3f5a9c1e7b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a"),
            "gcp-service-account-key",
        ),
        (format!("maps_key: {}\n", tok("AIza", "SyD4x9Kq2Lm7Np3Rs8Tu1Vw6Xy0Za5Bc3De")), "gcp-api-key"),
        (format!("token: {}\n", tok("ghp_", B36)), "github-token"),
        (format!("GITLAB={}\n", tok("glpat-", "x7Kq2Lm9Np4Rs8Tu1Vw6")), "gitlab-token"),
        (
            format!("slack = \"{}\"\n", tok("xoxb-", "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx")),
            "slack-token",
        ),
        (format!("stripe.api_key = \"{}\"\n", tok("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc9xYz")), "stripe-key"),
        (
            format!("SENDGRID={}\n", tok("SG.", "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr")),
            "sendgrid-key",
        ),
        (format!("//registry.npmjs.org/:_authToken={}\n", tok("npm_", B36)), "npm-token"),
        (
            format!("-----BEGIN {}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n", "RSA "),
            "private-key",
        ),
        (
            format!(
                "Authorization: Bearer {}\n",
                tok("eyJ", "hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
            ),
            "jwt",
        ),
        ("DATABASE_URL=postgres://app:Zx9-kQ2vLr7w@db.internal:5432/app\n".to_string(), "url-password"),
        (
            format!(
                "{{\"auths\": {{\"registry.example.com\": {{\"auth\": \"{}\"}}}}}}\n",
                "dXNlcjpTM2NyM3QtUGFzc3dvcmQtOTk="
            ),
            "docker-config-auth",
        ),
        ("export DB_PASSWORD=Qm9xT7vL2pK8wZ3r\n".to_string(), "env-secret"),
        ("config = {\"password\": \"Tr0ub4dor&3xK9q\"}\n".to_string(), "password-assignment"),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: cGFzc3dvcmQxMjM0NQ==\n".to_string(),
            "kubernetes-secret",
        ),
    ];
    for (text, rule) in &cases {
        let text = format!("# a config file\n{text}");
        let found = Scanner::new().scan_bytes("deploy/app.env", text.as_bytes());
        let hit =
            found.iter().find(|f| f.rule == *rule).unwrap_or_else(|| panic!("{rule} not found in {text:?}: {found:?}"));
        assert!(hit.line >= 2, "{rule}: line {}", hit.line);
        // The secret itself never appears in what is reported.
        let reported = serde_json::to_string(hit).unwrap();
        for word in text.split(|c: char| c.is_whitespace() || "\"'=:,{}".contains(c)).filter(|w| w.len() >= 16) {
            assert!(!reported.contains(word), "{rule}: {word} leaked in {reported}");
        }
    }
}

#[test]
fn placeholders_examples_and_prose_are_not_secrets() {
    let text = "\
# Set your token in the environment; the password must be at least 12 characters.
password = \"changeme\"
DB_PASSWORD=${DB_PASSWORD}
api_key: \"<your api key here>\"
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
token = \"xxxxxxxxxxxxxxxxxxxx\"
secret = os.environ[\"SECRET\"]
postgres://user:password@localhost/db
PASSWORD_FILE=/run/secrets/db_password
Connect with `postgres://USER:PASSWORD@HOST:PORT/DB` or amqp://guest:SECRET_KEY@rabbit:5672/.
";
    assert_eq!(rules_of(text), Vec::<(String, usize)>::new());
}

#[test]
fn a_capitalised_value_with_a_digit_or_a_lower_case_letter_is_still_a_secret() {
    // Only a value shaped like an environment variable's name (capitals and `_`, nothing else) is a placeholder.
    for text in ["postgres://app:HUNTER2XQ@db:5432/app\n", "postgres://app:Hunter2Xq@db:5432/app\n"] {
        assert_eq!(rules_of(text), [("url-password".to_string(), 1)], "{text}");
    }
    // An AWS access key id without a digit (base32: one in thirty has none) is a key, not a name in capitals.
    assert_eq!(rules_of("aws_access_key_id = AKIAQWERTYUIOPASDFGH\n"), [("aws-access-key-id".to_string(), 1)]);
}

#[test]
fn a_key_header_without_key_material_is_code_not_a_key() {
    assert!(rules_of("let header = \"-----BEGIN PRIVATE KEY-----\";\n").is_empty());
    let pgp = format!(
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{}\n",
        "lQOYBF".to_string() + &"x9".repeat(30)
    );
    assert_eq!(rules_of(&pgp), [("private-key".to_string(), 1)]);
}

#[test]
fn generic_hits_of_a_provider_token_are_reported_once() {
    let text = format!("GITHUB_TOKEN={}\n", tok("ghp_", B36));
    assert_eq!(rules_of(&text), [("github-token".to_string(), 1)]);
}

#[test]
fn a_tree_is_scanned_in_parallel_and_binaries_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app/.git")).unwrap();
    std::fs::write(d.join("app/.env"), format!("STRIPE={}\n", tok("sk_live_", "4eC39HqLyjWDarjtT1zdp7dc9xYz")))
        .unwrap();
    std::fs::write(d.join("app/.git/config"), format!("token = {}\n", tok("ghp_", B36))).unwrap();
    let mut bin = vec![0u8; 100];
    bin.extend_from_slice(tok("ghp_", B36).as_bytes());
    std::fs::write(d.join("app/tool.bin"), bin).unwrap();
    std::fs::write(d.join("app/empty"), b"").unwrap();
    std::fs::write(d.join("app/latin1.conf"), b"caf\xe9 password = \"Qm9xT7vL2pK8wZ3r\"\n").unwrap();
    // A text over the size limit (a page of text, then sparse: no disk used) is skipped and named, not silently
    // passed over; a binary over it (a build's output) is skipped as binaries are, without a word.
    std::fs::write(d.join("app/huge.log"), "GET / 200\n".repeat(1000)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(d.join("app/huge.log"))
        .unwrap()
        .set_len(crate::MAX_FILE_BYTES + 1)
        .unwrap();
    std::fs::File::create(d.join("app/huge.so")).unwrap().set_len(crate::MAX_FILE_BYTES + 1).unwrap();
    let s = scan_path(&Scanner::new(), d);
    assert_eq!(s.files, 6, ".git is not walked");
    assert_eq!(s.skipped, 3, "the binaries and the huge text");
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert!(s.errors[0].0.ends_with("huge.log") && s.errors[0].1.contains("not scanned for secrets"), "{:?}", s.errors);
    let rules: Vec<&str> = s.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["stripe-key", "password-assignment"], "{:?}", s.findings);
    assert!(s.findings[1].file.ends_with("latin1.conf"), "a stray byte elsewhere does not hide a secret");
}

#[test]
fn identifiers_and_code_are_not_passwords_but_random_letters_are() {
    for id in ["BasicAuthEncoding", "V1SecretProjection", "CONSTANT_NAME", "snake_case_name", "dotted.module.name"] {
        assert!(rules::looks_like_identifier(id), "{id}");
        assert!(!rules::plausible_secret(id), "{id}");
    }
    for random in ["rzsCShCOEUZlWH", "Qm9xT7vL2pK8wZ3r", "2kjshdfp92i34asd"] {
        assert!(rules::plausible_secret(random), "{random}");
    }
    assert_eq!(
        rules_of("cfg = {'secret': 'V1SecretProjection', 'password': '$artifactSecret'}\n"),
        Vec::<(String, usize)>::new()
    );
    // A constant in code named like a token is not an .env assignment.
    let code = "_GENERATE_TOKEN_RESPONSE = _descriptor.Descriptor(name='x')\n";
    assert!(Scanner::new().scan_bytes("pb2.py", code.as_bytes()).is_empty());
    assert_eq!(Scanner::new().scan_bytes(".env", b"API_TOKEN=Zq8wXk2LmP9rT4vN\n")[0].rule, "env-secret");
}

#[test]
fn allowlists_and_the_inline_marker() {
    let text = format!(
        "a = {}\nb = {}  # kestrel:allow (a revoked test token)\n",
        tok("ghp_", B36),
        tok("glpat-", "x7Kq2Lm9Np4Rs8Tu1Vw6")
    );
    let found = Scanner::new().scan_bytes("tests/fixtures/tokens.txt", text.as_bytes());
    assert_eq!(
        found.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
        ["github-token"],
        "the marked line is skipped"
    );
    let by_print = Allowlist { fingerprints: vec![found[0].fingerprint.clone()], ..Default::default() };
    assert!(by_print.allows(&found[0]));
    let by_path = Allowlist { paths: vec!["tests/fixtures/*".into()], ..Default::default() };
    assert!(by_path.allows(&found[0]));
    let other = Allowlist { paths: vec!["docs/*".into()], rules: vec!["jwt".into()], ..Default::default() };
    assert!(!other.allows(&found[0]));
}

#[test]
fn a_key_has_one_fingerprint_wherever_it_is() {
    let key = format!("-----BEGIN {}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n", "RSA ");
    let a = Scanner::new().scan_bytes("a.pem", key.as_bytes());
    let b = Scanner::new()
        .scan_bytes("b.txt", format!("# the deploy key\npassword_hint: none\n{key}more text\n").as_bytes());
    let fp = |v: &[SecretFinding]| v.iter().find(|f| f.rule == "private-key").unwrap().fingerprint.clone();
    assert_eq!(fp(&a), fp(&b));
}
