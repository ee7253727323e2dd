//! Pipelines and opportunities, with GHL's duplicate rule and its double webhooks (one
//! change sends `OpportunityUpdate` and the specific event, highlevel-api-docs#27).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Changes, Location, TokenInfo, World};
use crate::audit::Effect;
use crate::error::SimError;
use crate::util::{from_ms, iso, now_ms};

/// A pipeline stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineStage {
    /// Stage id (UUID).
    pub id: String,
    /// Name.
    pub name: String,
}

/// A pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Pipeline id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Stages in order.
    pub stages: Vec<PipelineStage>,
}

/// A stored opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityRecord {
    /// Opportunity id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Pipeline.
    pub pipeline_id: String,
    /// Stage.
    pub pipeline_stage_id: String,
    /// `open`, `won`, `lost` or `abandoned`.
    pub status: String,
    /// Contact.
    pub contact_id: String,
    /// Value.
    pub monetary_value: Option<f64>,
    /// Assigned user.
    pub assigned_to: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Lost reason.
    pub lost_reason_id: Option<String>,
    /// Custom field values `{id, fieldValue}`.
    pub custom_fields: Vec<Value>,
    /// Followers.
    pub followers: Vec<String>,
    /// Created (ms).
    pub created_ms: i64,
    /// Updated (ms).
    pub updated_ms: i64,
    /// Last status change (ms).
    pub status_changed_ms: i64,
    /// Last stage change (ms).
    pub stage_changed_ms: i64,
}

impl OpportunityRecord {
    /// `SearchOpportunitiesResponseSchema`.
    pub fn render(&self, location: &Location) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "pipelineId": self.pipeline_id,
            "pipelineStageId": self.pipeline_stage_id,
            "status": self.status,
            "contactId": self.contact_id,
            "locationId": location.id,
            "source": self.source.clone().unwrap_or_default(),
            "createdAt": iso(from_ms(self.created_ms)),
            "updatedAt": iso(from_ms(self.updated_ms)),
            "lastStatusChangeAt": iso(from_ms(self.status_changed_ms)),
            "lastStageChangeAt": iso(from_ms(self.stage_changed_ms)),
            "customFields": self.custom_fields,
            "followers": self.followers,
        });
        if let Some(m) = self.monetary_value {
            v["monetaryValue"] = json!(m);
        }
        if let Some(a) = &self.assigned_to {
            v["assignedTo"] = json!(a);
        }
        if let Some(r) = &self.lost_reason_id {
            v["lostReasonId"] = json!(r);
        }
        if let Some(c) = location.contacts.get(&self.contact_id) {
            let mut contact = json!({"id": c.id, "tags": c.tags});
            for (key, value) in [
                (
                    "name",
                    c.name.clone().or_else(|| {
                        let n = [c.first_name.as_deref(), c.last_name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" ");
                        (!n.is_empty()).then_some(n)
                    }),
                ),
                ("companyName", c.company_name.clone()),
                ("email", c.email.clone()),
                ("phone", c.phone.clone()),
            ] {
                if let Some(value) = value {
                    contact[key] = json!(value);
                }
            }
            v["contact"] = contact;
        }
        v
    }

    fn webhook_payload(&self) -> Map<String, Value> {
        let mut v = json!({
            "id": self.id,
            "contactId": self.contact_id,
            "name": self.name,
            "pipelineId": self.pipeline_id,
            "pipelineStageId": self.pipeline_stage_id,
            "status": self.status,
            "source": self.source.clone().unwrap_or_default(),
            "dateAdded": iso(from_ms(self.created_ms)),
            "monetaryValue": self.monetary_value.unwrap_or(0.0),
        });
        if let Some(a) = &self.assigned_to {
            v["assignedTo"] = json!(a);
        }
        v.as_object().cloned().unwrap_or_default()
    }
}

impl Location {
    fn pipeline(&self, id: &str) -> Result<&Pipeline, SimError> {
        self.pipelines
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(|| SimError::bad_request("Pipeline not found"))
    }

    fn stage_in(&self, pipeline_id: &str, stage: Option<&str>) -> Result<String, SimError> {
        let pipeline = self.pipeline(pipeline_id)?;
        match stage {
            Some(s) => pipeline
                .stages
                .iter()
                .find(|st| st.id == s)
                .map(|st| st.id.clone())
                .ok_or_else(|| SimError::bad_request("Pipeline stage not found")),
            None => pipeline
                .stages
                .first()
                .map(|st| st.id.clone())
                .ok_or_else(|| SimError::bad_request("Pipeline has no stages")),
        }
    }

