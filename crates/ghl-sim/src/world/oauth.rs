//! OAuth 2.0 for Marketplace apps: authorization codes, access tokens that expire, rotating
//! refresh tokens, and location tokens minted from agency tokens.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Changes, Resource, TokenInfo, World};
use crate::audit::Effect;
use crate::error::SimError;
use crate::util::{new_uuid, now_ms};

/// A Marketplace app's credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthApp {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
}

#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    resource: Resource,
}

#[derive(Debug)]
pub(crate) struct OAuthState {
    apps: HashMap<String, OAuthApp>,
    codes: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, Grant>,
    /// Access-token lifetime in seconds (GHL: 86,399).
    pub(crate) access_ttl_s: u64,
}

impl Default for OAuthState {
    fn default() -> Self {
        Self {
            apps: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_ttl_s: 86_399,
        }
    }
}

const SCOPES: &str = "contacts.readonly contacts.write opportunities.readonly opportunities.write \
conversations.readonly conversations/message.readonly locations.readonly \
locations/customFields.readonly locations/customFields.write oauth.readonly oauth.write";

impl World {
    /// Registers a Marketplace app.
    pub fn add_oauth_app(&mut self, client_id: &str, client_secret: &str) {
        self.oauth.apps.insert(
            client_id.to_owned(),
            OAuthApp {
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
            },
        );
    }

    /// What GHL's consent page does: an authorization code for an install on `resource`.
    pub fn issue_auth_code(
        &mut self,
        client_id: &str,
        resource: Resource,
    ) -> Result<String, SimError> {
        if !self.oauth.apps.contains_key(client_id) {
            return Err(SimError::bad_request("Unknown client_id"));
        }
        let code = new_uuid().replace('-', "");
        self.oauth.codes.insert(
            code.clone(),
            Grant {
                client_id: client_id.to_owned(),
                resource,
            },
        );
        Ok(code)
    }

    /// Sets the access-token lifetime (tests use seconds).
    pub fn set_access_token_ttl(&mut self, seconds: u64) {
        self.oauth.access_ttl_s = seconds;
    }

    fn mint(&mut self, grant: &Grant, changes: &mut Changes) -> (String, String) {
        let access = format!("at-{}", new_uuid());
        let refresh = format!("rt-{}", new_uuid());
        self.insert_token(
            access.clone(),
            TokenInfo {
                app: grant.client_id.clone(),
                resource: grant.resource.clone(),
                expires_at_ms: Some(now_ms() + self.oauth.access_ttl_s as i64 * 1000),
            },
        );
        self.oauth
            .refresh_tokens
            .insert(refresh.clone(), grant.clone());
        changes.effect(Effect::TokenIssued {
            resource: grant.resource.label(),
        });
        (access, refresh)
    }

    fn grant_body(&self, grant: &Grant, access: &str, refresh: &str) -> Value {
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.oauth.access_ttl_s,
            "refresh_token": refresh,
            "scope": SCOPES,
            "userId": "sim-user-0000000000001",
        });
        match &grant.resource {
            Resource::Location(id) => {
                body["userType"] = json!("Location");
                body["locationId"] = json!(id);
                if let Some(company) = self.locations.get(id).and_then(|l| l.company_id.clone()) {
                    body["companyId"] = json!(company);
                }
            }
            Resource::Company(id) => {
                body["userType"] = json!("Company");
                body["companyId"] = json!(id);
                let approved: Vec<&String> = self
                    .locations
                    .values()
                    .filter(|l| l.company_id.as_deref() == Some(id))
                    .map(|l| &l.id)
                    .collect();
                body["approvedLocations"] = json!(approved);
                body["isBulkInstallation"] = json!(false);
            }
        }
        body
    }

    /// `POST /oauth/token` (form fields already decoded).
    pub fn oauth_token(
        &mut self,
        form: &HashMap<String, String>,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let mut problems = Vec::new();
        for field in ["client_id", "client_secret", "grant_type"] {
            if form.get(field).is_none_or(|v| v.is_empty()) {
                problems.push(format!("{field} should not be empty"));
            }
        }
        let grant_type = form
            .get("grant_type")
            .map(String::as_str)
            .unwrap_or_default();
        if !["authorization_code", "refresh_token", "client_credentials"].contains(&grant_type) {
            problems.push("grant_type must be a valid enum value".to_owned());
        }
        for key in form.keys() {
            if ![
                "client_id",
                "client_secret",
                "grant_type",
                "code",
                "refresh_token",
                "user_type",
                "redirect_uri",
            ]
            .contains(&key.as_str())
            {
                problems.push(format!("property {key} should not exist"));
            }
        }
        if !problems.is_empty() {
            return Err(SimError::unprocessable(problems));
        }
        let app = self
            .oauth
            .apps
            .get(&form["client_id"])
            .filter(|a| a.client_secret == form["client_secret"])
            .ok_or_else(|| SimError::unauthorized("Invalid client credentials"))?
            .clone();
        let grant = match grant_type {
            "authorization_code" => {
                let code = form.get("code").cloned().unwrap_or_default();
                self.oauth
                    .codes
                    .remove(&code)
                    .filter(|g| g.client_id == app.client_id)
                    .ok_or_else(|| {
                        SimError::new(400, "Invalid grant: authorization code is invalid")
                    })?
            }
            "refresh_token" => {
                let token = form.get("refresh_token").cloned().unwrap_or_default();
                // Refresh tokens rotate: the one used is spent.
                self.oauth
                    .refresh_tokens
                    .remove(&token)
                    .filter(|g| g.client_id == app.client_id)
                    .ok_or_else(|| SimError::new(400, "Invalid grant: refresh token is invalid"))?
            }
            _ => {
                return Err(SimError::new(
                    400,
                    "client_credentials is not supported for Marketplace apps",
                ));
            }
        };
        let (access, refresh) = self.mint(&grant, changes);
        Ok(self.grant_body(&grant, &access, &refresh))
    }

    /// `POST /oauth/locationToken`: an agency token mints a token for one of its locations.
    pub fn location_token(
        &mut self,
        auth: &TokenInfo,
        form: &HashMap<String, String>,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let Resource::Company(company) = &auth.resource else {
            return Err(SimError::wrong_scope());
        };
        let mut problems = Vec::new();
        for field in ["companyId", "locationId"] {
            if form.get(field).is_none_or(|v| v.is_empty()) {
                problems.push(format!("{field} should not be empty"));
            }
        }
        if !problems.is_empty() {
            return Err(SimError::unprocessable(problems));
        }
        if &form["companyId"] != company {
            return Err(SimError::forbidden_location());
        }
        let location = self
            .locations
            .get(&form["locationId"])
            .ok_or_else(|| SimError::bad_request("Location not found"))?;
        if location.company_id.as_deref() != Some(company.as_str()) {
            return Err(SimError::forbidden_location());
        }
        let location_id = location.id.clone();
        let grant = Grant {
            client_id: auth.app.clone(),
            resource: Resource::Location(location_id.clone()),
        };
        let (access, refresh) = self.mint(&grant, changes);
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.oauth.access_ttl_s,
            "refresh_token": refresh,
            "scope": SCOPES,
            "locationId": location_id,
            "userId": "sim-user-0000000000001",
            "appId": auth.app,
            "versionId": auth.app,
        }))
    }
}
