//! The outcome reports' signature: HMAC-SHA256 of `"<timestamp>.<raw body>"` with the
//! engine secret. The timestamp is signed with the body so a report cannot be replayed
//! under a fresh timestamp, and the window bounds how long a captured one stays valid.

use aws_lc_rs::hmac;

/// The engine's owner id (lower case, as HTTP libraries normalise header names).
pub const OWNER_HEADER: &str = "x-dialer-owner";
/// Unix seconds when the report was signed.
pub const TIMESTAMP_HEADER: &str = "x-dialer-timestamp";
/// `sha256=<lowercase hex>`.
pub const SIGNATURE_HEADER: &str = "x-dialer-signature";
/// How far, in seconds, a signed timestamp may be from the receiver's clock either way.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

const PREFIX: &str = "sha256=";

/// Why a report's signature was refused. The variants are distinct so the server can tell
/// an engine with a wrong clock from one with a wrong secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Dialer-Timestamp`.
    #[error("X-Dialer-Timestamp is missing")]
    MissingTimestamp,
    /// `X-Dialer-Timestamp` is not Unix seconds.
    #[error("X-Dialer-Timestamp must be Unix seconds")]
    BadTimestamp,
    /// The timestamp is outside [`SIGNATURE_WINDOW_SECS`].
    #[error(
        "X-Dialer-Timestamp is {skew_secs} s from the server's clock (at most {SIGNATURE_WINDOW_SECS} s)"
    )]
    Stale {
        /// The receiver's clock minus the timestamp: positive when the report is old,
        /// negative when it comes from the future.
        skew_secs: i64,
    },
    /// No `X-Dialer-Signature`.
    #[error("X-Dialer-Signature is missing")]
    MissingSignature,
    /// `X-Dialer-Signature` is not `sha256=` and 64 hex digits.
    #[error("X-Dialer-Signature must be sha256=<64 hex digits>")]
    Malformed,
    /// The signature does not match the body, the timestamp and the secret.
    #[error("X-Dialer-Signature does not match")]
    Mismatch,
}

fn tag(key: &hmac::Key, timestamp: &str, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

/// The `X-Dialer-Signature` value for `body` sent with `X-Dialer-Timestamp: <timestamp>`:
/// `sha256=` and the lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = tag(&key, &timestamp.to_string(), body);
    format!("{PREFIX}{}", hex::encode(tag.as_ref()))
}

/// Checks a report's headers against its raw body, at `now_secs` (Unix seconds).
///
/// The timestamp is signed as sent (its text, not its value), so the sender's digits are
/// the ones that count. The comparison is constant-time.
pub fn verify(
    secret: &[u8],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp_header.ok_or(SignatureError::MissingTimestamp)?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew_secs = now_secs.saturating_sub(seconds);
    if skew_secs.unsigned_abs() > SIGNATURE_WINDOW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale { skew_secs });
    }
    let signature = signature_header.ok_or(SignatureError::MissingSignature)?;
    let digits = signature
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    if digits.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let given = hex::decode(digits).map_err(|_| SignatureError::Malformed)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    hmac::verify(&key, &message, &given).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"engine-secret";
    const BODY: &[u8] = br#"{"event_id":"e1"}"#;
    const NOW: i64 = 1_772_377_200;

    fn check(timestamp: Option<&str>, signature: Option<&str>) -> Result<(), SignatureError> {
        verify(SECRET, timestamp, signature, BODY, NOW)
    }

    #[test]
    fn sign_is_hmac_sha256_of_timestamp_dot_body() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
        let expected = hmac::sign(&key, b"1772377200.{\"event_id\":\"e1\"}");
        let signature = sign(SECRET, NOW, BODY);
        assert_eq!(
            signature,
            format!("sha256={}", hex::encode(expected.as_ref()))
        );
        assert_eq!(signature.len(), 7 + 64);
        assert!(
            signature[7..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );

        // The known-answer vector from RFC 4231 (case 2), so the primitive is the right one.
        let jefe = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        assert_eq!(
            hex::encode(hmac::sign(&jefe, b"what do ya want for nothing?").as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn round_trip_within_the_window() {
        for at in [NOW, NOW - 300, NOW + 300] {
            let signature = sign(SECRET, at, BODY);
            assert_eq!(check(Some(&at.to_string()), Some(&signature)), Ok(()));
        }
    }

    #[test]
    fn each_refusal_has_its_own_variant() {
        let ts = NOW.to_string();
        let good = sign(SECRET, NOW, BODY);
        assert_eq!(
            check(None, Some(&good)),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(Some("soon"), Some(&good)),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(Some(""), Some(&good)),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(Some("1.5"), Some(&good)),
            Err(SignatureError::BadTimestamp)
        );

        let old = NOW - 301;
        assert_eq!(
            check(Some(&old.to_string()), Some(&sign(SECRET, old, BODY))),
            Err(SignatureError::Stale { skew_secs: 301 })
        );
        let future = NOW + 301;
        assert_eq!(
            check(Some(&future.to_string()), Some(&sign(SECRET, future, BODY))),
            Err(SignatureError::Stale { skew_secs: -301 })
        );
        assert_eq!(
            check(Some(&i64::MIN.to_string()), Some(&good)),
            Err(SignatureError::Stale {
                skew_secs: i64::MAX
            })
        );

        assert_eq!(
            check(Some(&ts), None),
            Err(SignatureError::MissingSignature)
        );
        let digits = &good[7..];
        for malformed in [
            digits.to_owned(),
            format!("sha1={digits}"),
            format!("sha256={}", &digits[1..]),
            format!("sha256={}zz", &digits[2..]),
            "sha256=".to_owned(),
        ] {
            assert_eq!(
                check(Some(&ts), Some(&malformed)),
                Err(SignatureError::Malformed),
                "{malformed}"
            );
        }

        // Another secret, another body, another timestamp: all mismatches.
        assert_eq!(
            check(Some(&ts), Some(&sign(b"other", NOW, BODY))),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(
                Some(&ts),
                Some(&sign(SECRET, NOW, b"{\"event_id\":\"e2\"}"))
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(Some(&(NOW - 1).to_string()), Some(&good)),
            Err(SignatureError::Mismatch)
        );
        // The timestamp's text is signed: the same value spelled otherwise does not match.
        assert_eq!(
            check(Some(&format!("0{ts}")), Some(&good)),
            Err(SignatureError::Mismatch)
        );
    }
}
