//! Opportunities and pipelines (`apps/opportunities.json`, `Version: 2021-07-28`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::de::null_default;
use crate::ids::{ContactId, LocationId, OpportunityId, PipelineId, PipelineStageId};

/// An opportunity's status. `all` exists only as a search filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpportunityStatus {
    /// Open.
    Open,
    /// Won.
    Won,
    /// Lost.
    Lost,
    /// Abandoned.
    Abandoned,
}

impl OpportunityStatus {
    /// GHL's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
            Self::Abandoned => "abandoned",
        }
    }
}

/// An opportunity as GHL returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opportunity {
    /// Opportunity id.
    pub id: OpportunityId,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Value.
    #[serde(default)]
    pub monetary_value: Option<f64>,
    /// Pipeline.
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    /// Stage.
    #[serde(default)]
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Assigned user.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// Status; unknown values fail to parse on purpose (GHL documents four).
    #[serde(default)]
    pub status: Option<OpportunityStatus>,
    /// Source.
    #[serde(default)]
    pub source: Option<String>,
    /// Contact.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Creation time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last update time.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Custom fields (`{id, fieldValue}` or GHL's typed variants).
    #[serde(default, deserialize_with = "null_default")]
    pub custom_fields: Vec<Value>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A custom field value on an opportunity write: `{id, key?, field_value}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityCustomField {
    /// Field id (required by GHL).
    pub id: String,
    /// Field key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value.
    pub field_value: Value,
}

/// Body of `POST /opportunities/` (`CreateDto`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOpportunity {
    /// Pipeline (required).
    pub pipeline_id: PipelineId,
    /// Location (required).
    pub location_id: LocationId,
    /// Name (required).
    pub name: String,
    /// Stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Status (required).
    pub status: OpportunityStatus,
    /// Contact (required).
    pub contact_id: ContactId,
    /// Value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monetary_value: Option<f64>,
    /// Assigned user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<OpportunityCustomField>>,
}

/// Body of `PUT /opportunities/{id}` (`UpdateOpportunityDto`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpportunityUpdate {
    /// Move to another pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    /// Rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Move to a stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Change status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OpportunityStatus>,
    /// Change value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monetary_value: Option<f64>,
    /// Reassign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<OpportunityCustomField>>,
}

/// How `followers` on an upsert apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowersAction {
    /// Add the listed followers.
    Add,
    /// Remove the listed followers.
    Remove,
}

/// Body of `POST /opportunities/upsert`.
///
/// GHL's spec changed between releases: the 2025-08 file required `contactId`, the current
/// one requires `followers`, `isRemoveAllFollowers` and `followersActionType` and omits
/// `contactId`. This type sends the union, because an opportunity cannot be matched or
/// created without its contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertOpportunity {
    /// Update this opportunity when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<OpportunityId>,
    /// Pipeline (required).
    pub pipeline_id: PipelineId,
    /// Location (required).
    pub location_id: LocationId,
    /// Contact.
    pub contact_id: ContactId,
    /// Followers to add or remove (required by the current spec; may be empty).
    pub followers: Vec<String>,
    /// Remove every follower first (required by the current spec).
    pub is_remove_all_followers: bool,
    /// How `followers` apply (required by the current spec).
    pub followers_action_type: FollowersAction,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OpportunityStatus>,
    /// Stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monetary_value: Option<f64>,
    /// Assigned user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Lost reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_reason_id: Option<String>,
}

impl UpsertOpportunity {
    /// An upsert of the contact's opportunity in a pipeline.
    pub fn new(
        location_id: impl Into<LocationId>,
        pipeline_id: impl Into<PipelineId>,
        contact_id: impl Into<ContactId>,
    ) -> Self {
        Self {
            id: None,
            pipeline_id: pipeline_id.into(),
            location_id: location_id.into(),
            contact_id: contact_id.into(),
            followers: Vec::new(),
            is_remove_all_followers: false,
            followers_action_type: FollowersAction::Add,
            name: None,
            status: None,
            pipeline_stage_id: None,
            monetary_value: None,
            assigned_to: None,
            lost_reason_id: None,
        }
    }
}

/// What `POST /opportunities/upsert` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpsertedOpportunity {
    /// The opportunity after the upsert.
    pub opportunity: Opportunity,
    /// True when it was created.
    #[serde(default)]
    pub new: bool,
}

/// Query of `GET /opportunities/search` (GHL uses snake_case names here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunitySearch {
    /// Location (required).
    pub location_id: LocationId,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Pipeline filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    /// Stage filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Contact filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Status filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OpportunityStatus>,
    /// Page number, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl OpportunitySearch {
    /// Every opportunity of a location, first page.
    pub fn new(location_id: impl Into<LocationId>) -> Self {
        Self {
            location_id: location_id.into(),
            q: None,
            pipeline_id: None,
            pipeline_stage_id: None,
            contact_id: None,
            status: None,
            page: None,
            limit: None,
        }
    }
}

/// Paging information of an opportunity search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMeta {
    /// Total hits.
    #[serde(default)]
    pub total: Option<f64>,
    /// Current page.
    #[serde(default)]
    pub current_page: Option<f64>,
    /// Next page, if any.
    #[serde(default)]
    pub next_page: Option<f64>,
    /// Previous page, if any.
    #[serde(default)]
    pub prev_page: Option<f64>,
    /// Cursor id.
    #[serde(default)]
    pub start_after_id: Option<String>,
    /// Cursor time (ms).
    #[serde(default)]
    pub start_after: Option<f64>,
    /// URL of the next page.
    #[serde(default)]
    pub next_page_url: Option<String>,
}

/// One page of opportunities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityPage {
    /// The hits.
    #[serde(default, deserialize_with = "null_default")]
    pub opportunities: Vec<Opportunity>,
    /// Paging.
    #[serde(default)]
    pub meta: SearchMeta,
}

/// A pipeline stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStage {
    /// Stage id.
    pub id: PipelineStageId,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Position.
    #[serde(default)]
    pub position: Option<f64>,
}

/// A pipeline with its stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// Pipeline id.
    pub id: PipelineId,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Stages in order.
    #[serde(default, deserialize_with = "null_default")]
    pub stages: Vec<PipelineStage>,
    /// Location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
}

impl Pipeline {
    /// The stage with this name (case-insensitive).
    pub fn stage_named(&self, name: &str) -> Option<&PipelineStage> {
        self.stages
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use reqwest::Method;

    const V: Option<ApiVersion> = Some(ApiVersion::V2021_07_28);

    #[derive(Deserialize)]
    struct OpportunityEnvelope {
        opportunity: Opportunity,
    }

    #[derive(Deserialize)]
    struct PipelinesEnvelope {
        #[serde(default, deserialize_with = "null_default")]
        pipelines: Vec<Pipeline>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct StatusBody<'a> {
        status: OpportunityStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        lost_reason_id: Option<&'a str>,
    }

    impl Client {
        /// `POST /opportunities/`. Fails with [`Error::Duplicate`] (carrying the existing id)
        /// when the location allows one opportunity per contact and pipeline.
        pub async fn create_opportunity(
            &self,
            opportunity: &NewOpportunity,
        ) -> Result<Response<Opportunity>, Error> {
            let rb = self
                .request(Method::POST, &["opportunities", ""], V)?
                .json(opportunity);
            Ok(self
                .send_json::<OpportunityEnvelope>(rb)
                .await?
                .map(|e| e.opportunity))
        }

        /// `GET /opportunities/{id}`.
        pub async fn get_opportunity(
            &self,
            id: &OpportunityId,
        ) -> Result<Response<Opportunity>, Error> {
            let rb = self.request(Method::GET, &["opportunities", id.as_str()], V)?;
            Ok(self
                .send_json::<OpportunityEnvelope>(rb)
                .await?
                .map(|e| e.opportunity))
        }

        /// `PUT /opportunities/{id}`.
        pub async fn update_opportunity(
            &self,
            id: &OpportunityId,
            update: &OpportunityUpdate,
        ) -> Result<Response<Opportunity>, Error> {
            let rb = self
                .request(Method::PUT, &["opportunities", id.as_str()], V)?
                .json(update);
            Ok(self
                .send_json::<OpportunityEnvelope>(rb)
                .await?
                .map(|e| e.opportunity))
        }

        /// `PUT /opportunities/{id}/status`. The body is GHL's `{succeded}` flag.
        pub async fn update_opportunity_status(
            &self,
            id: &OpportunityId,
            status: OpportunityStatus,
            lost_reason_id: Option<&str>,
        ) -> Result<Response<bool>, Error> {
            let rb = self
                .request(Method::PUT, &["opportunities", id.as_str(), "status"], V)?
                .json(&StatusBody {
                    status,
                    lost_reason_id,
                });
            Ok(self
                .send_json::<crate::api::Succeeded>(rb)
                .await?
                .map(|s| s.succeded))
        }

        /// `DELETE /opportunities/{id}`.
        pub async fn delete_opportunity(
            &self,
            id: &OpportunityId,
        ) -> Result<Response<bool>, Error> {
            let rb = self.request(Method::DELETE, &["opportunities", id.as_str()], V)?;
            Ok(self
                .send_json::<crate::api::Succeeded>(rb)
                .await?
                .map(|s| s.succeded))
        }

        /// `POST /opportunities/upsert`.
        pub async fn upsert_opportunity(
            &self,
            upsert: &UpsertOpportunity,
        ) -> Result<Response<UpsertedOpportunity>, Error> {
            let rb = self
                .request(Method::POST, &["opportunities", "upsert"], V)?
                .json(upsert);
            self.send_json(rb).await
        }

        /// `GET /opportunities/search`.
        pub async fn search_opportunities(
            &self,
            search: &OpportunitySearch,
        ) -> Result<Response<OpportunityPage>, Error> {
            let rb = self
                .request(Method::GET, &["opportunities", "search"], V)?
                .query(search);
            self.send_json(rb).await
        }

        /// `GET /opportunities/pipelines`.
        pub async fn list_pipelines(
            &self,
            location_id: &LocationId,
        ) -> Result<Response<Vec<Pipeline>>, Error> {
            let rb = self
                .request(Method::GET, &["opportunities", "pipelines"], V)?
                .query(&[("locationId", location_id.as_str())]);
            Ok(self
                .send_json::<PipelinesEnvelope>(rb)
                .await?
                .map(|e| e.pipelines))
        }
    }
}
