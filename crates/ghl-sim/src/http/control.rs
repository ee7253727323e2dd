//! `/_sim`: the control API for tests, demos and the CLI. Not part of GHL; not rate
//! limited, not audited, never faulted.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SimError;
use crate::faults::FaultConfig;
use crate::rate_limit::Limits;
use crate::webhooks::WebhookSettings;
use crate::world::{CallSpec, Changes, LocationSettings, Resource};
use crate::{LocationSpec, Shared, lock};

type S = State<Arc<Shared>>;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/state", get(state))
        .route("/locations", post(add_location))
        .route("/locations/{id}/settings", put(set_settings))
        .route("/locations/{id}/contacts", get(contacts))
        .route("/locations/{id}/opportunities", get(opportunities))
        .route("/locations/{id}/calls", post(add_call))
        .route(
            "/faults",
            get(get_faults).put(set_faults).delete(clear_faults),
        )
        .route("/audit", get(audit).delete(clear_audit))
        .route("/webhooks", get(get_webhooks).put(set_webhooks))
        .route("/webhooks/deliveries", get(deliveries))
        .route("/webhooks/keys", get(keys))
        .route("/rate-limits", get(get_limits).put(set_limits))
        .route("/oauth/apps", post(add_app))
        .route("/oauth/codes", post(issue_code))
        .route("/options", put(set_options))
}

async fn state(State(s): S) -> Json<Value> {
    let world = s.world();
    let tokens: Vec<Value> = world
        .tokens()
        .map(|(token, info)| json!({"token": token, "resource": info.resource, "expiresAtMs": info.expires_at_ms}))
        .collect();
    let locations: Vec<Value> = world
        .locations()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "companyId": l.company_id,
                "settings": l.settings,
                "customFields": l.render_custom_fields(None),
                "pipelines": l.pipelines,
                "contacts": l.contacts.len(),
                "opportunities": l.opportunities.len(),
            })
        })
        .collect();
    Json(json!({"locations": locations, "tokens": tokens}))
}

async fn add_location(State(s): S, Json(spec): Json<LocationSpec>) -> Response {
    let seeded = s.world().create_location(&spec);
    (StatusCode::CREATED, Json(seeded)).into_response()
}

async fn set_settings(
    State(s): S,
    Path(id): Path<String>,
    Json(settings): Json<LocationSettings>,
) -> Response {
    match s.world().location_mut(&id) {
        Ok(l) => {
            l.settings = settings;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn contacts(State(s): S, Path(id): Path<String>) -> Response {
    match s.world().location(&id) {
        Some(l) => Json(json!({"contacts": l.render_contacts()})).into_response(),
        None => SimError::bad_request("Location not found").into_response(),
    }
}

async fn opportunities(State(s): S, Path(id): Path<String>) -> Response {
    match s.world().location(&id) {
        Some(l) => Json(json!({"opportunities": l.render_opportunities()})).into_response(),
        None => SimError::bad_request("Location not found").into_response(),
    }
}

async fn add_call(State(s): S, Path(id): Path<String>, Json(call): Json<CallSpec>) -> Response {
    let mut changes = Changes::default();
    let result = s.world().add_call(&id, &call, &mut changes);
    match result {
        Ok((conversation_id, message_id)) => {
            s.send_events(changes.events);
            (
                StatusCode::CREATED,
                Json(json!({"conversationId": conversation_id, "messageId": message_id})),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn get_faults(State(s): S) -> Json<FaultConfig> {
    Json(lock(&s.faults).config())
}

async fn set_faults(State(s): S, Json(config): Json<FaultConfig>) -> StatusCode {
    lock(&s.faults).set(config);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(s): S) -> StatusCode {
    lock(&s.faults).clear();
    StatusCode::NO_CONTENT
}

async fn audit(State(s): S, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let since = q.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    Json(json!({"entries": lock(&s.audit).since(since)}))
}

async fn clear_audit(State(s): S) -> StatusCode {
    lock(&s.audit).clear();
    StatusCode::NO_CONTENT
}

async fn get_webhooks(State(s): S) -> Json<WebhookSettings> {
    Json(lock(&s.webhooks).settings.clone())
}

async fn set_webhooks(State(s): S, Json(settings): Json<WebhookSettings>) -> StatusCode {
    lock(&s.webhooks).settings = settings;
    StatusCode::NO_CONTENT
}

async fn deliveries(State(s): S) -> Json<Value> {
    Json(json!({"deliveries": lock(&s.webhooks).deliveries}))
}

async fn keys(State(s): S) -> Json<Value> {
    Json(json!({"ed25519": s.keys.ed25519_public_pem(), "rsa": s.keys.rsa_public_pem()}))
}

async fn get_limits(State(s): S) -> Json<Limits> {
    Json(lock(&s.limiter).limits())
}

async fn set_limits(State(s): S, Json(limits): Json<Limits>) -> StatusCode {
    lock(&s.limiter).set_limits(limits);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AppBody {
    client_id: String,
    client_secret: String,
}

async fn add_app(State(s): S, Json(app): Json<AppBody>) -> StatusCode {
    s.world().add_oauth_app(&app.client_id, &app.client_secret);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct CodeBody {
    client_id: String,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    company_id: Option<String>,
}

async fn issue_code(State(s): S, Json(body): Json<CodeBody>) -> Response {
    let resource = match (body.location_id, body.company_id) {
        (Some(l), _) => Resource::Location(l),
        (None, Some(c)) => Resource::Company(c),
        (None, None) => {
            return SimError::bad_request("location_id or company_id is required").into_response();
        }
    };
    match s.world().issue_auth_code(&body.client_id, resource) {
        Ok(code) => Json(json!({"code": code})).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct Options {
    #[serde(default)]
    wrap_message_lists: Option<bool>,
    #[serde(default)]
    access_token_ttl_s: Option<u64>,
}

async fn set_options(State(s): S, Json(options): Json<Options>) -> StatusCode {
    let mut world = s.world();
    if let Some(wrap) = options.wrap_message_lists {
        world.wrap_message_lists = wrap;
    }
    if let Some(ttl) = options.access_token_ttl_s {
        world.set_access_token_ttl(ttl);
    }
    StatusCode::NO_CONTENT
}
