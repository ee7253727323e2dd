//! The client's failures.

use crate::wire::ErrorBody;

/// A failed call to ghlsync's dialer API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ghlsync answered with a refusal (or a proxy answered with an error status).
    #[error("ghlsync refused the request ({status} {code}): {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The envelope's code; `http_<status>` when the body was not ghlsync's envelope.
        code: String,
        /// The envelope's message, or the start of the body.
        message: String,
        /// The request field at fault, when one is.
        field: Option<String>,
        /// `Retry-After` in seconds, when given (on 429).
        retry_after_secs: Option<u64>,
    },
    /// No answer: connection refused or reset, or the client's timeout passed (in which
    /// case ghlsync may still have applied the request).
    #[error("ghlsync could not be reached: {0}")]
    Transport(String),
    /// A 2xx answer this client cannot read, or a request it could not encode.
    #[error("ghlsync's answer could not be read: {0}")]
    Decode(String),
}

impl Error {
    /// True for failures worth retrying later: 429, 5xx and transport failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport(_) => true,
            Self::Decode(_) => false,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Transport(_) | Self::Decode(_) => None,
        }
    }

    /// The envelope's code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Transport(_) | Self::Decode(_) => None,
        }
    }

    /// Reads a non-2xx answer. A body that is not ghlsync's envelope (a proxy's page) still
    /// gives an error, with its first characters as the message.
    pub(crate) fn from_answer(status: u16, retry_after_secs: Option<u64>, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => Self::Api {
                status,
                code: error.code,
                message: error.message,
                field: error.field,
                retry_after_secs,
            },
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                Self::Api {
                    status,
                    code: format!("http_{status}"),
                    message: if text.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        text.chars().take(300).collect()
                    },
                    field: None,
                    retry_after_secs,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_other_bodies() {
        let err = Error::from_answer(
            400,
            None,
            br#"{"error":{"code":"invalid_field","message":"limit must be 1 to 100","field":"limit"}}"#,
        );
        assert!(matches!(
            &err,
            Error::Api { status: 400, code, field: Some(field), .. }
                if code == "invalid_field" && field == "limit"
        ));
        assert!(!err.is_transient());
        assert_eq!(err.status(), Some(400));

        let err = Error::from_answer(
            429,
            Some(3),
            br#"{"error":{"code":"rate_limited","message":"slow down"}}"#,
        );
        assert!(matches!(
            err,
            Error::Api {
                status: 429,
                field: None,
                retry_after_secs: Some(3),
                ..
            }
        ));
        assert!(err.is_transient());

        let err = Error::from_answer(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(err.code(), Some("http_502"));
        assert!(err.to_string().contains("Bad Gateway"));
        assert!(err.is_transient());
        let err = Error::from_answer(404, None, b"");
        assert!(matches!(&err, Error::Api { message, .. } if message == "HTTP 404"));
        assert!(!err.is_transient());

        assert!(Error::Transport("refused".into()).is_transient());
        assert!(!Error::Decode("eof".into()).is_transient());
    }
}
