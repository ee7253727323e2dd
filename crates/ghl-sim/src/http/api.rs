//! GHL's API routes. Each handler validates the body like GHL's NestJS DTOs, then calls the
//! world; state changes travel to the gate in the response's extensions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use super::Caller;
use crate::Shared;
use crate::error::SimError;
use crate::validate::{self, Dto};
use crate::world::{Changes, ContactListQuery, MessageExportQuery, World};

type S = State<Arc<Shared>>;
type C = Extension<Caller>;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/contacts", post(create_contact))
        .route("/contacts/", get(list_contacts).post(create_contact))
        .route("/contacts/bulk/tags/update/{type}", post(bulk_update_tags))
        .route("/contacts/upsert", post(upsert_contact))
        .route("/contacts/search", post(search_contacts))
        .route("/contacts/search/duplicate", get(find_duplicate))
        .route(
            "/contacts/{id}",
            get(get_contact).put(update_contact).delete(delete_contact),
        )
        .route("/contacts/{id}/tags", post(add_tags).delete(remove_tags))
        .route("/contacts/{id}/notes", get(list_notes).post(add_note))
        .route("/locations/{location_id}", get(get_location))
        .route(
            "/locations/{location_id}/customFields",
            get(list_custom_fields).post(create_custom_field),
        )
        .route(
            "/locations/{location_id}/customFields/{id}",
            get(get_custom_field)
                .put(update_custom_field)
                .delete(delete_custom_field),
        )
        .route("/opportunities", post(create_opportunity))
        .route("/opportunities/", post(create_opportunity))
        .route("/opportunities/upsert", post(upsert_opportunity))
        .route("/opportunities/search", get(search_opportunities))
        .route("/opportunities/pipelines", get(list_pipelines))
        .route(
            "/opportunities/{id}",
            get(get_opportunity)
                .put(update_opportunity)
                .delete(delete_opportunity),
        )
        .route("/opportunities/{id}/status", put(update_opportunity_status))
        .route("/conversations/search", get(search_conversations))
        .route("/conversations/messages/export", get(export_messages))
        .route("/conversations/{id}/messages", get(list_messages))
        .route(
            "/conversations/locations/{location_id}/messages/{message_id}/transcription/download",
            get(download_transcription),
        )
        .route("/oauth/token", post(oauth_token))
        .route("/oauth/locationToken", post(location_token))
}

/// Parses a JSON body; an empty body is `{}`. Malformed JSON is a 400, as body-parser answers.
fn json_body(body: &Bytes) -> Result<Value, SimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| SimError::new(400, format!("Unexpected token in JSON: {e}")))
}

fn validated(dto: &Dto, body: &Bytes) -> Result<Value, SimError> {
    let value = json_body(body)?;
    validate::validate(dto, &value).map_err(SimError::unprocessable)?;
    Ok(value)
}

/// Runs a state change; `ok` is the success status (201 for creates, as GHL answers).
fn mutate(
    shared: &Shared,
    ok: StatusCode,
    f: impl FnOnce(&mut World, &mut Changes) -> Result<Value, SimError>,
) -> Response {
    let mut changes = Changes::default();
    let result = f(&mut shared.world(), &mut changes);
    match result {
        Ok(value) => {
            let mut response = (ok, Json(value)).into_response();
            response.extensions_mut().insert(changes);
            response
        }
        Err(e) => e.into_response(),
    }
}

fn read(shared: &Shared, f: impl FnOnce(&mut World) -> Result<Value, SimError>) -> Response {
    let result = f(&mut shared.world());
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn create_contact(State(s): S, Extension(Caller(a)): C, body: Bytes) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::CREATE_CONTACT, &body)?;
        w.create_contact(&a, &body, ch)
    })
}

async fn upsert_contact(State(s): S, Extension(Caller(a)): C, body: Bytes) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPSERT_CONTACT, &body)?;
        w.upsert_contact(&a, &body, ch)
    })
}

async fn search_contacts(State(s): S, Extension(Caller(a)): C, body: Bytes) -> Response {
    read(&s, |w| {
        let body = validated(&validate::SEARCH_CONTACTS, &body)?;
        w.search_contacts(&a, &body)
    })
}

async fn find_duplicate(
    State(s): S,
    Extension(Caller(a)): C,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| {
        let location = q.get("locationId").ok_or_else(|| {
            SimError::unprocessable(vec!["locationId should not be empty".to_owned()])
        })?;
        w.find_duplicate(
            &a,
            location,
            q.get("email").map(String::as_str),
            q.get("number").map(String::as_str),
        )
    })
}

/// The query value `name`, when sent.
fn param(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name).cloned()
}

/// What the caller used to reach the simulator, for the URLs GHL puts in its answers.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("services.leadconnectorhq.com");
    format!("http://{host}")
}

async fn list_contacts(
    State(s): S,
    Extension(Caller(a)): C,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = ContactListQuery {
        location_id: param(&q, "locationId"),
        limit: param(&q, "limit"),
        start_after: param(&q, "startAfter"),
        start_after_id: param(&q, "startAfterId"),
        query: param(&q, "query"),
    };
    read(&s, |w| w.list_contacts(&a, &query, &base_url(&headers)))
}

async fn bulk_update_tags(
    State(s): S,
    Extension(Caller(a)): C,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::UPDATE_TAGS, &body)?;
        w.bulk_update_tags(&a, &kind, &body, ch)
    })
}

async fn get_contact(State(s): S, Extension(Caller(a)): C, Path(id): Path<String>) -> Response {
    read(&s, |w| w.get_contact(&a, &id))
}

