//! A token, its scope and what a request made with it may do. Pure.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::profile::Profile;

/// Every token starts so, which lets secret scanners and people recognise one.
const PREFIX: &str = "mcpp_";
/// Random bytes per token: a guess is hopeless, so the stored hash needs no salt.
const RANDOM_BYTES: usize = 32;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Tools, resources and prompts, and reading the server list and status.
    Read,
    /// Also `upstream_servers` changes (add, remove, enable, disable, restart), which run
    /// commands as the user.
    Admin,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Admin => "admin",
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(TokenScope::Read),
            "admin" => Ok(TokenScope::Admin),
            other => Err(format!("unknown scope {other:?}: expected read or admin")),
        }
    }
}

/// Who made a request, as the HTTP check found: attached to the request for the handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name; `None` when the config turned authentication off (`auth: none`).
    pub token: Option<String>,
    pub scope: TokenScope,
    /// What the token sees; `None`: everything.
    pub profile: Option<Arc<Profile>>,
}

impl Caller {
    /// A caller on a loopback listener with `auth: none`: the user chose to trust every local
    /// process, so it may do what the admin token may.
    pub fn unauthenticated() -> Caller {
        Caller {
            token: None,
            scope: TokenScope::Admin,
            profile: None,
        }
    }

    /// A caller of a route open without a token (`/healthz`, an open `/metrics`).
    pub fn anonymous() -> Caller {
        Caller {
            token: None,
            scope: TokenScope::Read,
            profile: None,
        }
    }

    /// Whether this caller may change the server list (and so run commands).
    pub fn may_change_servers(&self) -> bool {
        self.scope == TokenScope::Admin
    }

    /// The caller's profile, if it has one.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_deref()
    }

    /// The caller, as an error message names it.
    pub fn describe(&self) -> String {
        match (&self.token, &self.profile) {
            (Some(name), None) => format!("token {name:?} (scope {})", self.scope),
            (Some(name), Some(profile)) => {
                format!("token {name:?} (scope {}; {profile})", self.scope)
            }
            (None, _) => "an unauthenticated caller".to_string(),
        }
    }
}

/// A new token: the prefix and 32 random bytes, base64url.
pub fn generate() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("{PREFIX}{text}")
}

/// What the token file keeps of `token`: its SHA-256, in hex.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Token names: what the CLI lists and revokes by, and what errors show.
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(format!(
            "token name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_prefixed_and_long() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX), "{a}");
        assert_eq!(a.len(), PREFIX.len() + 43, "{a}");
        assert!(
            a[PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn scopes_and_names() {
        assert_eq!("read".parse(), Ok(TokenScope::Read));
        assert_eq!("admin".parse(), Ok(TokenScope::Admin));
        assert!(
            "root"
                .parse::<TokenScope>()
                .unwrap_err()
                .contains("read or admin")
        );
        assert!(valid_name("ci-bot.1_x").is_ok());
        for bad in ["", "a b", "x/y", &"n".repeat(65)] {
            assert!(valid_name(bad).is_err(), "{bad}");
        }
        assert!(Caller::unauthenticated().may_change_servers());
        let read = Caller {
            token: Some("ci".into()),
            scope: TokenScope::Read,
            profile: None,
        };
        assert!(!read.may_change_servers());
        assert_eq!(read.describe(), "token \"ci\" (scope read)");
    }
}
