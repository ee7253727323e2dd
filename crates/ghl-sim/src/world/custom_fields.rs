//! Custom field definitions of a location: list, create, get (by id or key), update and
//! delete. A deleted field's values disappear from every contact, as in GHL.

use serde_json::{Value, json};

use super::{Changes, Location, TokenInfo, World};
use crate::audit::Effect;
use crate::error::SimError;

/// `contact.<slug of name>`: lower-case, spaces and dashes as `_`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if (c.is_whitespace() || c == '-' || c == '_') && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

impl World {
    /// `GET /locations/{id}/customFields`.
    pub fn list_custom_fields(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        model: Option<&str>,
    ) -> Result<Value, SimError> {
        if let Some(m) = model
            && !["contact", "opportunity", "all"].contains(&m)
        {
            return Err(SimError::unprocessable(vec![
                "model must be one of the following values: contact, opportunity, all".to_owned(),
            ]));
        }
        let location = self.authorized_location(auth, Some(location_id))?;
        Ok(json!({ "customFields": location.render_custom_fields(model) }))
    }

    /// `POST /locations/{id}/customFields`.
    pub fn create_custom_field(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let name = text("name").unwrap_or_default();
        let model = text("model").unwrap_or_else(|| "contact".to_owned());
        let key = text("fieldKey")
            .map(|k| {
                k.split_once('.')
                    .map_or(k.clone(), |(_, rest)| rest.to_owned())
            })
            .unwrap_or_else(|| slug(&name));
        let location = self.authorized_location(auth, Some(location_id))?;
        if location
            .custom_fields
            .iter()
            .any(|f| f.model == model && f.short_key() == key)
        {
            return Err(SimError::bad_request(format!(
                "A custom field with the key {model}.{key} already exists"
            )));
        }
        let location_id = location.id.clone();
        let mut record = self.add_custom_field(
            &location_id,
            &name,
            &key,
            &text("dataType").unwrap_or_default(),
            &model,
        )?;
        record.placeholder = text("placeholder");
        if let Some(p) = body.get("position").and_then(Value::as_f64) {
            record.position = p;
        }
        if let Some(options) = body.get("textBoxListOptions").and_then(Value::as_array) {
            record.picklist_options = option_labels(options);
        }
        let location = self.location_mut(&location_id)?;
        if let Some(stored) = location
            .custom_fields
            .iter_mut()
            .find(|f| f.id == record.id)
        {
            *stored = record.clone();
        }
        changes.effect(Effect::CustomFieldCreated {
            location_id: location_id.clone(),
            field_id: record.id.clone(),
        });
        Ok(json!({ "customField": record.render(&location_id) }))
    }

    /// The field `id_or_key` names (its id, or a key such as `contact.first_name`).
    fn field_index(location: &Location, id_or_key: &str) -> Result<usize, SimError> {
        location
            .custom_fields
            .iter()
            .position(|f| f.id == id_or_key || f.field_key == id_or_key)
            .ok_or_else(|| SimError::bad_request("Custom field not found"))
    }

    /// `GET /locations/{id}/customFields/{id or fieldKey}`.
    pub fn get_custom_field(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        id_or_key: &str,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let field = &location.custom_fields[Self::field_index(location, id_or_key)?];
        Ok(json!({ "customField": field.render(&location.id) }))
    }

    /// `PUT /locations/{id}/customFields/{id}`: the name, and what else the body gives.
    pub fn update_custom_field(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        field_id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let i = Self::field_index(location, field_id)?;
        let location_id = location.id.clone();
        let field = &mut location.custom_fields[i];
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            field.name = name.to_owned();
        }
        if let Some(p) = body.get("placeholder").and_then(Value::as_str) {
            field.placeholder = Some(p.to_owned());
        }
        if let Some(p) = body.get("position").and_then(Value::as_f64) {
            field.position = p;
        }
        if let Some(m) = body.get("model").and_then(Value::as_str) {
            field.model = m.to_owned();
        }
        if let Some(options) = body.get("textBoxListOptions").and_then(Value::as_array) {
            field.picklist_options = option_labels(options);
        }
        changes.effect(Effect::CustomFieldUpdated {
            location_id: location_id.clone(),
            field_id: field.id.clone(),
        });
        Ok(json!({ "customField": field.render(&location_id) }))
    }

    /// `DELETE /locations/{id}/customFields/{id}`: the definition and every contact's value.
    pub fn delete_custom_field(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        field_id: &str,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let i = Self::field_index(location, field_id)?;
        let field = location.custom_fields.remove(i);
        for contact in location.contacts.values_mut() {
            contact.custom_fields.shift_remove(&field.id);
        }
        changes.effect(Effect::CustomFieldDeleted {
            location_id: location.id.clone(),
            field_id: field.id.clone(),
        });
        self.unindex_object(&field.id);
        Ok(json!({ "succeded": true }))
    }
}

/// Option labels of `textBoxListOptions`: strings, or objects with a `label`.
fn option_labels(options: &[Value]) -> Vec<String> {
    options
        .iter()
        .filter_map(|o| {
            o.as_str()
                .map(str::to_owned)
                .or_else(|| o.get("label").and_then(Value::as_str).map(str::to_owned))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs() {
        assert_eq!(slug("Lead Score"), "lead_score");
        assert_eq!(slug(" tipo de usuario "), "tipo_de_usuario");
        assert_eq!(slug("A--B"), "a_b");
    }
}