async fn update_contact(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPDATE_CONTACT, &body)?;
        w.update_contact(&a, &id, &body, ch)
    })
}

async fn delete_contact(State(s): S, Extension(Caller(a)): C, Path(id): Path<String>) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| w.delete_contact(&a, &id, ch))
}

fn tags_of(body: &Value) -> Vec<String> {
    body["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn add_tags(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::TAGS, &body)?;
        w.change_tags(&a, &id, &tags_of(&body), true, ch)
    })
}

async fn remove_tags(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::TAGS, &body)?;
        w.change_tags(&a, &id, &tags_of(&body), false, ch)
    })
}

async fn add_note(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::NOTES, &body)?;
        w.add_note(&a, &id, &body, ch)
    })
}

async fn list_notes(State(s): S, Extension(Caller(a)): C, Path(id): Path<String>) -> Response {
    read(&s, |w| w.list_notes(&a, &id))
}

async fn list_custom_fields(
    State(s): S,
    Extension(Caller(a)): C,
    Path(location_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| {
        w.list_custom_fields(&a, &location_id, q.get("model").map(String::as_str))
    })
}

async fn create_custom_field(
    State(s): S,
    Extension(Caller(a)): C,
    Path(location_id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::CREATE_CUSTOM_FIELD, &body)?;
        w.create_custom_field(&a, &location_id, &body, ch)
    })
}

async fn get_location(
    State(s): S,
    Extension(Caller(a)): C,
    Path(location_id): Path<String>,
) -> Response {
    read(&s, |w| w.get_location(&a, &location_id))
}

async fn get_custom_field(
    State(s): S,
    Extension(Caller(a)): C,
    Path((location_id, id)): Path<(String, String)>,
) -> Response {
    read(&s, |w| w.get_custom_field(&a, &location_id, &id))
}

async fn update_custom_field(
    State(s): S,
    Extension(Caller(a)): C,
    Path((location_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPDATE_CUSTOM_FIELD, &body)?;
        w.update_custom_field(&a, &location_id, &id, &body, ch)
    })
}

async fn delete_custom_field(
    State(s): S,
    Extension(Caller(a)): C,
    Path((location_id, id)): Path<(String, String)>,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        w.delete_custom_field(&a, &location_id, &id, ch)
    })
}

async fn create_opportunity(State(s): S, Extension(Caller(a)): C, body: Bytes) -> Response {
    mutate(&s, StatusCode::CREATED, |w, ch| {
        let body = validated(&validate::CREATE_OPPORTUNITY, &body)?;
        w.create_opportunity(&a, &body, ch)
    })
}

async fn upsert_opportunity(State(s): S, Extension(Caller(a)): C, body: Bytes) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPSERT_OPPORTUNITY, &body)?;
        w.upsert_opportunity(&a, &body, ch)
    })
}

async fn search_opportunities(
    State(s): S,
    Extension(Caller(a)): C,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| w.search_opportunities(&a, &q))
}

async fn list_pipelines(
    State(s): S,
    Extension(Caller(a)): C,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| {
        let location = q.get("locationId").ok_or_else(|| {
            SimError::unprocessable(vec!["locationId should not be empty".to_owned()])
        })?;
        w.list_pipelines(&a, location)
    })
}

async fn get_opportunity(State(s): S, Extension(Caller(a)): C, Path(id): Path<String>) -> Response {
    read(&s, |w| w.get_opportunity(&a, &id))
}

async fn update_opportunity(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPDATE_OPPORTUNITY, &body)?;
        w.update_opportunity(&a, &id, &body, ch)
    })
}

async fn update_opportunity_status(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        let body = validated(&validate::UPDATE_OPPORTUNITY_STATUS, &body)?;
        w.update_opportunity_status(&a, &id, &body, ch)
    })
}

async fn delete_opportunity(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| {
        w.delete_opportunity(&a, &id, ch)
    })
}

async fn search_conversations(
    State(s): S,
    Extension(Caller(a)): C,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| {
        let location = q.get("locationId").ok_or_else(|| {
            SimError::unprocessable(vec!["locationId should not be empty".to_owned()])
        })?;
        w.search_conversations(&a, location, q.get("contactId").map(String::as_str))
    })
}

async fn export_messages(
    State(s): S,
    Extension(Caller(a)): C,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let query = MessageExportQuery {
        location_id: param(&q, "locationId"),
        limit: param(&q, "limit"),
        cursor: param(&q, "cursor"),
        sort_by: param(&q, "sortBy"),
        sort_order: param(&q, "sortOrder"),
        conversation_id: param(&q, "conversationId"),
        contact_id: param(&q, "contactId"),
        channel: param(&q, "channel"),
        start_date: param(&q, "startDate"),
        end_date: param(&q, "endDate"),
    };
    read(&s, |w| w.export_messages(&a, &query))
}

async fn list_messages(
    State(s): S,
    Extension(Caller(a)): C,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    read(&s, |w| {
        let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
        w.list_messages(
            &a,
            &id,
            q.get("lastMessageId").map(String::as_str),
            limit,
            q.get("type").map(String::as_str),
        )
    })
}

async fn download_transcription(
    State(s): S,
    Extension(Caller(a)): C,
    Path((location_id, message_id)): Path<(String, String)>,
) -> Response {
    let result = s.world().transcription_text(&a, &location_id, &message_id);
    match result {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"transcription.txt\"",
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn oauth_token(State(s): S, Form(form): Form<HashMap<String, String>>) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| w.oauth_token(&form, ch))
}

async fn location_token(
    State(s): S,
    Extension(Caller(a)): C,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    mutate(&s, StatusCode::OK, |w, ch| w.location_token(&a, &form, ch))
}