    fn existing_for(&self, contact_id: &str, pipeline_id: &str) -> Option<&OpportunityRecord> {
        self.opportunities
            .values()
            .find(|o| o.contact_id == contact_id && o.pipeline_id == pipeline_id)
    }

    /// Applies an update body and sends `OpportunityUpdate` plus one specific event per kind
    /// of change.
    fn change_opportunity(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        changes: &mut Changes,
    ) -> Result<(), SimError> {
        let before = self.opportunities[id].clone();
        let mut after = before.clone();
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(p) = text("pipelineId") {
            self.pipeline(&p)?;
            after.pipeline_id = p;
            if text("pipelineStageId").is_none() {
                after.pipeline_stage_id = self.stage_in(&after.pipeline_id, None)?;
            }
        }
        if let Some(s) = text("pipelineStageId") {
            after.pipeline_stage_id = self.stage_in(&after.pipeline_id, Some(&s))?;
        }
        if let Some(n) = text("name") {
            after.name = n;
        }
        if let Some(s) = text("status") {
            if s == "all" {
                return Err(SimError::bad_request("status all is only a search filter"));
            }
            after.status = s;
        }
        if let Some(m) = body.get("monetaryValue").and_then(Value::as_f64) {
            after.monetary_value = Some(m);
        }
        if let Some(a) = text("assignedTo") {
            after.assigned_to = Some(a);
        }
        if let Some(r) = text("lostReasonId") {
            after.lost_reason_id = Some(r);
        }
        if let Some(cf) = body.get("customFields").and_then(Value::as_array) {
            for item in cf {
                let Some(fid) = item.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let value = item
                    .get("field_value")
                    .or_else(|| item.get("fieldValue"))
                    .cloned()
                    .unwrap_or(Value::Null);
                after
                    .custom_fields
                    .retain(|v| v.get("id").and_then(Value::as_str) != Some(fid));
                after
                    .custom_fields
                    .push(json!({"id": fid, "fieldValue": value}));
            }
        }
        if after == before {
            return Ok(());
        }
        let now = now_ms();
        after.updated_ms = now;
        let mut specific = Vec::new();
        if after.status != before.status {
            after.status_changed_ms = now;
            specific.push("OpportunityStatusUpdate");
        }
        if after.pipeline_stage_id != before.pipeline_stage_id
            || after.pipeline_id != before.pipeline_id
        {
            after.stage_changed_ms = now;
            specific.push("OpportunityStageUpdate");
        }
        if after.monetary_value != before.monetary_value {
            specific.push("OpportunityMonetaryValueUpdate");
        }
        if after.assigned_to != before.assigned_to {
            specific.push("OpportunityAssignedToUpdate");
        }
        changes.effect(Effect::OpportunityUpdated {
            location_id: self.id.clone(),
            opportunity_id: id.to_owned(),
        });
        changes.emit("OpportunityUpdate", &self.id, after.webhook_payload());
        for event in specific {
            changes.emit(event, &self.id, after.webhook_payload());
        }
        self.opportunities.insert(id.to_owned(), after);
        Ok(())
    }

