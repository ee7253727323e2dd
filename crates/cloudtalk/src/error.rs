//! CloudTalk's failures, sorted into what a caller acts on. CloudTalk answers errors in
//! several envelopes: `{"responseData": {"status", "message", "data": {field: [msg]}}}`
//! on most routes, `{"success": false, "message"}` on some writes, and NestJS's
//! `{"statusCode", "message", "error"}` on the analytics host; the message is read from
//! whichever is there.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::rate_limit::RateLimit;

/// Status and limit headers of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `X-CloudTalkAPI-*` headers.
    pub rate_limit: RateLimit,
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 429: the company's operations for this window are spent.
    #[error("CloudTalk's rate limit is reached (the window resets at {reset_at:?})")]
    RateLimited {
        /// `X-CloudTalkAPI-ResetTime`, Unix seconds.
        reset_at: Option<u64>,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// 401: the API key id or secret is wrong.
    #[error("CloudTalk refused the API key ({}): {message}", reply.status)]
    Unauthorized {
        /// CloudTalk's message.
        message: String,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// 400 or 406: the request's data is invalid; `fields` names each field's problems.
    #[error("CloudTalk rejected the request: {message}{}", field_list(fields))]
    Invalid {
        /// CloudTalk's message.
        message: String,
        /// Field -> messages.
        fields: BTreeMap<String, Vec<String>>,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// 404.
    #[error("CloudTalk has no such object: {message}")]
    NotFound {
        /// CloudTalk's message.
        message: String,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// Another 4xx (403 agent not online, 409 agent already calling, 410 recording expired).
    #[error("CloudTalk refused the request ({}): {message}", reply.status)]
    Refused {
        /// CloudTalk's message.
        message: String,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// 5xx.
    #[error("CloudTalk failed ({}): {message}", reply.status)]
    Server {
        /// CloudTalk's message.
        message: String,
        /// Status and headers.
        reply: Box<Reply>,
    },
    /// No answer within the client's timeout (CloudTalk may have applied the request).
    #[error("CloudTalk did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("CloudTalk could not be reached: {0}")]
    Transport(String),
    /// A bulk request must hold 1 to 10 commands; nothing was sent.
    #[error("a bulk request holds 1 to 10 commands, not {0}")]
    TooManyCommands(usize),
    /// A 2xx answer this client cannot read.
    #[error("CloudTalk's answer could not be read: {message}")]
    Decode {
        /// What did not fit.
        message: String,
        /// Status and headers.
        reply: Box<Reply>,
    },
}

fn field_list(fields: &BTreeMap<String, Vec<String>>) -> String {
    fields
        .iter()
        .map(|(field, messages)| format!("; {field}: {}", messages.join(", ")))
        .collect()
}

impl Error {
    /// True for failures worth retrying later: the limit, timeouts, transport, 5xx.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout | Self::Transport(_)
        )
    }

    /// The answer's status and headers, when there was an answer.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::RateLimited { reply, .. }
            | Self::Unauthorized { reply, .. }
            | Self::Invalid { reply, .. }
            | Self::NotFound { reply, .. }
            | Self::Refused { reply, .. }
            | Self::Server { reply, .. }
            | Self::Decode { reply, .. } => Some(reply),
            Self::Timeout | Self::Transport(_) | Self::TooManyCommands(_) => None,
        }
    }

    /// Sorts a non-2xx answer.
    pub(crate) fn from_answer(reply: Reply, body: &[u8]) -> Self {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let inner = parsed.get("responseData").unwrap_or(&parsed);
        let message = message_of(inner)
            .or_else(|| message_of(&parsed))
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    format!("HTTP {}", reply.status)
                } else {
                    text.chars().take(300).collect()
                }
            });
        let reply = Box::new(reply);
        match reply.status {
            429 => Self::RateLimited {
                reset_at: reply.rate_limit.reset_at,
                reply,
            },
            401 => Self::Unauthorized { message, reply },
            400 | 406 | 422 => Self::Invalid {
                message,
                fields: fields_of(inner.get("data")),
                reply,
            },
            404 => Self::NotFound { message, reply },
            s if s >= 500 => Self::Server { message, reply },
            _ => Self::Refused { message, reply },
        }
    }
}

/// `message` as a string or a list of strings, or `errors` as a list.
fn message_of(v: &Value) -> Option<String> {
    let joined = |items: &Vec<Value>| {
        let parts: Vec<String> = items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    match v.get("message") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Array(items)) => joined(items),
        _ => v.get("errors").and_then(Value::as_array).and_then(joined),
    }
}

/// `{field: [messages]}` (or `{field: message}`) from a 406's `data`.
fn fields_of(data: Option<&Value>) -> BTreeMap<String, Vec<String>> {
    let Some(Value::Object(map)) = data else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(field, v)| {
            let messages = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            (field.clone(), messages)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16) -> Reply {
        Reply {
            status,
            rate_limit: RateLimit::default(),
        }
    }

    #[test]
    fn each_envelope_gives_its_message_and_class() {
        let invalid = Error::from_answer(
            reply(406),
            br#"{"responseData": {"status": 406, "message": "Invalid input data.", "data": {"email": ["Please supply a valid email address."]}}}"#,
        );
        assert_eq!(
            invalid.to_string(),
            "CloudTalk rejected the request: Invalid input data.; email: Please supply a valid email address."
        );
        assert!(!invalid.is_transient());
        let missing = Error::from_answer(
            reply(404),
            br#"{"responseData": {"status": 404, "message": "Not found."}}"#,
        );
        assert!(matches!(missing, Error::NotFound { ref message, .. } if message == "Not found."));
        let write = Error::from_answer(
            reply(403),
            br#"{"success": false, "message": "Agent is not online"}"#,
        );
        assert!(
            matches!(write, Error::Refused { ref message, .. } if message == "Agent is not online")
        );
        let nest = Error::from_answer(
            reply(404),
            br#"{"statusCode": 404, "message": ["call not found"], "error": "Not Found"}"#,
        );
        assert!(matches!(nest, Error::NotFound { ref message, .. } if message == "call not found"));
        let server = Error::from_answer(reply(502), b"Bad gateway");
        assert!(matches!(server, Error::Server { ref message, .. } if message == "Bad gateway"));
        assert!(server.is_transient());
        let mut limited = reply(429);
        limited.rate_limit.reset_at = Some(1_700_000_060);
        let limited = Error::from_answer(limited, b"");
        assert!(matches!(
            limited,
            Error::RateLimited {
                reset_at: Some(1_700_000_060),
                ..
            }
        ));
        assert!(limited.is_transient());
    }
}
