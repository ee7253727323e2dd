//! `x-ghl-signature` (Ed25519) and legacy `x-wh-signature` (RSA-SHA256, PKCS#1 v1.5).

use aws_lc_rs::signature::{ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

/// Header carrying the Ed25519 signature.
pub const GHL_SIGNATURE_HEADER: &str = "x-ghl-signature";
/// Header carrying the legacy RSA signature (deprecated by GHL on 2026-07-01).
pub const WH_SIGNATURE_HEADER: &str = "x-wh-signature";

/// GHL's published Ed25519 webhook key (Webhook Integration Guide).
pub const GHL_ED25519_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// GHL's published RSA-4096 webhook key (docs/oauth/WebhookAuthentication.md).
pub const GHL_RSA_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// Which signature verified a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureScheme {
    /// `x-ghl-signature`, Ed25519.
    Ed25519,
    /// `x-wh-signature`, RSA-SHA256.
    RsaSha256,
}

impl SignatureScheme {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::RsaSha256 => "rsa-sha256",
        }
    }
}

/// Why a webhook did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Neither signature header was present.
    #[error("no x-ghl-signature or x-wh-signature header")]
    MissingSignature,
    /// The header was not base64.
    #[error("{0} is not valid base64")]
    MalformedSignature(&'static str),
    /// The signature does not match the body under any configured key.
    #[error("{} signature does not match the body", .0.as_str())]
    BadSignature(SignatureScheme),
    /// A configured public key could not be read.
    #[error("invalid public key: {0}")]
    InvalidKey(String),
}

/// Verifies GHL webhook signatures against a set of public keys.
///
/// Several keys per scheme are accepted so that a key rotation can overlap.
#[derive(Clone, Debug)]
pub struct WebhookVerifier {
    ed25519: Vec<Vec<u8>>,
    rsa: Vec<Vec<u8>>,
}

impl Default for WebhookVerifier {
    fn default() -> Self {
        Self::ghl()
    }
}

impl WebhookVerifier {
    /// A verifier with GHL's published keys.
    pub fn ghl() -> Self {
        Self::from_pems(&[GHL_ED25519_PUBLIC_KEY_PEM], &[GHL_RSA_PUBLIC_KEY_PEM])
            .expect("GHL's published keys are valid SPKI PEM")
    }

    /// A verifier with other keys (SPKI PEM, `-----BEGIN PUBLIC KEY-----`).
    pub fn from_pems(ed25519: &[&str], rsa: &[&str]) -> Result<Self, VerifyError> {
        let der = |pem: &&str| {
            SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
                .map(|d| d.as_ref().to_vec())
                .map_err(|e| VerifyError::InvalidKey(e.to_string()))
        };
        Ok(Self {
            ed25519: ed25519.iter().map(der).collect::<Result<_, _>>()?,
            rsa: rsa.iter().map(der).collect::<Result<_, _>>()?,
        })
    }

    /// A verifier with keys given as SPKI DER bytes.
    pub fn from_spki_der(ed25519: Vec<Vec<u8>>, rsa: Vec<Vec<u8>>) -> Self {
        Self { ed25519, rsa }
    }

    /// Checks `body` (the raw request bytes) against the signature headers.
    ///
    /// `x-ghl-signature` is preferred. When it is present and wrong the webhook is rejected
    /// even if `x-wh-signature` would verify, so a forged Ed25519 header cannot be bypassed
    /// by adding an old RSA signature.
    pub fn verify(
        &self,
        body: &[u8],
        ghl_signature: Option<&str>,
        wh_signature: Option<&str>,
    ) -> Result<SignatureScheme, VerifyError> {
        if let Some(sig) = ghl_signature.filter(|s| !s.trim().is_empty()) {
            let sig = decode(sig, GHL_SIGNATURE_HEADER)?;
            return check(
                &ED25519,
                &self.ed25519,
                body,
                &sig,
                SignatureScheme::Ed25519,
            );
        }
        if let Some(sig) = wh_signature.filter(|s| !s.trim().is_empty()) {
            let sig = decode(sig, WH_SIGNATURE_HEADER)?;
            return check(
                &RSA_PKCS1_2048_8192_SHA256,
                &self.rsa,
                body,
                &sig,
                SignatureScheme::RsaSha256,
            );
        }
        Err(VerifyError::MissingSignature)
    }
}

