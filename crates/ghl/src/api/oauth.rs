//! OAuth 2.0 for Marketplace apps (`apps/oauth.json`): authorization-code exchange, refresh,
//! and minting a location token from an agency token. Bodies are form-encoded, as GHL
//! requires.
//!
//! Refresh tokens rotate: every refresh answers a new refresh token and the old one must be
//! considered spent, so callers persist both tokens before using the new access token.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::de::null_default;
use crate::ids::{CompanyId, LocationId, UserId};

/// A Marketplace app's client credentials.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: SecretString,
}

impl OAuthApp {
    /// Credentials from the app's settings page.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

/// Whose token to mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserType {
    /// An agency token.
    Company,
    /// A sub-account token.
    Location,
}

/// What `/oauth/token` and `/oauth/locationToken` answer. Tokens are secrets: they print as
/// `[REDACTED]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGrant {
    /// The access token (about one day).
    #[serde(rename = "access_token")]
    pub access_token: SecretString,
    /// `Bearer`.
    #[serde(rename = "token_type", default)]
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    #[serde(rename = "expires_in", default)]
    pub expires_in: Option<u64>,
    /// The new refresh token (one year; rotates on every use).
    #[serde(rename = "refresh_token", default)]
    pub refresh_token: Option<SecretString>,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// Company or Location.
    #[serde(default)]
    pub user_type: Option<UserType>,
    /// Location of a location token.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Agency.
    #[serde(default)]
    pub company_id: Option<CompanyId>,
    /// Installing user.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Locations approved in a bulk install.
    #[serde(default, deserialize_with = "null_default")]
    pub approved_locations: Vec<LocationId>,
    /// Every other field GHL sent (plan, app and version ids, install flags).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use reqwest::Method;

    #[derive(Serialize)]
    struct TokenForm<'a> {
        client_id: &'a str,
        client_secret: &'a str,
        grant_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        refresh_token: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_type: Option<UserType>,
        #[serde(skip_serializing_if = "Option::is_none")]
        redirect_uri: Option<&'a str>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct LocationTokenForm<'a> {
        company_id: &'a str,
        location_id: &'a str,
    }

    impl Client {
        /// `POST /oauth/token` with `grant_type=authorization_code`: trades the code GHL put on
        /// the redirect URL for tokens. Needs no token on the client.
        pub async fn exchange_code(
            &self,
            app: &OAuthApp,
            code: &str,
            redirect_uri: Option<&str>,
            user_type: Option<UserType>,
        ) -> Result<Response<TokenGrant>, Error> {
            use secrecy::ExposeSecret;
            let form = TokenForm {
                client_id: &app.client_id,
                client_secret: app.client_secret.expose_secret(),
                grant_type: "authorization_code",
                code: Some(code),
                refresh_token: None,
                user_type,
                redirect_uri,
            };
            let rb = self
                .request_without_token(Method::POST, &["oauth", "token"])
                .form(&form);
            self.send_json(rb).await
        }

        /// `POST /oauth/token` with `grant_type=refresh_token`. The answer holds a NEW refresh
        /// token; persist it before anything else.
        pub async fn refresh_access_token(
            &self,
            app: &OAuthApp,
            refresh_token: &SecretString,
            user_type: Option<UserType>,
        ) -> Result<Response<TokenGrant>, Error> {
            use secrecy::ExposeSecret;
            let form = TokenForm {
                client_id: &app.client_id,
                client_secret: app.client_secret.expose_secret(),
                grant_type: "refresh_token",
                code: None,
                refresh_token: Some(refresh_token.expose_secret()),
                user_type,
                redirect_uri: None,
            };
            let rb = self
                .request_without_token(Method::POST, &["oauth", "token"])
                .form(&form);
            self.send_json(rb).await
        }

        /// `POST /oauth/locationToken`: a location token minted with this client's agency token.
        pub async fn location_token(
            &self,
            company_id: &CompanyId,
            location_id: &LocationId,
        ) -> Result<Response<TokenGrant>, Error> {
            let rb = self
                .request(
                    Method::POST,
                    &["oauth", "locationToken"],
                    Some(ApiVersion::V2021_07_28),
                )?
                .form(&LocationTokenForm {
                    company_id: company_id.as_str(),
                    location_id: location_id.as_str(),
                });
            self.send_json(rb).await
        }
    }
}
