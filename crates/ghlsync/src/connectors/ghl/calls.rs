//! GHL's call stack: one location's client (its token decrypted), its limiter, the reading
//! of `X-RateLimit-*` headers and the classification of GHL's errors.
//!
//! - `X-RateLimit-Remaining: 0` or `Daily-Remaining: 0` holds the location; a 429 holds it
//!   for as long as GHL says and puts the job back without an attempt.
//! - Timeouts, connection failures and 5xx are transient; 400, 401, 404 and 422 are
//!   permanent, with GHL's message.

use std::collections::HashMap;

use ghl::{ContactId, RateLimit};
use ghlsync_core::{Gcra, Location, Millis};
use secrecy::ExposeSecret;

use crate::app::{App, now_ms};
use crate::delivery::limiter::Limiter;
use crate::delivery::{JobError, permanent};
use crate::metrics as m;
use crate::secrets::token_context;

/// A GHL operation ghlsync calls, as errors and `ghlsync_ghl_calls_total` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GhlCall {
    /// `add_note`.
    AddNote,
    /// `add_tags`.
    AddTags,
    /// `bulk_update_tags`.
    BulkUpdateTags,
    /// `create_custom_field`.
    CreateCustomField,
    /// `create_opportunity`.
    CreateOpportunity,
    /// `get_contact`.
    GetContact,
    /// `get_opportunity`.
    GetOpportunity,
    /// `list_custom_fields`.
    ListCustomFields,
    /// `list_notes`.
    ListNotes,
    /// `list_pipelines`.
    ListPipelines,
    /// `remove_tags`.
    RemoveTags,
    /// `search_opportunities`.
    SearchOpportunities,
    /// `update_contact`.
    UpdateContact,
    /// `update_opportunity`.
    UpdateOpportunity,
    /// `update_opportunity_status`.
    UpdateOpportunityStatus,
    /// `upsert_contact`.
    UpsertContact,
}

impl GhlCall {
    /// Every call, for the metrics registered at start.
    pub const ALL: [Self; 16] = [
        Self::AddNote,
        Self::AddTags,
        Self::BulkUpdateTags,
        Self::UpdateContact,
        Self::CreateCustomField,
        Self::CreateOpportunity,
        Self::GetContact,
        Self::GetOpportunity,
        Self::ListCustomFields,
        Self::ListNotes,
        Self::ListPipelines,
        Self::RemoveTags,
        Self::SearchOpportunities,
        Self::UpdateOpportunity,
        Self::UpdateOpportunityStatus,
        Self::UpsertContact,
    ];

    /// The name (the `ghl` client's method).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AddNote => "add_note",
            Self::AddTags => "add_tags",
            Self::BulkUpdateTags => "bulk_update_tags",
            Self::UpdateContact => "update_contact",
            Self::CreateCustomField => "create_custom_field",
            Self::CreateOpportunity => "create_opportunity",
            Self::GetContact => "get_contact",
            Self::GetOpportunity => "get_opportunity",
            Self::ListCustomFields => "list_custom_fields",
            Self::ListNotes => "list_notes",
            Self::ListPipelines => "list_pipelines",
            Self::RemoveTags => "remove_tags",
            Self::SearchOpportunities => "search_opportunities",
            Self::UpdateOpportunity => "update_opportunity",
            Self::UpdateOpportunityStatus => "update_opportunity_status",
            Self::UpsertContact => "upsert_contact",
        }
    }
}

/// GHL calls for one location, through the limiter and the error classification.
pub(crate) struct Ghl<'a> {
    pub(super) app: &'a App,
    pub(super) location: &'a Location,
    pub(super) client: ghl::Client,
}

