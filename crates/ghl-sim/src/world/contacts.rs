//! Contacts, tags and notes; finding contacts is `contact_search.rs`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Changes, Location, MatchField, TokenInfo, World};
use crate::audit::Effect;
use crate::error::SimError;
use crate::util::{from_ms, iso, normalize_phone};

/// A stored contact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    /// Contact id.
    pub id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Full name as given, when given.
    pub name: Option<String>,
    /// Email as given.
    pub email: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Street.
    pub address1: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Time zone.
    pub timezone: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Assigned user.
    pub assigned_to: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// Date of birth, ISO.
    pub date_of_birth: Option<String>,
    /// Contact type (`lead` when never set, as GHL answers).
    pub contact_type: Option<String>,
    /// `keyword`, writable by `PUT` but absent from GHL's answers (highlevel-api-docs#314).
    pub keyword: Option<String>,
    /// `ssn`, writable by `PUT` but absent from GHL's answers (highlevel-api-docs#314).
    pub ssn: Option<String>,
    /// DND.
    pub dnd: bool,
    /// Per-channel DND.
    pub dnd_settings: Option<Value>,
    /// Inbound DND.
    pub inbound_dnd_settings: Option<Value>,
    /// Tags, lower-case, in the order added.
    pub tags: Vec<String>,
    /// Custom values by field id.
    pub custom_fields: IndexMap<String, Value>,
    /// Created (ms).
    pub created_ms: i64,
    /// Updated (ms).
    pub updated_ms: i64,
}

/// A stored note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NoteRecord {
    pub(crate) id: String,
    pub(crate) contact_id: String,
    pub(crate) body: String,
    pub(crate) user_id: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) color: Option<String>,
    pub(crate) pinned: bool,
    pub(crate) created_ms: i64,
}

impl NoteRecord {
    fn render(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "body": self.body,
            "contactId": self.contact_id,
            "dateAdded": iso(from_ms(self.created_ms)),
            "pinned": self.pinned,
        });
        put(&mut v, "userId", &self.user_id);
        put(&mut v, "title", &self.title);
        put(&mut v, "color", &self.color);
        v
    }
}

fn put(v: &mut Value, key: &str, value: &Option<String>) {
    if let Some(s) = value {
        v[key] = Value::String(s.clone());
    }
}

/// Adds or removes tags (as GHL stores them) in a contact's tag list, keeping its order.
fn change_tag_list(list: &mut Vec<String>, tags: &[String], add: bool) {
    for t in tags.iter().filter_map(|t| tag(t)) {
        if !add {
            list.retain(|x| x != &t);
        } else if !list.contains(&t) {
            list.push(t);
        }
    }
}

/// GHL stores tags trimmed and lower-case.
fn tag(raw: &str) -> Option<String> {
    let t = raw.trim().to_lowercase();
    (!t.is_empty()).then_some(t)
}

impl ContactRecord {
    fn contact_type(&self) -> &str {
        self.contact_type.as_deref().unwrap_or("lead")
    }

    pub(super) fn full_name(&self) -> Option<String> {
        if let Some(n) = &self.name {
            return Some(n.clone());
        }
        let joined = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    }

    fn custom_fields_json(&self) -> Value {
        Value::Array(
            self.custom_fields
                .iter()
                .map(|(id, value)| json!({"id": id, "value": value}))
                .collect(),
        )
    }

    pub(super) fn common(&self, v: &mut Value) {
        put(v, "firstName", &self.first_name);
        put(v, "lastName", &self.last_name);
        put(v, "email", &self.email);
        put(v, "phone", &self.phone);
        put(v, "companyName", &self.company_name);
        put(v, "address1", &self.address1);
        put(v, "city", &self.city);
        put(v, "state", &self.state);
        put(v, "postalCode", &self.postal_code);
        put(v, "country", &self.country);
        put(v, "website", &self.website);
        put(v, "source", &self.source);
        put(v, "assignedTo", &self.assigned_to);
        put(v, "dateOfBirth", &self.date_of_birth);
    }

