//! What a GHL location has: its custom fields (ids by key, created when a rule writes one
//! the location lacks) and its pipelines and stages, cached and fetched again when a name
//! is unknown; and the GHL contact of a reference.

use std::collections::HashMap;

use ghl::ContactId;
use ghl::contacts::CustomFieldInput;
use ghl::custom_fields::{CustomFieldModel, DataType, NewCustomField};
use ghl::opportunities::Pipeline;
use ghlsync_core::command::ContactRef;
use ghlsync_store::Store;
use serde_json::Value;

use super::calls::{Ghl, GhlCall};
use crate::delivery::{JobError, permanent};

impl Ghl<'_> {
    /// The location's contact custom field definitions, from GHL.
    pub(super) async fn contact_fields(
        &self,
    ) -> Result<Vec<ghl::custom_fields::CustomField>, JobError> {
        let location_id = self.location.id.clone();
        self.call(GhlCall::ListCustomFields, |c| async move {
            c.list_custom_fields(&location_id, Some(CustomFieldModel::Contact))
                .await
        })
        .await
    }

    /// The location's custom field ids by key: the configured mapping first, then GHL's
    /// definitions (fetched once, again when a key is missing).
    pub(super) async fn field_id(
        &self,
        key: &str,
        refresh: bool,
    ) -> Result<Option<String>, JobError> {
        if let Some(id) = self.location.field_mapping.get(key).and_then(Value::as_str) {
            return Ok(Some(id.to_owned()));
        }
        let state = &self.app.connector_state().ghl;
        let cache = &state.fields;
        if !refresh && let Some(fields) = cache.read().await.get(&self.location.id) {
            return Ok(fields.get(key).cloned());
        }
        let asked = std::time::Instant::now();
        let gate = state.field_read(&self.location.id);
        let mut last_read = gate.lock().await;
        // Another job read them while this one waited: that answer is as good as a new one.
        if last_read.is_some_and(|at| at >= asked)
            && let Some(fields) = cache.read().await.get(&self.location.id)
        {
            return Ok(fields.get(key).cloned());
        }
        let fields = self.contact_fields().await?;
        let map: HashMap<String, String> = fields
            .iter()
            .filter_map(|f| Some((f.short_key()?.to_owned(), f.id.to_string())))
            .chain(
                fields
                    .iter()
                    .filter_map(|f| Some((f.name.clone()?, f.id.to_string()))),
            )
            .collect();
        let found = map.get(key).cloned();
        cache.write().await.insert(self.location.id.clone(), map);
        *last_read = Some(std::time::Instant::now());
        Ok(found)
    }

    pub(super) async fn resolve_custom_fields(
        &self,
        values: &std::collections::BTreeMap<String, Value>,
    ) -> Result<Vec<CustomFieldInput>, JobError> {
        let mut out = Vec::with_capacity(values.len());
        for (key, value) in values {
            let id = match self.field_id(key, false).await? {
                Some(id) => id,
                None => match self.field_id(key, true).await? {
                    Some(id) => id,
                    None if self.app.config().dispatcher.create_missing_fields => {
                        self.create_field_once(key, value).await?
                    }
                    None => {
                        return Err(permanent(format!(
                            "custom field {key:?} does not exist in location {}",
                            self.location.id
                        )));
                    }
                },
            };
            out.push(CustomFieldInput::by_id(id, value.clone()));
        }
        Ok(out)
    }

    /// The pipeline and stage ids of names (case-insensitive): cached, fetched again once
    /// when a name is unknown. Unknown names are permanent: a rule names what is not there.
    pub(super) async fn pipeline_stage(
        &self,
        pipeline: &str,
        stage: Option<&str>,
    ) -> Result<(ghl::PipelineId, Option<ghl::PipelineStageId>), JobError> {
        let find = |pipelines: &[Pipeline]| {
            let p = pipelines
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(pipeline))?;
            match stage {
                None => Some((p.id.clone(), None)),
                Some(stage) => Some((p.id.clone(), Some(p.stage_named(stage)?.id.clone()))),
            }
        };
        let cache = &self.app.connector_state().ghl.pipelines;
        if let Some(found) = cache
            .read()
            .await
            .get(&self.location.id)
            .and_then(|p| find(p))
        {
            return Ok(found);
        }
        let location_id = self.location.id.clone();
        let pipelines = self
            .call(GhlCall::ListPipelines, |c| async move {
                c.list_pipelines(&location_id).await
            })
            .await?;
        let found = find(&pipelines);
        cache
            .write()
            .await
            .insert(self.location.id.clone(), pipelines);
        found.ok_or_else(|| {
            permanent(format!(
                "location {} has no pipeline {pipeline:?}{}",
                self.location.id,
                stage.map_or_else(String::new, |s| format!(" with a stage {s:?}"))
            ))
        })
    }

    /// The GHL contact of a reference; a subject not yet synced is worth waiting for.
    pub(super) async fn contact_id(&self, contact: &ContactRef) -> Result<ContactId, JobError> {
        match contact {
            ContactRef::Ghl(id) => Ok(id.clone()),
            ContactRef::Subject(subject) => self
                .app
                .store()
                .linked_contact(&self.location.id, subject)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?
                .ok_or_else(|| permanent(format!("no GHL contact is linked to {subject:?}"))),
        }
    }

    /// Creates a missing field unless another job did first: creations of a location run one
    /// at a time and look again before creating; another instance's creation shows as GHL's
    /// "already exists", after which the field is looked up again.
    pub(super) async fn create_field_once(
        &self,
        key: &str,
        value: &Value,
    ) -> Result<String, JobError> {
        let lock = self
            .app
            .connector_state()
            .ghl
            .field_creation(&self.location.id);
        let _one_at_a_time = lock.lock().await;
        if let Some(id) = self.field_id(key, false).await? {
            return Ok(id);
        }
        match self.create_field(key, value).await {
            Err(JobError::Permanent { message, .. }) => self
                .field_id(key, true)
                .await?
                .ok_or_else(|| permanent(message)),
            other => other,
        }
    }

    /// Creates a contact custom field a rule writes but the location lacks: keyed as the
    /// rule names it, numeric when the value is a number, text otherwise.
    pub(super) async fn create_field(&self, key: &str, value: &Value) -> Result<String, JobError> {
        // A field ghlsync defines (seed 004's broadcast fields) has its own name and type.
        let defined = ghlsync_core::callback::broadcast_field(key);
        let field = NewCustomField {
            name: defined
                .as_ref()
                .map_or_else(|| field_name(key), |(name, _)| (*name).to_owned()),
            data_type: match defined {
                Some((_, data_type)) => data_type,
                None if value.is_number() => DataType::Numerical,
                None => DataType::Text,
            },
            placeholder: None,
            text_box_list_options: None,
            position: None,
            model: Some(CustomFieldModel::Contact),
            field_key: Some(format!("contact.{key}")),
        };
        let location_id = self.location.id.clone();
        let created = self
            .call(GhlCall::CreateCustomField, |c| async move {
                c.create_custom_field(&location_id, &field).await
            })
            .await?;
        tracing::info!(location = %self.location.id, key, id = %created.id, "custom field created");
        let id = created.id.to_string();
        self.app
            .connector_state()
            .ghl
            .fields
            .write()
            .await
            .entry(self.location.id.clone())
            .or_default()
            .insert(key.to_owned(), id.clone());
        Ok(id)
    }
}

/// `expert_level` → `Expert level`: the display name of a field ghlsync creates.
fn field_name(key: &str) -> String {
    let words = key.replace(['_', '-', '.'], " ");
    let mut chars = words.trim().chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_fields_are_named_from_their_key() {
        assert_eq!(field_name("expert_level"), "Expert level");
        assert_eq!(field_name("churn-risk"), "Churn risk");
        assert_eq!(field_name(""), "");
    }
}
