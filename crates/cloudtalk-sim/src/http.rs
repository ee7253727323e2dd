//! CloudTalk's edge: every request passes one gate (credentials, faults, the limit, the
//! audit log) before the route's operation on the company's data. Answers are wrapped in
//! `responseData` as CloudTalk's are, and carry the limit headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Query, Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::world::{Company, Refusal};
use crate::{AuditEntry, FaultAction, State, lock};

pub(crate) fn router(state: Arc<Mutex<State>>) -> Router {
    Router::new().fallback(gate).with_state(state)
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The company a `Authorization: Basic` header names, if its secret matches.
fn company_of(headers: &HeaderMap, state: &State) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (key_id, secret) = text.split_once(':')?;
    let account = state.accounts.get(key_id)?;
    (account.secret == secret).then(|| key_id.to_owned())
}

/// How an answer's body is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Form {
    /// JSON wrapped in `responseData` (most routes).
    Enveloped,
    /// JSON as it is (the analytics host's `GET /calls/{callId}`).
    Bare,
    /// Bytes of this media type (a recording).
    Binary(&'static str, Vec<u8>),
}

/// An answer: status and `responseData` (or the bare body, or the bytes).
struct Answer {
    status: u16,
    body: Value,
    form: Form,
}

impl Answer {
    fn ok(status: u16, data: Value) -> Self {
        Self {
            status,
            body: data,
            form: Form::Enveloped,
        }
    }

    fn refused(r: &Refusal) -> Self {
        Self::ok(r.status, r.body())
    }

    fn bare(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            form: Form::Bare,
        }
    }

    fn binary(media_type: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            status: 200,
            // The audit log keeps the bytes as base64.
            body: Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            form: Form::Binary(media_type, bytes),
        }
    }

    /// The `Content-Type` the answer is sent with.
    fn content_type(&self) -> &'static str {
        match &self.form {
            Form::Binary(media_type, _) => media_type,
            Form::Enveloped | Form::Bare => "application/json",
        }
    }
}

fn created(id: u64) -> Value {
    json!({"status": 201, "data": {"id": id.to_string()}})
}

/// `{id}.json` as an id.
fn id_of(segment: &str) -> Option<u64> {
    segment.strip_suffix(".json")?.parse().ok()
}

fn object(body: &Value) -> Map<String, Value> {
    body.as_object().cloned().unwrap_or_default()
}