    fn lowercase_names(&self, v: &mut Value) {
        if let Some(email) = &self.email {
            v["emailLowerCase"] = Value::String(email.to_lowercase());
        }
        put(
            v,
            "firstNameLowerCase",
            &self.first_name.as_ref().map(|s| s.to_lowercase()),
        );
        put(
            v,
            "lastNameLowerCase",
            &self.last_name.as_ref().map(|s| s.to_lowercase()),
        );
        put(
            v,
            "fullNameLowerCase",
            &self.full_name().map(|s| s.to_lowercase()),
        );
    }

    /// `GetContectByIdSchema` (get, update, upsert answers).
    pub fn render_get(&self, location: &Location) -> Value {
        let mut v = json!({
            "id": self.id,
            "locationId": location.id,
            "dnd": self.dnd,
            "type": self.contact_type(),
            "tags": self.tags,
            "customFields": self.custom_fields_json(),
            "dateAdded": iso(from_ms(self.created_ms)),
            "dateUpdated": iso(from_ms(self.updated_ms)),
        });
        self.common(&mut v);
        self.lowercase_names(&mut v);
        put(&mut v, "name", &self.full_name());
        put(&mut v, "timezone", &self.timezone);
        put(&mut v, "gender", &self.gender);
        if let Some(d) = &self.dnd_settings {
            v["dndSettings"] = d.clone();
        }
        v
    }

    /// `CreateContactSchema` (create answer).
    fn render_create(&self, location: &Location) -> Value {
        let mut v = json!({
            "id": self.id,
            "locationId": location.id,
            "dateAdded": iso(from_ms(self.created_ms)),
            "dateUpdated": iso(from_ms(self.updated_ms)),
            "deleted": false,
            "tags": self.tags,
            "type": self.contact_type(),
            "customFields": self.custom_fields_json(),
            "dnd": self.dnd,
        });
        self.common(&mut v);
        self.lowercase_names(&mut v);
        if let Some(d) = &self.dnd_settings {
            v["dndSettings"] = d.clone();
        }
        v
    }

    /// A search hit: the GET shape without `dndSettings` (highlevel-api-docs#43), plus the
    /// `searchAfter` cursor.
    pub(super) fn render_search(&self, location: &Location, cursor: &[Value]) -> Value {
        let mut v = self.render_get(location);
        if let Some(o) = v.as_object_mut() {
            o.remove("dndSettings");
        }
        v["searchAfter"] = Value::Array(cursor.to_vec());
        v
    }

