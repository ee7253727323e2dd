//! GHL's error answers, in the NestJS envelope GHL uses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: status and GHL-shaped body.
#[derive(Clone, Debug, PartialEq)]
pub struct SimError {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

impl SimError {
    /// `{statusCode, message, error}`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"statusCode": status, "message": message.into(), "error": reason(status)}),
        }
    }

    /// 400 `BadRequestDTO` (`{statusCode, message}`); GHL's v2 spec declares 400, not 404,
    /// for an unknown id, so "not found" answers use it too.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            body: json!({"statusCode": 400, "message": message.into()}),
        }
    }

    /// 401 `UnauthorizedDTO`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }

    /// 403 for a token of another location (highlevel-api-docs#213).
    pub fn forbidden_location() -> Self {
        Self {
            status: 403,
            body: json!({"statusCode": 403, "message": "The token does not have access to this location."}),
        }
    }

    /// 401 for a token of the wrong kind (agency token on a location route and vice versa).
    pub fn wrong_scope() -> Self {
        Self::unauthorized("The token is not authorized for this scope.")
    }

    /// 422 `UnprocessableDTO` with a message list.
    pub fn unprocessable(messages: Vec<String>) -> Self {
        Self {
            status: 422,
            body: json!({"statusCode": 422, "message": messages, "error": "Unprocessable Entity"}),
        }
    }

    /// 400 when a duplicate contact is created in a location that forbids duplicates.
    pub fn duplicate_contact(contact_id: &str, contact_name: &str, matching_field: &str) -> Self {
        Self {
            status: 400,
            body: json!({
                "statusCode": 400,
                "message": "This location does not allow duplicated contacts.",
                "meta": {"contactId": contact_id, "contactName": contact_name, "matchingField": matching_field},
            }),
        }
    }

    /// 400 when a second opportunity is created for a contact in a pipeline.
    pub fn duplicate_opportunity(existing_id: &str) -> Self {
        Self {
            status: 400,
            body: json!({
                "statusCode": 400,
                "message": "Can not create duplicate opportunity for the contact.",
                "code": "OPPORTUNITY_NO_DUPLICATE",
                "meta": {"existingId": existing_id},
                "error": "Bad Request",
            }),
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body)).into_response()
    }
}
