//! Bearer tokens with roles. The server keeps only each token's SHA-256, so the token file reveals no token.
//!
//! ```yaml
//! # kestrel server --tokens tokens.yaml
//! tokens:
//!   - name: node-1        # an agent may write only as the node it is named for
//!     role: agent
//!     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!   - name: gitlab-ci
//!     role: ci
//!     sha256: …
//! ```
//! `kestrel server token --role agent --name node-1` prints a new token and its line.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Read, and send scan reports (a CI job).
    Ci,
    /// Send alerts, decisions, profiles and heartbeats as its node, and read profiles (federated merging).
    Agent,
    /// Everything, approvals included.
    Admin,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (an agent's node).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// One configured token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds it (an agent's node name).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub sha256: String,
}

/// The token file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// The tokens.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
}

/// The tokens the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_digest: Vec<([u8; 32], Principal)>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares without an early exit (the time taken tells nothing of where two digests differ).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// From a token file's text; `what` names it in errors.
    pub fn parse(what: &str, text: &str) -> Result<Tokens, String> {
        let file: TokenFile = serde_yaml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        let mut t = Tokens::default();
        for e in file.tokens {
            let bytes = hex::decode(e.sha256.trim()).ok().filter(|b| b.len() == 32).ok_or_else(|| {
                format!("{what}: token {:?}: sha256 must be 64 hex digits (the SHA-256 of the token)", e.name)
            })?;
            let mut d = [0u8; 32];
            d.copy_from_slice(&bytes);
            t.by_digest.push((d, Principal { name: e.name, role: e.role }));
        }
        Ok(t)
    }

    /// Adds a token given in clear (the `--token`/`KESTREL_SERVER_TOKEN` admin token).
    pub fn add(&mut self, token: &str, name: &str, role: Role) {
        self.by_digest.push((digest(token), Principal { name: name.into(), role }));
    }

    /// How many tokens.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Who holds `token`, if anyone.
    pub fn check(&self, token: &str) -> Option<Principal> {
        let d = digest(token);
        let mut found = None;
        for (k, p) in &self.by_digest {
            if same(k, &d) && found.is_none() {
                found = Some(p.clone());
            }
        }
        found
    }
}

/// A new random token (32 bytes from the OS, hex) and its token-file entry.
pub fn new_token(name: &str, role: Role) -> Result<(String, TokenEntry), String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the OS: {e}"))?;
    let token = format!("kst_{}", hex::encode(bytes));
    let entry = TokenEntry { name: name.into(), role, sha256: hex::encode(digest(&token)) };
    Ok((token, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_by_digest_and_bad_files_are_named() {
        let (token, entry) = new_token("node-1", Role::Agent).unwrap();
        assert!(token.starts_with("kst_") && token.len() == 68);
        let text = serde_yaml::to_string(&TokenFile { tokens: vec![entry] }).unwrap();
        assert!(!text.contains(&token[4..]), "the file holds no token");
        let mut t = Tokens::parse("tokens.yaml", &text).unwrap();
        assert_eq!(t.check(&token), Some(Principal { name: "node-1".into(), role: Role::Agent }));
        assert_eq!(t.check("kst_wrong"), None);
        t.add("s3cret", "admin", Role::Admin);
        assert_eq!(t.check("s3cret").map(|p| p.role), Some(Role::Admin));
        let e = Tokens::parse("tokens.yaml", "tokens:\n  - {name: x, role: agent, sha256: abc}\n").unwrap_err();
        assert!(e.contains("tokens.yaml") && e.contains("64 hex digits"), "{e}");
        let e = Tokens::parse("tokens.yaml", "tokens:\n  - {name: x, role: root, sha256: abc}\n").unwrap_err();
        assert!(e.contains("tokens.yaml") && e.contains("root"), "{e}");
    }
}
