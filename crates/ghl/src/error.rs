//! Errors of the GHL client.
//!
//! GHL is a NestJS service: its errors arrive as `{statusCode, message, error, traceId}`,
//! where `message` is a string or, for validation failures, a list of strings. Duplicates add
//! `meta.contactId` (contacts) or `meta.existingId` (opportunities). [`Error`] sorts every
//! failure into the classes a caller acts on differently: wait, re-authenticate, fix the
//! request, reuse the existing object, give up, or try again later.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::rate_limit::RateLimit;

/// Which of GHL's two limits a 429 hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitScope {
    /// 100 requests per 10 seconds per app and location.
    Burst,
    /// 200,000 requests per day per app and location.
    Daily,
}

impl std::fmt::Display for RateLimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Burst => "burst",
            Self::Daily => "daily",
        })
    }
}

/// What every answer from GHL carries besides its body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Parsed `X-RateLimit-*` headers.
    pub rate_limit: RateLimit,
    /// GHL's request id (`traceId`), when the body had one.
    pub trace_id: Option<String>,
}

/// A failed GHL call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 429: a limit was reached. `retry_after` is GHL's `Retry-After` when sent, else the burst
    /// window, else (daily) the time until the next UTC midnight.
    #[error("GHL {scope} rate limit reached; retry after {retry_after:?}")]
    RateLimited {
        /// Burst or daily.
        scope: RateLimitScope,
        /// How long to wait before the next call for this location.
        retry_after: Duration,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// 401 or 403: the token is missing, invalid, expired, lacks a scope, or belongs to
    /// another location.
    #[error("GHL refused the credentials ({}): {message}", reply.status)]
    Unauthorized {
        /// GHL's message, e.g. "Invalid JWT".
        message: String,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// 422: the body failed GHL's validation (including properties GHL does not allow).
    #[error("GHL rejected the request: {}", messages.join("; "))]
    Validation {
        /// GHL's validation messages, one per problem.
        messages: Vec<String>,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// 400 with the id of the object that already exists (duplicate contact or opportunity).
    #[error("GHL already has this object ({existing_id}): {message}")]
    Duplicate {
        /// GHL's message.
        message: String,
        /// `meta.contactId` or `meta.existingId`.
        existing_id: String,
        /// `meta.matchingField` (`email` or `phone`) for contacts.
        matching_field: Option<String>,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// 404, or a 400 whose message says the object was not found.
    #[error("not found in GHL: {message}")]
    NotFound {
        /// GHL's message.
        message: String,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// Any other 4xx.
    #[error("GHL answered {}: {message}", reply.status)]
    BadRequest {
        /// GHL's message(s), joined.
        message: String,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// 5xx.
    #[error("GHL server error {}: {message}", reply.status)]
    Server {
        /// GHL's message, or the start of a non-JSON body.
        message: String,
        /// Status, headers and trace id.
        reply: Box<Reply>,
    },
    /// No answer within the client's timeout. GHL may or may not have applied the call.
    #[error("GHL did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// Connection refused, reset, DNS failure and the like.
    #[error("could not reach GHL: {0}")]
    Transport(#[source] reqwest::Error),
    /// A 2xx answer whose body was not what GHL documents.
    #[error("unexpected GHL response body ({status}): {message}")]
    Decode {
        /// HTTP status code.
        status: u16,
        /// What did not parse.
        message: String,
    },
    /// The client has no access token for a call that needs one.
    #[error("no access token set on the GHL client")]
    MissingToken,
    /// The configured base URL cannot be used.
    #[error("invalid GHL base URL: {0}")]
    InvalidBaseUrl(String),
}

impl Error {
    /// True for failures worth retrying later: rate limits, 5xx, timeouts and transport errors.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout(_) | Self::Transport(_)
        )
    }

    /// The status, rate-limit headers and trace id, when GHL answered at all.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::RateLimited { reply, .. }
            | Self::Unauthorized { reply, .. }
            | Self::Validation { reply, .. }
            | Self::Duplicate { reply, .. }
            | Self::NotFound { reply, .. }
            | Self::BadRequest { reply, .. }
            | Self::Server { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// HTTP status, when GHL answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Decode { status, .. } => Some(*status),
            other => other.reply().map(|r| r.status),
        }
    }

    /// How long GHL asked us to wait, for rate-limit errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Sorts a non-2xx answer into a variant. `body` is the raw response body.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let rate_limit = RateLimit::from_headers(headers);
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let messages = parsed
            .as_ref()
            .map(ErrorBody::messages)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| vec![fallback_message(status, body)]);
        let message = messages.join(", ");
        let reply = Box::new(Reply {
            status: status.as_u16(),
            rate_limit,
            trace_id: parsed.as_ref().and_then(|b| b.trace_id.clone()),
        });
        match status.as_u16() {
            429 => {
                let scope = if rate_limit.daily_exhausted() {
                    RateLimitScope::Daily
                } else {
                    RateLimitScope::Burst
                };
                let retry_after = retry_after_header(headers).unwrap_or_else(|| match scope {
                    RateLimitScope::Burst => {
                        rate_limit.interval().unwrap_or(Duration::from_secs(10))
                    }
                    RateLimitScope::Daily => until_next_utc_midnight(),
                });
                Self::RateLimited {
                    scope,
                    retry_after,
                    reply,
                }
            }
            401 | 403 => Self::Unauthorized { message, reply },
            422 => Self::Validation { messages, reply },
            404 => Self::NotFound { message, reply },
            400..=499 => {
                if let Some((existing_id, matching_field)) =
                    parsed.as_ref().and_then(ErrorBody::existing_id)
                {
                    Self::Duplicate {
                        message,
                        existing_id,
                        matching_field,
                        reply,
                    }
                } else if message.to_ascii_lowercase().contains("not found") {
                    Self::NotFound { message, reply }
                } else {
                    Self::BadRequest { message, reply }
                }
            }
            _ => Self::Server { message, reply },
        }
    }

    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout(err)
        } else {
            Self::Transport(err)
        }
    }
}

