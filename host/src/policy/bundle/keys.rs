//! Minisign keys: trusted public keys (a key file's text or its bare base64 line), secret keys
//! for signing (unencrypted, or encrypted with a password that is passed in, never prompted
//! for), key ids as minisign prints them, and key-pair generation.

use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

use super::error::BundleError;

/// A key id the way minisign prints it: 16 upper-case hex digits of the little-endian key number.
pub fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    for (dst, src) in bytes.iter_mut().zip(keynum) {
        *dst = *src;
    }
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// A public key whose signatures are trusted.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    id: String,
    key: PublicKey,
}

impl TrustedKey {
    /// Parse a minisign public key: the whole `.pub` file text, or just its base64 line.
    /// `origin` names where it came from, for errors.
    pub fn parse(text: &str, origin: &str) -> Result<TrustedKey, BundleError> {
        let key_err = |reason: String| BundleError::Key {
            path: origin.to_string(),
            reason,
        };
        let trimmed = text.trim();
        let key = if trimmed.lines().count() > 1 {
            PublicKeyBox::from_string(trimmed)
                .and_then(PublicKeyBox::into_public_key)
                .map_err(|e| key_err(format!("not a minisign public key: {e}")))?
        } else {
            PublicKey::from_base64(trimmed)
                .map_err(|e| key_err(format!("not a minisign public key: {e}")))?
        };
        Ok(TrustedKey {
            id: key_id(key.keynum()),
            key,
        })
    }

    pub fn from_file(path: &Path) -> Result<TrustedKey, BundleError> {
        let text = std::fs::read_to_string(path).map_err(|e| BundleError::io(path, e))?;
        TrustedKey::parse(&text, &path.display().to_string())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The bare base64 form (what a pin file lists).
    pub fn to_base64(&self) -> String {
        self.key.to_base64()
    }
}

/// A secret key ready to sign.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    secret: SecretKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parse a minisign secret key file's text. An encrypted key needs `password`; an
    /// unencrypted one (`minisign -G -W`, or ours) ignores it.
    pub fn parse(
        text: &str,
        password: Option<String>,
        origin: &str,
    ) -> Result<SigningKey, BundleError> {
        let key_err = |reason: String| BundleError::Key {
            path: origin.to_string(),
            reason,
        };
        let boxed = |t: &str| {
            SecretKeyBox::from_string(t)
                .map_err(|e| key_err(format!("not a minisign secret key: {e}")))
        };
        let secret = match SecretKey::from_unencrypted_box(boxed(text)?) {
            Ok(secret) => secret,
            Err(_) if let Some(secret) = cli_passwordless_key(text) => secret,
            Err(unencrypted_err) => match password {
                Some(password) => SecretKey::from_box(boxed(text)?, Some(password))
                    .map_err(|e| key_err(format!("cannot decrypt: {e}")))?,
                None => {
                    return Err(key_err(format!(
                        "cannot use this secret key without a password ({unencrypted_err}); \
                         set MCPPROXY_KEY_PASSWORD for an encrypted key"
                    )));
                }
            },
        };
        let public = PublicKey::from_secret_key(&secret).map_err(|e| key_err(e.to_string()))?;
        Ok(SigningKey {
            id: key_id(secret.keynum()),
            secret,
            public,
        })
    }

    pub fn from_file(path: &Path, password: Option<String>) -> Result<SigningKey, BundleError> {
        let text = std::fs::read_to_string(path).map_err(|e| BundleError::io(path, e))?;
        SigningKey::parse(&text, password, &path.display().to_string())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }

    pub(crate) fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The matching public key, as a trusted key.
    pub fn trusted(&self) -> TrustedKey {
        TrustedKey {
            id: self.id.clone(),
            key: self.public.clone(),
        }
    }
}

/// Byte layout of a minisign secret key: sig_alg 2, kdf_alg 2, chk_alg 2, salt 32, opslimit 8,
/// memlimit 8, keynum 8, secret key 64, checksum 32.
const SECRET_KEY_LEN: usize = 158;
const CHECKSUM_AT: usize = 126;

/// The C `minisign` 0.11 writes passwordless (`-G -W`) secret keys with an all-zero checksum,
/// which the minisign crate rejects as corrupted. Accept such a key only if it is unencrypted
/// and a signature made with it verifies with its own public key.
fn cli_passwordless_key(text: &str) -> Option<SecretKey> {
    let bytes = STANDARD.decode(text.lines().nth(1)?.trim()).ok()?;
    if bytes.len() != SECRET_KEY_LEN
        || bytes[2..4] != [0, 0]
        || bytes[CHECKSUM_AT..].iter().any(|b| *b != 0)
    {
        return None;
    }
    let secret = SecretKey::from_bytes(&bytes).ok()?;
    let public = PublicKey::from_secret_key(&secret).ok()?;
    let probe = b"mcpproxy secret key self-check";
    let signature = minisign::sign(Some(&public), &secret, Cursor::new(probe), None, None).ok()?;
    minisign::verify(&public, &signature, Cursor::new(probe), true, false, false).ok()?;
    Some(secret)
}

/// A fresh key pair, as the texts of minisign key files.
#[derive(Clone)]
pub struct GeneratedKeys {
    pub key_id: String,
    /// The `.pub` file text (`untrusted comment: ...` + base64 line).
    pub public_key: String,
    /// The `.key` file text, unencrypted (like `minisign -G -W`): protect it with file modes.
    pub secret_key: String,
}

/// Generate an unencrypted minisign key pair.
pub fn keygen() -> Result<GeneratedKeys, BundleError> {
    let key_err = |reason: String| BundleError::Key {
        path: "<new key>".into(),
        reason,
    };
    let pair = KeyPair::generate_unencrypted_keypair().map_err(|e| key_err(e.to_string()))?;
    let id = key_id(pair.pk.keynum());
    let public_key = pair
        .pk
        .to_box()
        .map_err(|e| key_err(e.to_string()))?
        .into_string();
    let secret_key = pair
        .sk
        .to_box(Some(&format!("mcpproxy policy bundle secret key {id}")))
        .map_err(|e| key_err(e.to_string()))?
        .into_string();
    Ok(GeneratedKeys {
        key_id: id,
        public_key,
        secret_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_with_the_same_id() {
        let keys = keygen().unwrap();
        let public = TrustedKey::parse(&keys.public_key, "pub").unwrap();
        let secret = SigningKey::parse(&keys.secret_key, None, "key").unwrap();
        assert_eq!(public.id(), keys.key_id);
        assert_eq!(secret.id(), keys.key_id);
        assert!(
            keys.public_key.contains(&keys.key_id),
            "minisign names the id in the comment"
        );
        // The bare base64 line parses to the same key.
        let bare = TrustedKey::parse(&public.to_base64(), "bare").unwrap();
        assert_eq!(bare.id(), public.id());
    }

    #[test]
    fn key_id_is_little_endian_hex() {
        assert_eq!(key_id(&[0x01, 0, 0, 0, 0, 0, 0, 0xAB]), "AB00000000000001");
    }

    #[test]
    fn garbage_keys_are_refused_naming_their_origin() {
        let err = TrustedKey::parse("not a key", "/etc/pin.json#trusted_keys[0]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/pin.json#trusted_keys[0]"), "{err}");
        let err = SigningKey::parse("untrusted comment: x\nAAAA\n", None, "k.key")
            .unwrap_err()
            .to_string();
        assert!(err.contains("k.key"), "{err}");
    }
}
