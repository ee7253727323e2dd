//! The HTTP core shared by every operation: base URL, bearer token, `Version` header,
//! timeouts, and turning an answer into a typed [`Response`] or [`Error`].
//!
//! It does not retry or pace calls. Retrying and rate limiting belong to the caller, which
//! knows whether a call is idempotent and how many calls other workers are making.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Reply};
use crate::rate_limit::RateLimit;

/// GHL's API host for every API group.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// The `Version` header value an operation is declared with in GHL's OpenAPI files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    /// Contacts, opportunities, locations and custom fields, `/oauth/locationToken`.
    V2021_07_28,
    /// Conversations and messages.
    V2021_04_15,
}

impl ApiVersion {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2021_07_28 => "2021-07-28",
            Self::V2021_04_15 => "2021-04-15",
        }
    }
}

/// A successful answer: the decoded body plus status, rate-limit headers and trace id.
#[derive(Clone, Debug)]
pub struct Response<T> {
    /// The decoded body.
    pub data: T,
    /// Status code, `X-RateLimit-*` headers and trace id.
    pub reply: Reply,
}

impl<T> Response<T> {
    /// The decoded body.
    pub fn into_data(self) -> T {
        self.data
    }

    /// The parsed `X-RateLimit-*` headers of this answer.
    pub fn rate_limit(&self) -> &RateLimit {
        &self.reply.rate_limit
    }

    /// Transforms the body, keeping the reply.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            data: f(self.data),
            reply: self.reply,
        }
    }
}

/// Settings for a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("ghl-rust/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ClientBuilder {
    /// Another API host: a white-label `https://services.<domain>` or a simulator.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Total time allowed for one call, body included. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to open a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client (without a token; see [`Client::with_token`]).
    pub fn build(self) -> Result<Client, Error> {
        let base_url = Url::parse(&self.base_url)
            .map_err(|e| Error::InvalidBaseUrl(format!("{}: {e}", self.base_url)))?;
        if base_url.cannot_be_a_base() || !matches!(base_url.scheme(), "http" | "https") {
            return Err(Error::InvalidBaseUrl(self.base_url));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(Error::Transport)?;
        Ok(Client {
            inner: Arc::new(Inner { http, base_url }),
            token: None,
        })
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
}

/// A GHL API client. Cheap to clone; clones share one connection pool.
///
/// The token is per clone, so one client can serve many locations:
/// `client.with_token(location_token)`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    token: Option<SecretString>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Client {
    /// A client for `https://services.leadconnectorhq.com` with default timeouts.
    pub fn new() -> Result<Self, Error> {
        ClientBuilder::default().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A clone that sends `Authorization: Bearer <token>`: a Private Integration token or an
    /// OAuth access token.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            token: Some(SecretString::from(token.into())),
        }
    }

    /// The API host in use.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The URL of `segments` below the base URL; each segment is percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base_url.clone();
        {
            // The builder rejected cannot-be-a-base URLs, so this cannot fail.
            let mut path = url
                .path_segments_mut()
                .expect("base URL checked at build time");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// A request with the bearer token and, when given, the `Version` header.
    pub(crate) fn request(
        &self,
        method: Method,
        segments: &[&str],
        version: Option<ApiVersion>,
    ) -> Result<RequestBuilder, Error> {
        let token = self.token.as_ref().ok_or(Error::MissingToken)?;
        let mut rb = self
            .inner
            .http
            .request(method, self.url(segments))
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(version) = version {
            rb = rb.header("Version", version.as_str());
        }
        Ok(rb)
    }

    /// A request without a token, for `POST /oauth/token`.
    pub(crate) fn request_without_token(
        &self,
        method: Method,
        segments: &[&str],
    ) -> RequestBuilder {
        self.inner
            .http
            .request(method, self.url(segments))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// Sends and decodes a JSON answer.
    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        rb: RequestBuilder,
    ) -> Result<Response<T>, Error> {
        let (reply, body) = self.send_raw(rb).await?;
        let data = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            status: reply.status,
            message: format!(
                "{e}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ),
        })?;
        Ok(Response { data, reply })
    }

    /// Sends and returns the body as text (transcription downloads).
    pub(crate) async fn send_text(&self, rb: RequestBuilder) -> Result<Response<String>, Error> {
        let (reply, body) = self.send_raw(rb).await?;
        let data = String::from_utf8(body.to_vec()).map_err(|e| Error::Decode {
            status: reply.status,
            message: e.to_string(),
        })?;
        Ok(Response { data, reply })
    }

    async fn send_raw(&self, rb: RequestBuilder) -> Result<(Reply, Bytes), Error> {
        let response = rb.send().await.map_err(Error::from_reqwest)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::from_reqwest)?;
        if !status.is_success() {
            return Err(Error::from_response(status, &headers, &body));
        }
        // Success bodies are not parsed twice just for `traceId`; errors carry it.
        let reply = Reply {
            status: status.as_u16(),
            rate_limit: RateLimit::from_headers(&headers),
            trace_id: None,
        };
        tracing::trace!(status = reply.status, remaining = ?reply.rate_limit.remaining, "ghl reply");
        Ok((reply, body))
    }
}
