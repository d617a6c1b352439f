//! A hardcoded credential found in a file or an image layer (kestrel-secrets finds them; image reports and
//! compliance carry them).

use crate::{ConfigFinding, ControlRef, Severity};

/// One secret found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SecretFinding {
    /// The rule (`github-token`).
    pub rule: String,
    /// What it is.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// The file (and, in an image, the layer).
    pub file: String,
    /// The image layer that holds the file, when scanning an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Line (1-based).
    pub line: usize,
    /// The secret, redacted: its first characters and its length.
    pub redacted: String,
    /// SHA-256 of the secret (hex, first 16 characters): allowlist by it without writing the secret down.
    pub fingerprint: String,
    /// Shannon entropy of the secret (bits per character).
    pub entropy: f64,
    /// Whether the rule's format is specific (a provider's token) rather than a guess (a generic assignment).
    pub specific: bool,
    /// How likely a real secret: 1 for a specific rule; for a generic rule, the false-positive model's
    /// probability (kept only at or above its threshold).
    pub confidence: f64,
}

impl SecretFinding {
    /// As a configuration finding (same writers, SARIF, compliance).
    pub fn to_finding(&self) -> ConfigFinding {
        ConfigFinding {
            id: format!("secret:{}", self.rule),
            title: self.title.clone(),
            severity: self.severity,
            file: self.file.clone(),
            resource: self.layer.clone().map(|l| format!("layer {l}")).unwrap_or_default(),
            line: Some(self.line),
            field: format!("fingerprint {}", self.fingerprint),
            message: format!("{} {}", self.title, self.redacted),
            fix: SECRET_FIX.into(),
            controls: secret_controls(),
        }
    }
}

/// How to fix a hardcoded credential (every rule).
pub const SECRET_FIX: &str =
    "revoke the credential, then remove it from the file (and from every image layer and history that has it)";

/// The compliance controls a hardcoded credential fails: NIST SP 800-190 4.1.4 (embedded clear text secrets),
/// CIS Docker 1.6 4.10 (secrets not stored in images), PCI DSS 4.0 8.6.2 (passwords not hard coded in files).
pub fn secret_controls() -> Vec<ControlRef> {
    let r = |s: &str, c: &str| ControlRef { standard: s.into(), control: c.into() };
    vec![r("nist-800-190", "4.1.4"), r("cis-docker-1.6", "4.10"), r("pci-dss-4.0", "8.6.2")]
}