fn decode(value: &str, header: &'static str) -> Result<Vec<u8>, VerifyError> {
    STANDARD
        .decode(value.trim())
        .map_err(|_| VerifyError::MalformedSignature(header))
}

fn check(
    alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm,
    keys: &[Vec<u8>],
    body: &[u8],
    sig: &[u8],
    scheme: SignatureScheme,
) -> Result<SignatureScheme, VerifyError> {
    keys.iter()
        .any(|key| UnparsedPublicKey::new(alg, key).verify(body, sig).is_ok())
        .then_some(scheme)
        .ok_or(VerifyError::BadSignature(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256};

    struct Keys {
        ed: Ed25519KeyPair,
        rsa: signature::RsaKeyPair,
        verifier: WebhookVerifier,
    }

    fn keys() -> Keys {
        let ed = Ed25519KeyPair::generate().unwrap();
        let rsa = signature::RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ed_der = ed.public_key().as_der().unwrap().as_ref().to_vec();
        let rsa_der = AsDer::<PublicKeyX509Der>::as_der(rsa.public_key())
            .unwrap()
            .as_ref()
            .to_vec();
        let verifier = WebhookVerifier::from_spki_der(vec![ed_der], vec![rsa_der]);
        Keys { ed, rsa, verifier }
    }

    fn sign_rsa(key: &signature::RsaKeyPair, body: &[u8]) -> String {
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig)
            .unwrap();
        STANDARD.encode(sig)
    }

    const BODY: &[u8] = br#"{"type":"ContactCreate","locationId":"loc","id":"c1","webhookId":"w1","timestamp":"2026-11-21T10:00:00.000Z"}"#;

    #[test]
    fn ed25519_signature_verifies_and_a_changed_byte_fails() {
        let k = keys();
        let sig = STANDARD.encode(k.ed.sign(BODY).as_ref());
        assert_eq!(
            k.verifier.verify(BODY, Some(&sig), None),
            Ok(SignatureScheme::Ed25519)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            k.verifier.verify(&tampered, Some(&sig), None),
            Err(VerifyError::BadSignature(SignatureScheme::Ed25519))
        );
    }

    #[test]
    fn rsa_signature_verifies_and_a_changed_byte_fails() {
        let k = keys();
        let sig = sign_rsa(&k.rsa, BODY);
        assert_eq!(
            k.verifier.verify(BODY, None, Some(&sig)),
            Ok(SignatureScheme::RsaSha256)
        );
        let mut tampered = BODY.to_vec();
        *tampered.last_mut().unwrap() = b' ';
        assert_eq!(
            k.verifier.verify(&tampered, None, Some(&sig)),
            Err(VerifyError::BadSignature(SignatureScheme::RsaSha256))
        );
    }

    #[test]
    fn a_bad_ed25519_header_is_not_rescued_by_a_good_rsa_one() {
        let k = keys();
        let rsa = sign_rsa(&k.rsa, BODY);
        let wrong_ed = STANDARD.encode(k.ed.sign(b"other").as_ref());
        assert!(
            k.verifier
                .verify(BODY, Some(&wrong_ed), Some(&rsa))
                .is_err()
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let k = keys();
        assert_eq!(
            k.verifier.verify(BODY, None, None),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            k.verifier.verify(BODY, Some("%%%"), None),
            Err(VerifyError::MalformedSignature(GHL_SIGNATURE_HEADER))
        );
    }

    #[test]
    fn ghls_published_keys_parse_and_reject_foreign_signatures() {
        let v = WebhookVerifier::ghl();
        assert_eq!(v.ed25519.len(), 1);
        assert_eq!(v.rsa.len(), 1);
        let k = keys();
        let sig = STANDARD.encode(k.ed.sign(BODY).as_ref());
        assert!(v.verify(BODY, Some(&sig), None).is_err());
        let sig = sign_rsa(&k.rsa, BODY);
        assert!(v.verify(BODY, None, Some(&sig)).is_err());
    }

    #[test]
    fn rotation_accepts_any_configured_key() {
        let old = keys();
        let new = keys();
        let v = WebhookVerifier::from_spki_der(
            [&old, &new]
                .iter()
                .map(|k| k.verifier.ed25519[0].clone())
                .collect(),
            vec![],
        );
        for k in [&old, &new] {
            let sig = STANDARD.encode(k.ed.sign(BODY).as_ref());
            assert!(v.verify(BODY, Some(&sig), None).is_ok());
        }
    }
}
