//! HTTP: GHL's routes behind one gate that does what GHL's edge does (faults, `Version`
//! header, bearer token, rate limit and its headers) and records the audit log, plus the
//! `/_sim` control routes.

mod api;
mod control;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use crate::audit::AuditEntry;
use crate::error::SimError;
use crate::rate_limit::Decision;
use crate::util::now_ms;
use crate::world::{Changes, TokenInfo};
use crate::{Shared, lock};

/// `Version` values GHL publishes (2021-04-15, 2021-07-28, 2023-02-21, v3, legacy); GHL
/// answers established paths with any of them.
const VERSIONS: &[&str] = &["2021-04-15", "2021-07-28", "2023-02-21", "v3", "legacy"];

/// Largest request body read, like a typical API gateway limit.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The authenticated caller, put into request extensions by the gate.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub(crate) TokenInfo);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(api::routes())
        .nest("/_sim", control::routes())
        // GHL's NestJS answers a path it does not serve, and a method a path does not take,
        // with one 404 shape (`Cannot GET /x`); axum's default for the second is a bare 405.
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared)
}

async fn not_found(req: Request) -> Response {
    SimError::new(404, format!("Cannot {} {}", req.method(), req.uri().path())).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn body_value(content_type: Option<&str>, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).unwrap_or_default();
        return Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Answers for a request with an injected status (an outage, an error rate, forced 429).
fn fault_response(status: u16) -> Response {
    let message = match status {
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal server error",
    };
    SimError::new(status, message).into_response()
}

/// What the gate decided about a request before it reaches a handler.
enum Admission {
    /// `POST /oauth/token`: client credentials travel in the body; no Version, no token.
    Open,
    /// A valid token within its limits.
    Caller(TokenInfo, Decision),
    /// Refused, with the rate-limit state when the token was known.
    Refused(SimError, Option<Decision>),
}

/// Checks `Version` and the bearer token the way GHL does, and counts the rate limit.
fn admit(shared: &Shared, path: &str, headers: &HeaderMap) -> Admission {
    if path == "/oauth/token" {
        return Admission::Open;
    }
    match headers.get("version").and_then(|v| v.to_str().ok()) {
        None => {
            return Admission::Refused(
                SimError::unauthorized("version header was not found."),
                None,
            );
        }
        Some(v) if !VERSIONS.contains(&v.trim()) => {
            return Admission::Refused(SimError::unauthorized("version header is invalid"), None);
        }
        Some(_) => {}
    }
    let Some(token) = bearer(headers) else {
        return Admission::Refused(SimError::unauthorized("Invalid JWT"), None);
    };
    let info = match shared.world().resolve_token(&token) {
        Ok(info) => info,
        Err(e) => return Admission::Refused(e, None),
    };
    let decision = lock(&shared.limiter).check(&info.limit_key());
    if decision.allowed {
        return Admission::Caller(info, decision);
    }
    let message = if decision.daily_remaining == 0 {
        "Daily request limit exceeded"
    } else {
        "Too Many Requests"
    };
    Admission::Refused(SimError::new(429, message), Some(decision))
}

async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_sim") {
        return next.run(req).await;
    }
    let started = Instant::now();
    let at_ms = now_ms();
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return SimError::new(413, "request entity too large").into_response();
    };
    let method = parts.method.as_str().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let request_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let version = parts
        .headers
        .get("version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let token_peek = bearer(&parts.headers).and_then(|t| shared.world().token_info(&t).cloned());

    let verdict = lock(&shared.faults).judge(&method, &path);
    if !verdict.latency.is_zero() {
        tokio::time::sleep(verdict.latency).await;
    }
    let mut resource = token_peek.as_ref().map(|t| t.resource.label());
    let mut changes = Changes::default();
    let mut decision = None;
    let mut response = if verdict.hang {
        fault_response(504)
    } else if let Some(status) = verdict.status {
        decision = token_peek
            .as_ref()
            .map(|t| lock(&shared.limiter).peek(&t.limit_key()));
        if status == 429
            && let Some(d) = decision.as_mut()
        {
            d.remaining = 0;
        }
        fault_response(status)
    } else {
        let caller = match admit(&shared, &path, &parts.headers) {
            Admission::Refused(e, d) => {
                decision = d;
                Err(e)
            }
            Admission::Open => Ok(None),
            Admission::Caller(info, d) => {
                decision = Some(d);
                Ok(Some(info))
            }
        };
        match caller {
            Err(e) => e.into_response(),
            Ok(caller) => {
                if let Some(c) = caller {
                    resource = Some(c.resource.label());
                    parts.extensions.insert(Caller(c));
                }
                let req = Request::from_parts(parts, Body::from(bytes.clone()));
                let mut r = next.run(req).await;
                if let Some(c) = r.extensions_mut().remove::<Changes>() {
                    changes = c;
                }
                r
            }
        }
    };
    if let Some(d) = decision {
        d.write_headers(response.headers_mut());
    }

    let (response_parts, response_body) = response.into_parts();
    let response_bytes: Bytes = to_bytes(response_body, usize::MAX)
        .await
        .unwrap_or_default();
    let response_type = response_parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response_parts.status.as_u16();
    // Recorded before any hold: a caller that gives up drops this future, and the log must
    // still show what happened.
    lock(&shared.audit).push(AuditEntry {
        seq: 0,
        at_ms,
        duration_ms: started.elapsed().as_millis() as u64,
        method,
        path,
        query,
        version,
        resource,
        request_body: body_value(request_type.as_deref(), &bytes),
        status,
        response_body: body_value(response_type.as_deref(), &response_bytes),
        response_content_type: response_type,
        fault: verdict.label(),
        effects: changes.effects,
    });
    if (200..300).contains(&status) {
        shared.send_events(changes.events);
    }
    if verdict.hang || verdict.apply_then_timeout {
        // No answer in time; for apply_then_timeout the change has been made.
        tokio::time::sleep(verdict.hold).await;
    }
    Response::from_parts(response_parts, Body::from(response_bytes))
}
