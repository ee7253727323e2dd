//! The HTTP core every operation shares: base URL, Basic authentication with the API key
//! pair, `Accept: application/json` (CloudTalk may answer 404 or 406 without it), timeouts,
//! and turning an answer into a typed [`Response`] or an [`Error`].

use std::fmt;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::de::null_default;
use crate::error::{Error, Reply};
use crate::rate_limit::RateLimit;

/// CloudTalk's API host.
pub const DEFAULT_BASE_URL: &str = "https://my.cloudtalk.io/api";

/// The host of the one operation CloudTalk's document serves elsewhere that this client
/// calls: `GET /calls/{callId}` (a call and its flow). Its answers are not wrapped in
/// `responseData` and its errors are NestJS's.
pub const DEFAULT_ANALYTICS_BASE_URL: &str = "https://analytics-api.cloudtalk.io/api";

/// A successful answer: the body (inside `responseData`) and the status and limit headers.
#[derive(Clone, Debug)]
pub struct Response<T> {
    /// The decoded body.
    pub data: T,
    /// Status and `X-CloudTalkAPI-*` headers.
    pub reply: Reply,
}

impl<T> Response<T> {
    /// The parsed limit headers of this answer.
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

/// One page of a listing (`page` from 1, `limit` up to 1,000).
#[derive(Clone, Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// Items on this page.
    #[serde(rename = "itemsCount", default)]
    pub items_count: u64,
    /// Pages in all.
    #[serde(rename = "pageCount", default)]
    pub page_count: u64,
    /// This page's number.
    #[serde(rename = "pageNumber", default)]
    pub page_number: u64,
    /// The page size asked for.
    #[serde(default)]
    pub limit: u64,
    /// The items.
    #[serde(default, deserialize_with = "null_default")]
    pub data: Vec<T>,
}

impl<T> Page<T> {
    /// Transforms the items, keeping the paging.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items_count: self.items_count,
            page_count: self.page_count,
            page_number: self.page_number,
            limit: self.limit,
            data: self.data.into_iter().map(f).collect(),
        }
    }
}

/// Settings for a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    analytics_base_url: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            analytics_base_url: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientBuilder {
    /// Another host (a simulator, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Another host for `GET /calls/{callId}` ([`DEFAULT_ANALYTICS_BASE_URL`]). When not
    /// given it is CloudTalk's analytics host if [`base_url`](Self::base_url) is CloudTalk's,
    /// and that other host otherwise (a simulator serves both).
    pub fn analytics_base_url(mut self, url: impl Into<String>) -> Self {
        self.analytics_base_url = Some(url.into());
        self
    }

    /// How long a call may take in all.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A client acting for the company of the API key `key_id` / `secret`.
    pub fn build(self, key_id: impl Into<String>, secret: SecretString) -> Result<Client, Error> {
        let root = |text: &str| {
            let mut url = Url::parse(text)
                .map_err(|e| Error::Transport(format!("base URL {text:?}: {e}")))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok::<_, Error>(url)
        };
        let base = root(&self.base_url)?;
        let analytics = match &self.analytics_base_url {
            Some(url) => root(url)?,
            None if self.base_url == DEFAULT_BASE_URL => root(DEFAULT_ANALYTICS_BASE_URL)?,
            None => base.clone(),
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("ghlsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Client {
            http,
            base,
            analytics,
            key_id: key_id.into(),
            secret,
        })
    }
}

/// A CloudTalk API client for one company. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    analytics: Url,
    key_id: String,
    secret: SecretString,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("analytics", &self.analytics.as_str())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Settings, starting from CloudTalk's host and a 30 s timeout.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A request to `path` (relative to the API root, `contacts/add.json`).
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_to(&self.base, method, path, "application/json")
    }

    /// A request to `path` on the analytics host (the same credentials, as community
    /// clients use them there).
    pub(crate) fn analytics_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_to(&self.analytics, method, path, "application/json")
    }

    /// A request to `path` accepting `accept` (a recording is `audio/x-wav`, its errors
    /// JSON).
    pub(crate) fn request_accepting(
        &self,
        method: Method,
        path: &str,
        accept: &str,
    ) -> RequestBuilder {
        self.request_to(&self.base, method, path, accept)
    }

    fn request_to(&self, root: &Url, method: Method, path: &str, accept: &str) -> RequestBuilder {
        let url = root
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| root.clone());
        self.http
            .request(method, url)
            .basic_auth(&self.key_id, Some(self.secret.expose_secret()))
            .header(http::header::ACCEPT, accept)
    }

    /// Sends a request; a 2xx answer's status, headers, `Content-Type` and body.
    pub(crate) async fn send_raw(
        &self,
        request: RequestBuilder,
    ) -> Result<(Reply, Option<String>, Vec<u8>), Error> {
        let answer = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout
            } else {
                Error::Transport(e.to_string())
            }
        })?;
        let reply = Reply {
            status: answer.status().as_u16(),
            rate_limit: RateLimit::from_headers(answer.headers()),
        };
        let content_type = answer
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer.bytes().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout
            } else {
                Error::Transport(e.to_string())
            }
        })?;
        if !(200..300).contains(&reply.status) {
            return Err(Error::from_answer(reply, &body));
        }
        Ok((reply, content_type, body.to_vec()))
    }

    /// Sends a request and reads the answer's `responseData` as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<Response<T>, Error> {
        let (reply, _, body) = self.send_raw(request).await?;
        let decode = |message: String, reply: Reply| Error::Decode {
            message,
            reply: Box::new(reply),
        };
        let mut value: serde_json::Value = if body.is_empty() {
            serde_json::Value::Null
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return Err(decode(e.to_string(), reply)),
            }
        };
        // Every documented answer is wrapped; a bare body is read as it is.
        if let Some(inner) = value.get_mut("responseData") {
            value = inner.take();
        }
        match serde_json::from_value(value) {
            Ok(data) => Ok(Response { data, reply }),
            Err(e) => Err(decode(e.to_string(), reply)),
        }
    }
}