impl<'a> Ghl<'a> {
    /// The location's client, with its token decrypted.
    pub(crate) fn new(app: &'a App, location: &'a Location) -> Result<Self, JobError> {
        let token = app
            .cipher()
            .open(
                &token_context(location.id.as_str()),
                &location.token_ciphertext,
            )
            .map_err(|e| permanent(e.to_string()))?;
        Ok(Self {
            app,
            location,
            client: app.ghl().with_token(token.expose_secret()),
        })
    }

    /// The live contact and the location's custom field keys by id (a diagnosis), through
    /// the location's limiter like every other call.
    pub(crate) async fn live_contact(
        &self,
        id: &ContactId,
    ) -> Result<(ghl::contacts::Contact, HashMap<String, String>), JobError> {
        let target = id.clone();
        let contact = self
            .call(GhlCall::GetContact, |c| async move {
                c.get_contact(&target).await
            })
            .await?;
        let fields = self.contact_fields().await?;
        let keys = fields
            .iter()
            .filter_map(|f| Some((f.id.to_string(), f.short_key()?.to_owned())))
            .collect();
        Ok((contact, keys))
    }

    /// The location's limiter: GHL's limit is per location.
    fn limiter(&self) -> Limiter<'a> {
        let cfg = &self.app.config().dispatcher;
        Limiter::new(
            self.app,
            format!("ghl:{}", self.location.id),
            Gcra::for_window(cfg.rate_max, cfg.rate_interval_ms, cfg.rate_burst),
        )
    }

    /// Reads GHL's view of the budget: a spent window or day holds the location.
    async fn observe(&self, rl: &RateLimit) {
        let now = now_ms();
        if rl.daily_exhausted() {
            self.limiter()
                .hold(now + ghlsync_core::time::until_next_utc_midnight(now))
                .await;
        } else if rl.remaining == Some(0) {
            let interval = rl
                .interval_ms
                .map_or(self.app.config().dispatcher.rate_interval_ms, |i| {
                    i as Millis
                });
            self.limiter().hold(now + interval).await;
        }
    }

    /// One call: permit, call, headers, classification.
    pub(super) async fn call<T, F, Fut>(&self, what: GhlCall, f: F) -> Result<T, JobError>
    where
        F: FnOnce(ghl::Client) -> Fut,
        Fut: std::future::Future<Output = Result<ghl::Response<T>, ghl::Error>>,
    {
        match self.call_unclassified(what, f).await? {
            Ok(data) => Ok(data),
            Err(e) => Err(self.classify(what, e).await),
        }
    }

    /// One call with GHL's error left for the caller to act on (a duplicate to reuse);
    /// only waiting for the limiter fails early.
    pub(super) async fn call_unclassified<T, F, Fut>(
        &self,
        what: GhlCall,
        f: F,
    ) -> Result<Result<T, ghl::Error>, JobError>
    where
        F: FnOnce(ghl::Client) -> Fut,
        Fut: std::future::Future<Output = Result<ghl::Response<T>, ghl::Error>>,
    {
        self.limiter().permit().await?;
        let result = f(self.client.clone()).await;
        let status = m::status_class(match &result {
            Ok(r) => Some(r.reply.status),
            Err(e) => e.status(),
        });
        metrics::counter!(m::GHL_CALLS, "call" => what.as_str(), "status" => status).increment(1);
        Ok(match result {
            Ok(response) => {
                self.observe(response.rate_limit()).await;
                Ok(response.data)
            }
            Err(e) => {
                if let Some(reply) = e.reply() {
                    self.observe(&reply.rate_limit).await;
                }
                Err(e)
            }
        })
    }

    pub(super) async fn classify(&self, what: GhlCall, e: ghl::Error) -> JobError {
        match e {
            ghl::Error::RateLimited { retry_after, .. } => {
                let until = now_ms() + retry_after.as_millis() as Millis;
                self.limiter().hold(until).await;
                JobError::Held { until }
            }
            e if e.is_transient() => JobError::Transient(format!("{}: {e}", what.as_str())),
            e => permanent(format!("{}: {e}", what.as_str())),
        }
    }
}
