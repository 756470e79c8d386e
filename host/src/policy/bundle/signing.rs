//! Detached minisign signatures over the exact manifest bytes (`manifest.json.minisig`), in the
//! format of the stock `minisign` tool (prehashed Ed25519, trusted comment signed too), so
//! either side can sign and either side can verify. The crypto is the `minisign` crate's.

use std::io::Cursor;

use minisign::SignatureBox;

use super::error::BundleError;
use super::keys::{SigningKey, TrustedKey, key_id};

/// Sign `manifest` (its exact bytes) and return the `.minisig` file text.
/// `trusted_comment` is signed along (minisign shows it on verification).
pub fn sign_manifest(
    manifest: &[u8],
    key: &SigningKey,
    trusted_comment: &str,
) -> Result<String, BundleError> {
    let signature = minisign::sign(
        Some(key.public()),
        key.secret(),
        Cursor::new(manifest),
        Some(trusted_comment),
        Some(&format!(
            "signature from mcpproxy policy bundle key {}",
            key.id()
        )),
    )
    .map_err(|e| BundleError::Signature(format!("signing with key {} failed: {e}", key.id())))?;
    Ok(signature.into_string())
}

/// What a good signature tells: who signed, and the signed trusted comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInfo {
    pub key_id: String,
    pub trusted_comment: String,
}

/// The signer's key id and trusted comment as the signature claims them (NOT verified): for
/// `describe` only.
pub fn read_signature(signature_text: &str) -> Result<SignatureInfo, BundleError> {
    let sig = SignatureBox::from_string(signature_text)
        .map_err(|e| BundleError::Signature(e.to_string()))?;
    Ok(SignatureInfo {
        key_id: key_id(sig.keynum()),
        trusted_comment: sig.trusted_comment().unwrap_or_default(),
    })
}

/// Verify the signature over the exact `manifest` bytes by one of the `trusted` keys.
pub fn verify_manifest_signature(
    manifest: &[u8],
    signature_text: &str,
    trusted: &[TrustedKey],
) -> Result<SignatureInfo, BundleError> {
    let sig = SignatureBox::from_string(signature_text)
        .map_err(|e| BundleError::Signature(e.to_string()))?;
    let signer = key_id(sig.keynum());
    let Some(key) = trusted.iter().find(|k| k.id() == signer) else {
        let ids: Vec<&str> = trusted.iter().map(TrustedKey::id).collect();
        return Err(BundleError::UntrustedKey {
            signer,
            trusted: if ids.is_empty() {
                "none".into()
            } else {
                ids.join(", ")
            },
        });
    };
    // Legacy (non-prehashed) signatures are refused, as minisign itself does by default.
    minisign::verify(
        key.public_key(),
        &sig,
        Cursor::new(manifest),
        true,
        false,
        false,
    )
    .map_err(|e| BundleError::BadSignature {
        key_id: signer.clone(),
        reason: e.to_string(),
    })?;
    Ok(SignatureInfo {
        key_id: signer,
        trusted_comment: sig.trusted_comment().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::bundle::keys::keygen;

    fn key() -> SigningKey {
        SigningKey::parse(&keygen().unwrap().secret_key, None, "test").unwrap()
    }

    #[test]
    fn sign_then_verify_reports_the_key_and_comment() {
        let k = key();
        let sig = sign_manifest(b"{\"a\":1}", &k, "bundle:x revision:1").unwrap();
        let info = verify_manifest_signature(b"{\"a\":1}", &sig, &[k.trusted()]).unwrap();
        assert_eq!(info.key_id, k.id());
        assert_eq!(info.trusted_comment, "bundle:x revision:1");
        assert_eq!(read_signature(&sig).unwrap(), info);
    }

    #[test]
    fn one_changed_byte_fails() {
        let k = key();
        let sig = sign_manifest(b"{\"a\":1}", &k, "c").unwrap();
        let err = verify_manifest_signature(b"{\"a\":2}", &sig, &[k.trusted()]).unwrap_err();
        assert!(matches!(err, BundleError::BadSignature { .. }), "{err}");
    }

    #[test]
    fn an_untrusted_signer_is_named() {
        let (signer, other) = (key(), key());
        let sig = sign_manifest(b"m", &signer, "c").unwrap();
        let err = verify_manifest_signature(b"m", &sig, &[other.trusted()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(signer.id()) && err.contains(other.id()),
            "{err}"
        );
    }

    #[test]
    fn a_garbled_signature_file_is_an_error_not_a_panic() {
        let k = key();
        let err = verify_manifest_signature(b"m", "untrusted comment: x\n!!!\n", &[k.trusted()])
            .unwrap_err();
        assert!(matches!(err, BundleError::Signature(_)), "{err}");
    }
}