    fn insert_opportunity(
        &mut self,
        id: String,
        body: &Map<String, Value>,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let pipeline_id = text("pipelineId").unwrap_or_default();
        let contact_id = text("contactId").ok_or_else(|| {
            SimError::unprocessable(vec!["contactId should not be empty".to_owned()])
        })?;
        if !self.contacts.contains_key(&contact_id) {
            return Err(SimError::bad_request("Contact not found"));
        }
        let stage = self.stage_in(&pipeline_id, text("pipelineStageId").as_deref())?;
        if !self.settings.allow_duplicate_opportunity
            && let Some(existing) = self.existing_for(&contact_id, &pipeline_id)
        {
            return Err(SimError::duplicate_opportunity(&existing.id));
        }
        let status = text("status").unwrap_or_else(|| "open".to_owned());
        if status == "all" {
            return Err(SimError::bad_request("status all is only a search filter"));
        }
        let now = self.creation_ms();
        let record = OpportunityRecord {
            id: id.clone(),
            name: text("name").unwrap_or_default(),
            pipeline_id,
            pipeline_stage_id: stage,
            status,
            contact_id,
            monetary_value: body.get("monetaryValue").and_then(Value::as_f64),
            assigned_to: text("assignedTo"),
            source: None,
            lost_reason_id: text("lostReasonId"),
            custom_fields: body
                .get("customFields")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| {
                            let id = i.get("id")?.as_str()?;
                            let v = i.get("field_value").or_else(|| i.get("fieldValue"))?;
                            Some(json!({"id": id, "fieldValue": v}))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            followers: body
                .get("followers")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            created_ms: now,
            updated_ms: now,
            status_changed_ms: now,
            stage_changed_ms: now,
        };
        changes.effect(Effect::OpportunityCreated {
            location_id: self.id.clone(),
            opportunity_id: id.clone(),
        });
        changes.emit("OpportunityCreate", &self.id, record.webhook_payload());
        changes.emit("OpportunityUpdate", &self.id, record.webhook_payload());
        let rendered = record.render(self);
        self.opportunities.insert(id, record);
        Ok(rendered)
    }
}

fn as_object(body: &Value) -> Map<String, Value> {
    body.as_object().cloned().unwrap_or_default()
}

impl World {
    /// Adds a pipeline with named stages.
    pub fn add_pipeline(
        &mut self,
        location_id: &str,
        name: &str,
        stages: &[&str],
    ) -> Result<Pipeline, SimError> {
        let id = self.new_id();
        let stages = stages
            .iter()
            .map(|s| PipelineStage {
                id: self.new_uuid(),
                name: (*s).to_owned(),
            })
            .collect();
        let pipeline = Pipeline {
            id,
            name: name.to_owned(),
            stages,
        };
        self.location_mut(location_id)?
            .pipelines
            .push(pipeline.clone());
        Ok(pipeline)
    }