/// The route's operation.
fn route(
    company: &mut Company,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result: Result<Answer, Refusal> = match (method.as_str(), segments.as_slice()) {
        ("PUT", ["contacts", "add.json"]) => company
            .add_contact(&object(body))
            .map(|id| Answer::ok(201, created(id))),
        ("POST", ["contacts", "edit", id]) => with_id(id, |id| {
            company
                .edit_contact(id, &object(body))
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("DELETE", ["contacts", "delete", id]) => with_id(id, |id| {
            company
                .delete_contact(id)
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("GET", ["contacts", "show", id]) => with_id(id, |id| {
            company.show_contact(id).map(|c| Answer::ok(200, c))
        }),
        ("GET", ["contacts", "index.json"]) => Ok(Answer::ok(200, company.list_contacts(query))),
        ("PUT", ["contacts", "addTags", id]) => with_id(id, |id| {
            company
                .change_tags(id, body, true)
                .map(|a| Answer::ok(200, a))
        }),
        ("DELETE", ["contacts", "removeTags", id]) => with_id(id, |id| {
            company
                .change_tags(id, body, false)
                .map(|a| Answer::ok(200, a))
        }),
        ("PUT", ["notes", "add", contact]) => with_id(contact, |c| {
            company
                .add_note(c, &object(body))
                .map(|id| Answer::ok(201, created(id)))
        }),
        ("POST", ["notes", "edit", id]) => with_id(id, |id| {
            company
                .edit_note(id, &object(body))
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("GET", ["notes", "index.json"]) => Ok(Answer::ok(200, company.list_notes(query))),
        ("PUT", ["activity", "add", contact]) => with_id(contact, |c| {
            company
                .add_activity(c, &object(body))
                .map(|id| Answer::ok(201, created(id)))
        }),
        ("POST", ["activity", "edit", id]) => with_id(id, |id| {
            company
                .edit_activity(id, &object(body))
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("GET", ["activity", "index.json"]) => Ok(Answer::ok(200, company.list_activities(query))),
        ("GET", ["calls", "index.json"]) => Ok(Answer::ok(200, company.list_calls(query))),
        ("GET", ["calls", "recording", id]) => with_id(id, |id| {
            company
                .recording(id)
                .map(|wav| Answer::binary("audio/x-wav", wav))
        }),
        // The analytics host's route (`https://analytics-api.cloudtalk.io/api/calls/{id}`),
        // served at the same root: a bare body, NestJS's errors.
        ("GET", ["calls", id]) if !id.ends_with(".json") => {
            let details = id.parse().ok().and_then(|id| company.call_details(id));
            Ok(match details {
                Some(details) => Answer::bare(200, details),
                None if id.parse::<f64>().is_err() => Answer::bare(
                    400,
                    json!({
                        "statusCode": 400,
                        "message": ["callId must be a number conforming to the specified constraints"],
                        "error": "Bad Request",
                    }),
                ),
                None => Answer::bare(
                    404,
                    json!({
                        "statusCode": 404,
                        "message": format!("Call with id '{id}' doesn't exist on company '{}'", company.id),
                        "error": "Not Found",
                    }),
                ),
            })
        }
        ("GET", ["agents", "index.json"]) => Ok(Answer::ok(200, company.list_agents(query))),
        ("GET", ["campaigns", "index.json"]) => Ok(Answer::ok(200, company.list_campaigns(query))),
        ("PUT", ["campaigns", "add.json"]) => company
            .add_campaign(&object(body))
            .map(|id| Answer::ok(201, created(id))),
        ("POST", ["campaigns", "edit", id]) => with_id(id, |id| {
            company
                .edit_campaign(id, &object(body))
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("DELETE", ["campaigns", "delete", id]) => with_id(id, |id| {
            company
                .delete_campaign(id)
                .map(|()| Answer::ok(200, json!({"status": 200})))
        }),
        ("POST", ["bulk", "contacts.json"]) => match body.as_array() {
            Some(commands) => company
                .bulk(commands)
                .map(|results| Answer::ok(200, json!({"status": 200, "data": results}))),
            None => Err(Refusal {
                status: 406,
                message: "Invalid input data.".into(),
                fields: [("commands".to_owned(), vec!["Must be a list.".to_owned()])].into(),
            }),
        },
        _ => Err(Refusal {
            status: 404,
            message: "Not found.".into(),
            fields: BTreeMap::new(),
        }),
    };
    result.unwrap_or_else(|r| Answer::refused(&r))
}

fn with_id(
    segment: &str,
    f: impl FnOnce(u64) -> Result<Answer, Refusal>,
) -> Result<Answer, Refusal> {
    match id_of(segment) {
        Some(id) => f(id),
        None => Err(Refusal {
            status: 404,
            message: "Not found.".into(),
            fields: BTreeMap::new(),
        }),
    }
}

/// Operations a request costs against the company's limit.
fn cost(path: &str, body: &Value, bulk_counts_commands: bool) -> u32 {
    if path.trim_matches('/') == "bulk/contacts.json" && bulk_counts_commands {
        body.as_array().map_or(1, |c| c.len().max(1) as u32)
    } else {
        1
    }
}

async fn gate(Extract(state): Extract<Arc<Mutex<State>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let full_path = parts.uri.path().to_owned();
    let path = full_path
        .strip_prefix("/api")
        .unwrap_or(&full_path)
        .to_owned();
    let query_text = parts.uri.query().map(str::to_owned);
    let query: BTreeMap<String, String> = Query::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let request_body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let at = now();
    let mut hold = None;
    let mut headers = Vec::new();
    let mut created = Vec::new();
    let mut company_key = None;
    let answer = {
        let mut st = lock(&state);
        let company = company_of(&parts.headers, &st);
        let fault = st.faults.iter_mut().find(|f| {
            f.count != Some(0) && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        });
        let fault = fault.map(|f| {
            if let Some(n) = f.count.as_mut() {
                *n -= 1;
            }
            f.action
        });
        let limit = st.limit;
        let answer = match (&company, fault) {
            (None, _) => Answer::ok(401, json!({"status": 401, "message": "Unauthorized"})),
            (Some(_), Some(FaultAction::Status(status))) => Answer::ok(
                status,
                json!({"status": status, "message": "Simulated failure."}),
            ),
            (Some(key), action) => {
                let account = st.accounts.get_mut(key).expect("the company exists");
                let minute = at.as_secs() / 60 * 60;
                if account.window.0 != minute {
                    account.window = (minute, 0);
                }
                let cost = cost(&path, &request_body, limit.bulk_counts_commands);
                let reset = minute + 60;
                if account.window.1 + cost > limit.per_minute {
                    headers = limit_headers(limit.per_minute, 0, reset);
                    Answer::ok(429, json!({"status": 429, "message": "Too Many Requests"}))
                } else {
                    account.window.1 += cost;
                    let left = limit.per_minute - account.window.1;
                    headers = limit_headers(limit.per_minute, left, reset);
                    if let Some(FaultAction::ApplyThenTimeout { hold_ms }) = action {
                        hold = Some(Duration::from_millis(hold_ms));
                    }
                    let answer = route(&mut account.data, &method, &path, &query, &request_body);
                    created = new_contacts(&account.data, &path, &answer);
                    answer
                }
            }
        };
        company_key.clone_from(&company);
        let seq = st.audit.len() as u64 + 1;
        st.audit.push(AuditEntry {
            seq,
            at_ms: at.as_millis() as i64,
            method: method.to_string(),
            path: path.clone(),
            query: query_text,
            company,
            request_body,
            status: answer.status,
            content_type: answer.content_type().to_owned(),
            response_body: answer.body.clone(),
            fault: fault.map(|f| format!("{f:?}")),
        });
        answer
    };
    // Contact › Created, for contacts added one by one or in bulk.
    for body in created {
        if let Some(company) = &company_key {
            crate::deliver(&state, company, crate::Trigger::ContactCreated, body).await;
        }
    }
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match answer.form {
        Form::Enveloped => {
            (status, axum::Json(json!({"responseData": answer.body}))).into_response()
        }
        Form::Bare => (status, axum::Json(answer.body)).into_response(),
        Form::Binary(media_type, bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, media_type)],
            bytes,
        )
            .into_response(),
    };
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

/// The Contact › Created bodies of the contacts an answer created.
fn new_contacts(company: &Company, path: &str, answer: &Answer) -> Vec<Value> {
    let id_of_created = |v: &Value| {
        v.pointer("/data/id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
    };
    let ids: Vec<u64> = match path.trim_matches('/') {
        "contacts/add.json" if answer.status == 201 => {
            id_of_created(&answer.body).into_iter().collect()
        }
        "bulk/contacts.json" => answer.body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == 201)
            .filter_map(id_of_created)
            .filter(|id| company.contacts.contains_key(id))
            .collect(),
        _ => Vec::new(),
    };
    ids.iter()
        .filter_map(|id| company.contacts.get(id))
        .map(|c| {
            json!({
                "contact_id": c.id,
                "name": c.fields.get("name"),
                "company": c.fields.get("company"),
                "phone": c.numbers.first().map(|n| crate::webhooks::bare(n)),
                "email": c.emails.first(),
                "tags": c.tags.join(","),
            })
        })
        .collect()
}

fn limit_headers(limit: u32, remaining: u32, reset: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-cloudtalkapi-limit", limit.to_string()),
        ("x-cloudtalkapi-remaining", remaining.to_string()),
        ("x-cloudtalkapi-resettime", reset.to_string()),
    ]
}