/// GHL's error envelope. Every field is optional because GHL is not consistent about them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    message: Option<Value>,
    error: Option<String>,
    trace_id: Option<String>,
    meta: Option<Value>,
}

impl ErrorBody {
    fn messages(&self) -> Vec<String> {
        let from_message = match &self.message {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            Some(other) => vec![other.to_string()],
            None => Vec::new(),
        };
        if from_message.is_empty() {
            self.error.iter().cloned().collect()
        } else {
            from_message
        }
    }

    fn existing_id(&self) -> Option<(String, Option<String>)> {
        let meta = self.meta.as_ref()?;
        let id = meta
            .get("contactId")
            .or_else(|| meta.get("existingId"))?
            .as_str()?
            .to_owned();
        let field = meta
            .get("matchingField")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some((id, field))
    }
}

fn fallback_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.chars().take(200).collect()
    }
}

fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// GHL does not document when the daily budget resets; a calendar day in UTC is assumed.
fn until_next_utc_midnight() -> Duration {
    let now = time::OffsetDateTime::now_utc();
    let next = (now.date() + time::Duration::days(1))
        .midnight()
        .assume_utc();
    let wait = next - now;
    Duration::from_secs(wait.whole_seconds().max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify(status: u16, body: &str) -> Error {
        Error::from_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn validation_keeps_every_message() {
        let err = classify(
            422,
            r#"{"message":["property additionalEmails should not exist","email must be an email"],"error":"Unprocessable Entity","statusCode":422}"#,
        );
        match err {
            Error::Validation { messages, .. } => assert_eq!(messages.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_contact_carries_the_existing_id() {
        let err = classify(
            400,
            r#"{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"abc","contactName":"A B","matchingField":"email"}}"#,
        );
        match err {
            Error::Duplicate {
                existing_id,
                matching_field,
                ..
            } => {
                assert_eq!(existing_id, "abc");
                assert_eq!(matching_field.as_deref(), Some("email"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_opportunity_carries_the_existing_id() {
        let err = classify(
            400,
            r#"{"statusCode":400,"message":"Can not create duplicate opportunity for the contact.","code":"OPPORTUNITY_NO_DUPLICATE","meta":{"existingId":"opp1"},"error":"Bad Request"}"#,
        );
        assert!(matches!(err, Error::Duplicate { ref existing_id, .. } if existing_id == "opp1"));
    }

    #[test]
    fn not_found_from_404_or_400_message() {
        assert!(matches!(
            classify(404, r#"{"statusCode":404,"message":"x"}"#),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            classify(400, r#"{"statusCode":400,"message":"Contact not found"}"#),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            classify(400, r#"{"statusCode":400,"message":"Bad Request"}"#),
            Error::BadRequest { .. }
        ));
    }

    #[test]
    fn auth_and_server_errors() {
        let e = classify(401, r#"{"statusCode":401,"message":"Invalid JWT"}"#);
        assert!(matches!(e, Error::Unauthorized { ref message, .. } if message == "Invalid JWT"));
        assert!(!e.is_transient());
        let e = classify(
            403,
            r#"{"statusCode":403,"message":"The token does not have access to this location."}"#,
        );
        assert!(matches!(e, Error::Unauthorized { .. }));
        let e = classify(503, "<html>Service Unavailable</html>");
        assert!(matches!(e, Error::Server { .. }));
        assert!(e.is_transient());
    }

    #[test]
    fn burst_429_waits_the_interval_and_daily_429_waits_for_the_day() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-interval-milliseconds",
            HeaderValue::from_static("10000"),
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-daily-remaining", HeaderValue::from_static("5"));
        let e = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
        assert!(matches!(
            e,
            Error::RateLimited {
                scope: RateLimitScope::Burst,
                ..
            }
        ));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));

        h.insert("x-ratelimit-daily-remaining", HeaderValue::from_static("0"));
        let e = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
        assert!(matches!(
            e,
            Error::RateLimited {
                scope: RateLimitScope::Daily,
                ..
            }
        ));
        assert!(e.retry_after().unwrap() <= Duration::from_secs(86_400));

        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("3"));
        let e = Error::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"{}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn trace_id_is_kept() {
        let e = classify(400, r#"{"statusCode":400,"message":"x","traceId":"t-1"}"#);
        assert_eq!(e.reply().unwrap().trace_id.as_deref(), Some("t-1"));
    }
}