    /// `GET /opportunities/pipelines`.
    pub fn list_pipelines(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let pipelines: Vec<Value> = location
            .pipelines
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "stages": p.stages.iter().enumerate().map(|(i, s)| json!({
                        "id": s.id, "name": s.name, "position": i, "showInFunnel": true, "showInPieChart": true,
                    })).collect::<Vec<_>>(),
                    "showInFunnel": true,
                    "showInPieChart": true,
                    "locationId": location.id,
                })
            })
            .collect();
        Ok(json!({ "pipelines": pipelines }))
    }

    /// `POST /opportunities/`.
    pub fn create_opportunity(
        &mut self,
        auth: &TokenInfo,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let body = as_object(body);
        let id = self.new_id();
        let location =
            self.authorized_location(auth, body.get("locationId").and_then(Value::as_str))?;
        let rendered = location.insert_opportunity(id.clone(), &body, changes)?;
        let location_id = location.id.clone();
        self.index_object(&id, &location_id);
        Ok(json!({ "opportunity": rendered }))
    }

    /// `GET /opportunities/{id}`.
    pub fn get_opportunity(&mut self, auth: &TokenInfo, id: &str) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Opportunity")?;
        let o = location
            .opportunities
            .get(id)
            .ok_or_else(|| SimError::bad_request("Opportunity not found"))?;
        Ok(json!({ "opportunity": o.render(location) }))
    }

    /// `PUT /opportunities/{id}`.
    pub fn update_opportunity(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Opportunity")?;
        if !location.opportunities.contains_key(id) {
            return Err(SimError::bad_request("Opportunity not found"));
        }
        location.change_opportunity(id, &as_object(body), changes)?;
        Ok(json!({ "opportunity": location.opportunities[id].render(location) }))
    }

    /// `PUT /opportunities/{id}/status`.
    pub fn update_opportunity_status(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Opportunity")?;
        if !location.opportunities.contains_key(id) {
            return Err(SimError::bad_request("Opportunity not found"));
        }
        location.change_opportunity(id, &as_object(body), changes)?;
        Ok(json!({ "succeded": true }))
    }

    /// `DELETE /opportunities/{id}`: sends `OpportunityDelete` and `OpportunityUpdate`.
    pub fn delete_opportunity(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Opportunity")?;
        let record = location
            .opportunities
            .shift_remove(id)
            .ok_or_else(|| SimError::bad_request("Opportunity not found"))?;
        changes.effect(Effect::OpportunityDeleted {
            location_id: location.id.clone(),
            opportunity_id: id.to_owned(),
        });
        changes.emit("OpportunityDelete", &location.id, record.webhook_payload());
        changes.emit("OpportunityUpdate", &location.id, record.webhook_payload());
        self.unindex_object(id);
        Ok(json!({ "succeded": true }))
    }

    /// `POST /opportunities/upsert`: by `id` when given, else the contact's opportunity in
    /// the pipeline, else a new one.
    pub fn upsert_opportunity(
        &mut self,
        auth: &TokenInfo,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let body = as_object(body);
        let new_id = self.new_id();
        let location =
            self.authorized_location(auth, body.get("locationId").and_then(Value::as_str))?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let pipeline_id = text("pipelineId").unwrap_or_default();
        location.pipeline(&pipeline_id)?;
        let existing = match text("id") {
            Some(id) => Some(
                location
                    .opportunities
                    .get(&id)
                    .map(|o| o.id.clone())
                    .ok_or_else(|| SimError::bad_request("Opportunity not found"))?,
            ),
            None => text("contactId").and_then(|c| {
                location
                    .existing_for(&c, &pipeline_id)
                    .map(|o| o.id.clone())
            }),
        };
        let location_id = location.id.clone();
        let (is_new, rendered) = match existing {
            Some(id) => {
                let mut update = body.clone();
                update.retain(|k, _| {
                    [
                        "pipelineId",
                        "name",
                        "pipelineStageId",
                        "status",
                        "monetaryValue",
                        "assignedTo",
                        "lostReasonId",
                    ]
                    .contains(&k.as_str())
                });
                location.change_opportunity(&id, &update, changes)?;
                (false, location.opportunities[&id].render(location))
            }
            None => (
                true,
                location.insert_opportunity(new_id.clone(), &body, changes)?,
            ),
        };
        if is_new {
            self.index_object(&new_id, &location_id);
        }
        Ok(json!({ "opportunity": rendered, "new": is_new }))
    }

    /// `GET /opportunities/search`.
    pub fn search_opportunities(
        &mut self,
        auth: &TokenInfo,
        query: &std::collections::HashMap<String, String>,
    ) -> Result<Value, SimError> {
        let location_id = query.get("location_id").ok_or_else(|| {
            SimError::unprocessable(vec!["location_id should not be empty".to_owned()])
        })?;
        let location = self.authorized_location(auth, Some(location_id))?;
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(SimError::unprocessable(vec![
                "limit must not be greater than 100".to_owned(),
            ]));
        }
        let page: usize = query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let status = query
            .get("status")
            .map(String::as_str)
            .filter(|s| *s != "all");
        let q = query.get("q").map(|s| s.to_lowercase());
        let hits: Vec<&OpportunityRecord> = location
            .opportunities
            .values()
            .filter(|o| query.get("pipeline_id").is_none_or(|p| &o.pipeline_id == p))
            .filter(|o| {
                query
                    .get("pipeline_stage_id")
                    .is_none_or(|s| &o.pipeline_stage_id == s)
            })
            .filter(|o| query.get("contact_id").is_none_or(|c| &o.contact_id == c))
            .filter(|o| query.get("id").is_none_or(|i| &o.id == i))
            .filter(|o| status.is_none_or(|s| o.status == s))
            .filter(|o| {
                q.as_ref()
                    .is_none_or(|q| o.name.to_lowercase().contains(q.as_str()))
            })
            .collect();
        let total = hits.len();
        let page_hits: Vec<&OpportunityRecord> = hits
            .into_iter()
            .skip((page - 1) * limit)
            .take(limit)
            .collect();
        let mut meta = json!({"total": total, "currentPage": page});
        if page > 1 {
            meta["prevPage"] = json!(page - 1);
        }
        if page * limit < total {
            meta["nextPage"] = json!(page + 1);
        }
        if let Some(last) = page_hits.last() {
            meta["startAfterId"] = json!(last.id);
            meta["startAfter"] = json!(last.created_ms);
        }
        let opportunities: Vec<Value> = page_hits.iter().map(|o| o.render(location)).collect();
        Ok(json!({"opportunities": opportunities, "meta": meta, "aggregations": {}}))
    }
}