    /// The payload of Contact* webhooks.
    fn webhook_payload(&self, with_dnd_settings: bool) -> Map<String, Value> {
        let mut v = json!({
            "id": self.id,
            "dnd": self.dnd,
            "tags": self.tags,
            "attachments": [],
            "customFields": self.custom_fields_json(),
            "dateAdded": iso(from_ms(self.created_ms)),
        });
        self.common(&mut v);
        put(&mut v, "name", &self.full_name());
        if with_dnd_settings && let Some(d) = &self.dnd_settings {
            v["dndSettings"] = d.clone();
        }
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Applies the properties of a validated create, upsert or update body.
    fn apply(&mut self, body: &Map<String, Value>, location: &Location) -> Result<(), SimError> {
        let text = |key: &str| -> Option<Option<String>> {
            match body.get(key)? {
                Value::Null => Some(None),
                Value::String(s) if s.trim().is_empty() => Some(None),
                Value::String(s) => Some(Some(s.trim().to_owned())),
                other => Some(Some(other.to_string())),
            }
        };
        macro_rules! set {
            ($($key:literal => $field:ident),* $(,)?) => {
                $(if let Some(v) = text($key) { self.$field = v; })*
            };
        }
        set!(
            "firstName" => first_name, "lastName" => last_name, "name" => name,
            "email" => email, "companyName" => company_name, "address1" => address1,
            "city" => city, "state" => state, "postalCode" => postal_code, "country" => country,
            "website" => website, "timezone" => timezone, "source" => source,
            "assignedTo" => assigned_to, "gender" => gender, "type" => contact_type,
            "keyword" => keyword, "ssn" => ssn,
        );
        if let Some(phone) = text("phone") {
            self.phone = match phone {
                None => None,
                Some(raw) => Some(normalize_phone(&raw).ok_or_else(|| {
                    SimError::unprocessable(vec!["phone must be a valid phone number".to_owned()])
                })?),
            };
        }
        if let Some(dob) = text("dateOfBirth") {
            self.date_of_birth = match dob {
                None => None,
                Some(raw) => Some(parse_birth_date(&raw).ok_or_else(|| {
                    SimError::unprocessable(vec!["dateOfBirth must be a valid date".to_owned()])
                })?),
            };
        }
        if let Some(dnd) = body.get("dnd").and_then(Value::as_bool) {
            self.dnd = dnd;
        }
        if let Some(d) = body.get("dndSettings") {
            self.dnd_settings = Some(d.clone());
        }
        if let Some(d) = body.get("inboundDndSettings") {
            self.inbound_dnd_settings = Some(d.clone());
        }
        if let Some(tags) = body.get("tags").and_then(Value::as_array) {
            // Tags in a create, update or upsert body replace the contact's tags.
            self.tags.clear();
            for t in tags.iter().filter_map(Value::as_str).filter_map(tag) {
                if !self.tags.contains(&t) {
                    self.tags.push(t);
                }
            }
        }
        if let Some(items) = body.get("customFields").and_then(Value::as_array) {
            for item in items {
                let id_or_key = item
                    .get("id")
                    .or_else(|| item.get("key"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let value = item
                    .get("field_value")
                    .or_else(|| item.get("fieldValue"))
                    .or_else(|| item.get("value"));
                // Unknown ids (another location's, say) are ignored, as GHL does.
                let (Some(field), Some(value)) = (location.field(id_or_key, "contact"), value)
                else {
                    continue;
                };
                if value.is_null() || value.as_str().is_some_and(str::is_empty) {
                    self.custom_fields.shift_remove(&field.id);
                } else {
                    self.custom_fields.insert(field.id.clone(), value.clone());
                }
            }
        }
        Ok(())
    }

    fn matches(&self, field: MatchField, email: Option<&str>, phone: Option<&str>) -> bool {
        match field {
            MatchField::Email => email.is_some_and(|e| {
                self.email
                    .as_deref()
                    .is_some_and(|mine| mine.eq_ignore_ascii_case(e))
            }),
            MatchField::Phone => phone.is_some_and(|p| self.phone.as_deref() == Some(p)),
        }
    }
}

/// GHL accepts `YYYY-MM-DD`, `MM/DD/YYYY`, `YYYY/MM/DD` and `.` or `_` separated variants,
/// and stores midnight UTC.
fn parse_birth_date(raw: &str) -> Option<String> {
    let date_part = raw.split('T').next()?;
    let parts: Vec<&str> = date_part.split(['-', '/', '.', '_']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, a, b) };
    let (y, m, d): (i32, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let month = time::Month::try_from(m).ok()?;
    let date = time::Date::from_calendar_date(y, month, d).ok()?;
    Some(iso(date.midnight().assume_utc()))
}

fn lower_email(body: &Map<String, Value>) -> Option<String> {
    body.get("email")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_lowercase())
}

fn normalized_phone(body: &Map<String, Value>) -> Option<String> {
    body.get("phone")
        .and_then(Value::as_str)
        .and_then(normalize_phone)
}

impl Location {
    fn find_duplicate(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
        except: Option<&str>,
    ) -> Option<(MatchField, &ContactRecord)> {
        self.settings
            .duplicate_match_order
            .iter()
            .find_map(|&field| {
                self.contacts
                    .values()
                    .filter(|c| except != Some(c.id.as_str()))
                    .find(|c| c.matches(field, email, phone))
                    .map(|c| (field, c))
            })
    }

    fn insert_contact(
        &mut self,
        id: String,
        body: &Map<String, Value>,
        changes: &mut Changes,
    ) -> Result<(), SimError> {
        let now = self.creation_ms();
        let mut record = ContactRecord {
            id: id.clone(),
            created_ms: now,
            updated_ms: now,
            ..ContactRecord::default()
        };
        record.apply(body, self)?;
        changes.effect(Effect::ContactCreated {
            location_id: self.id.clone(),
            contact_id: id.clone(),
        });
        changes.emit("ContactCreate", &self.id, record.webhook_payload(false));
        self.contacts.insert(id, record);
        Ok(())
    }

    /// Applies a body to an existing contact; emits ContactUpdate, ContactTagUpdate and
    /// ContactDndUpdate only for what really changed.
    fn change_contact(
        &mut self,
        id: &str,
        body: &Map<String, Value>,
        changes: &mut Changes,
    ) -> Result<(), SimError> {
        let mut record = self.contacts[id].clone();
        let before = record.clone();
        record.apply(body, self)?;
        self.commit_contact_change(before, record, changes);
        Ok(())
    }

    fn commit_contact_change(
        &mut self,
        before: ContactRecord,
        mut after: ContactRecord,
        changes: &mut Changes,
    ) {
        if after == before {
            return;
        }
        after.updated_ms = crate::util::now_ms().max(before.updated_ms);
        let tags_changed = after.tags != before.tags;
        let dnd_changed = after.dnd != before.dnd || after.dnd_settings != before.dnd_settings;
        let mut others = after.clone();
        others.tags = before.tags.clone();
        others.dnd = before.dnd;
        others.dnd_settings = before.dnd_settings.clone();
        others.updated_ms = before.updated_ms;
        let fields_changed = others != before;
        changes.effect(Effect::ContactUpdated {
            location_id: self.id.clone(),
            contact_id: after.id.clone(),
        });
        if fields_changed {
            changes.emit("ContactUpdate", &self.id, after.webhook_payload(false));
        }
        if tags_changed {
            changes.emit("ContactTagUpdate", &self.id, after.webhook_payload(false));
        }
        if dnd_changed {
            changes.emit("ContactDndUpdate", &self.id, after.webhook_payload(true));
        }
        self.contacts.insert(after.id.clone(), after);
    }
}

pub(super) fn as_object(body: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    body.as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

impl World {
    /// `POST /contacts/`.
    pub fn create_contact(
        &mut self,
        auth: &TokenInfo,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let body = as_object(body);
        let id = self.new_id();
        let requested = body.get("locationId").and_then(Value::as_str);
        let location = self.authorized_location(auth, requested)?;
        if !location.settings.allow_duplicate_contact {
            let (email, phone) = (lower_email(body), normalized_phone(body));
            if let Some((field, dup)) =
                location.find_duplicate(email.as_deref(), phone.as_deref(), None)
            {
                return Err(SimError::duplicate_contact(
                    &dup.id,
                    &dup.full_name().unwrap_or_default(),
                    field.as_str(),
                ));
            }
        }
        let location_id = location.id.clone();
        location.insert_contact(id.clone(), body, changes)?;
        let contact = location.contacts[&id].render_create(location);
        self.index_object(&id, &location_id);
        Ok(json!({ "contact": contact }))
    }

    /// `POST /contacts/upsert`.
    pub fn upsert_contact(
        &mut self,
        auth: &TokenInfo,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let mut body = as_object(body).clone();
        let new_id = self.new_id();
        let requested = body
            .get("locationId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let location = self.authorized_location(auth, requested.as_deref())?;
        let force_new = body
            .get("createNewIfDuplicateAllowed")
            .and_then(Value::as_bool)
            == Some(true)
            && location.settings.allow_duplicate_contact;
        let (email, phone) = (lower_email(&body), normalized_phone(&body));
        let mut target: Option<String> = None;
        if !force_new {
            for &field in &location.settings.duplicate_match_order {
                let Some(found) = location
                    .contacts
                    .values()
                    .find(|c| c.matches(field, email.as_deref(), phone.as_deref()))
                else {
                    continue;
                };
                match &target {
                    None => target = Some(found.id.clone()),
                    // The second identifier belongs to another contact: GHL updates the
                    // first match and silently drops this one (highlevel-api-docs#37).
                    Some(t) if t != &found.id => {
                        body.remove(field.as_str());
                    }
                    Some(_) => {}
                }
            }
        }
        let location_id = location.id.clone();
        let (is_new, contact) = match target {
            Some(id) => {
                // GHL ignores gender on an existing contact (highlevel-api-docs#313).
                body.remove("gender");
                location.change_contact(&id, &body, changes)?;
                (false, location.contacts[&id].render_get(location))
            }
            None => {
                location.insert_contact(new_id.clone(), &body, changes)?;
                (true, location.contacts[&new_id].render_get(location))
            }
        };
        if is_new {
            self.index_object(&new_id, &location_id);
        }
        Ok(json!({"new": is_new, "contact": contact, "traceId": crate::util::new_uuid()}))
    }

    /// `GET /contacts/{id}`.
    pub fn get_contact(&mut self, auth: &TokenInfo, id: &str) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Contact")?;
        let contact = location
            .contacts
            .get(id)
            .ok_or_else(|| SimError::bad_request("Contact not found"))?;
        Ok(json!({ "contact": contact.render_get(location) }))
    }

    /// `PUT /contacts/{id}`.
    pub fn update_contact(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let body = as_object(body);
        let location = self.location_of_object(auth, id, "Contact")?;
        if !location.contacts.contains_key(id) {
            return Err(SimError::bad_request("Contact not found"));
        }
        if !location.settings.allow_duplicate_contact {
            let (email, phone) = (lower_email(body), normalized_phone(body));
            if let Some((field, dup)) =
                location.find_duplicate(email.as_deref(), phone.as_deref(), Some(id))
            {
                return Err(SimError::duplicate_contact(
                    &dup.id,
                    &dup.full_name().unwrap_or_default(),
                    field.as_str(),
                ));
            }
        }
        location.change_contact(id, body, changes)?;
        Ok(json!({"succeded": true, "contact": location.contacts[id].render_get(location)}))
    }

    /// `DELETE /contacts/{id}`.
    pub fn delete_contact(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Contact")?;
        let record = location
            .contacts
            .shift_remove(id)
            .ok_or_else(|| SimError::bad_request("Contact not found"))?;
        location.notes.retain(|_, n| n.contact_id != id);
        changes.effect(Effect::ContactDeleted {
            location_id: location.id.clone(),
            contact_id: id.to_owned(),
        });
        let location_id = location.id.clone();
        changes.emit("ContactDelete", &location_id, record.webhook_payload(false));
        self.unindex_object(id);
        Ok(json!({"succeded": true}))
    }

    /// `POST /contacts/{id}/tags` and `DELETE /contacts/{id}/tags`.
    pub fn change_tags(
        &mut self,
        auth: &TokenInfo,
        id: &str,
        tags: &[String],
        add: bool,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, id, "Contact")?;
        let before = location
            .contacts
            .get(id)
            .ok_or_else(|| SimError::bad_request("Contact not found"))?
            .clone();
        let mut after = before.clone();
        change_tag_list(&mut after.tags, tags, add);
        let result = after.tags.clone();
        location.commit_contact_change(before, after, changes);
        Ok(json!({ "tags": result }))
    }

    /// `POST /contacts/bulk/tags/update/{add|remove}`: one answer per contact, in order;
    /// a contact that is not this location's, or not there, is an error item and the rest
    /// go on. `removeAllTags` (remove only) clears every tag.
    pub fn bulk_update_tags(
        &mut self,
        auth: &TokenInfo,
        kind: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let add = match kind {
            "add" => true,
            "remove" => false,
            _ => {
                return Err(SimError::unprocessable(vec![
                    "type must be one of the following values: add, remove".to_owned(),
                ]));
            }
        };
        let body = as_object(body);
        let remove_all = body.get("removeAllTags").and_then(Value::as_bool) == Some(true);
        if remove_all && add {
            return Err(SimError::bad_request(
                "removeAllTags can only be used with the remove type",
            ));
        }
        let strings = |key: &str| -> Vec<String> {
            body.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ids, tags) = (strings("contacts"), strings("tags"));
        let requested = body.get("locationId").and_then(Value::as_str);
        let owner = |w: &World, id: &str| w.index.get(id).cloned();
        let owners: Vec<Option<String>> = ids.iter().map(|id| owner(self, id)).collect();
        let location = self.authorized_location(auth, requested)?;
        let mut responses = Vec::with_capacity(ids.len());
        for (id, owner) in ids.iter().zip(owners) {
            let error =
                |message: &str| json!({"contactId": id, "message": message, "type": "error"});
            if !crate::util::is_ghl_id(id) {
                responses.push(error("contact id is not a valid firebase id"));
                continue;
            }
            let Some(before) = location.contacts.get(id).cloned() else {
                responses.push(error(if owner.is_some() {
                    "contact does not belong to location"
                } else {
                    "contact is deleted"
                }));
                continue;
            };
            let mut after = before.clone();
            if remove_all {
                after.tags.clear();
            }
            change_tag_list(&mut after.tags, &tags, add);
            let added: Vec<&String> = after
                .tags
                .iter()
                .filter(|t| !before.tags.contains(t))
                .collect();
            let removed: Vec<&String> = before
                .tags
                .iter()
                .filter(|t| !after.tags.contains(t))
                .collect();
            responses.push(json!({
                "contactId": id,
                "message": "Tags updated",
                "type": "success",
                "oldTags": before.tags,
                "tagsAdded": added,
                "tagsRemoved": removed,
            }));
            location.commit_contact_change(before, after, changes);
        }
        let errors = responses.iter().filter(|r| r["type"] == "error").count();
        Ok(json!({"succeded": errors == 0, "errorCount": errors, "responses": responses}))
    }

    /// `POST /contacts/{id}/notes`.
    pub fn add_note(
        &mut self,
        auth: &TokenInfo,
        contact_id: &str,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Value, SimError> {
        let note_id = self.new_id();
        let location = self.location_of_object(auth, contact_id, "Contact")?;
        if !location.contacts.contains_key(contact_id) {
            return Err(SimError::bad_request("Contact not found"));
        }
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let note = NoteRecord {
            id: note_id.clone(),
            contact_id: contact_id.to_owned(),
            body: text("body").unwrap_or_default(),
            user_id: text("userId"),
            title: text("title"),
            color: text("color"),
            pinned: body.get("pinned").and_then(Value::as_bool).unwrap_or(false),
            created_ms: location.creation_ms(),
        };
        let rendered = note.render();
        changes.effect(Effect::NoteCreated {
            location_id: location.id.clone(),
            contact_id: contact_id.to_owned(),
            note_id: note_id.clone(),
        });
        let payload = json!({"id": note.id, "contactId": note.contact_id, "body": note.body, "dateAdded": rendered["dateAdded"]});
        changes.emit(
            "NoteCreate",
            &location.id,
            payload.as_object().cloned().unwrap_or_default(),
        );
        let location_id = location.id.clone();
        location.notes.insert(note_id.clone(), note);
        self.index_object(&note_id, &location_id);
        Ok(json!({ "note": rendered }))
    }

    /// `GET /contacts/{id}/notes`.
    pub fn list_notes(&mut self, auth: &TokenInfo, contact_id: &str) -> Result<Value, SimError> {
        let location = self.location_of_object(auth, contact_id, "Contact")?;
        if !location.contacts.contains_key(contact_id) {
            return Err(SimError::bad_request("Contact not found"));
        }
        let notes: Vec<Value> = location
            .notes
            .values()
            .filter(|n| n.contact_id == contact_id)
            .map(NoteRecord::render)
            .collect();
        Ok(json!({ "notes": notes }))
    }

    /// `GET /contacts/search/duplicate`.
    pub fn find_duplicate(
        &mut self,
        auth: &TokenInfo,
        location_id: &str,
        email: Option<&str>,
        number: Option<&str>,
    ) -> Result<Value, SimError> {
        let location = self.authorized_location(auth, Some(location_id))?;
        let email = email.map(|e| e.trim().to_lowercase());
        let phone = number.and_then(normalize_phone);
        // With duplicates allowed GHL checks email first, then phone; otherwise it uses the
        // location's configured order.
        let order = if location.settings.allow_duplicate_contact {
            vec![MatchField::Email, MatchField::Phone]
        } else {
            location.settings.duplicate_match_order.clone()
        };
        let found = order.iter().find_map(|&f| {
            location
                .contacts
                .values()
                .find(|c| c.matches(f, email.as_deref(), phone.as_deref()))
        });
        Ok(json!({ "contact": found.map(|c| c.render_get(location)) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_in_every_documented_format() {
        for raw in [
            "1990-09-25",
            "09/25/1990",
            "1990/09/25",
            "1990.09.25",
            "1990_09_25",
        ] {
            assert_eq!(
                parse_birth_date(raw).as_deref(),
                Some("1990-09-25T00:00:00.000Z"),
                "{raw}"
            );
        }
        assert_eq!(parse_birth_date("1990-13-01"), None);
    }
}
