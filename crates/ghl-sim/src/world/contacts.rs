//! Contacts, tags, notes and contact search.

use std::cmp::Ordering;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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

/// GHL stores tags trimmed and lower-case.
fn tag(raw: &str) -> Option<String> {
    let t = raw.trim().to_lowercase();
    (!t.is_empty()).then_some(t)
}

impl ContactRecord {
    fn full_name(&self) -> Option<String> {
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

    fn common(&self, v: &mut Value) {
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
            "type": "lead",
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
            "type": "lead",
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
    fn render_search(&self, location: &Location, cursor: &[Value]) -> Value {
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
            "assignedTo" => assigned_to, "gender" => gender,
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

    /// A value for search filters and sorting.
    fn search_value(&self, field: &str) -> Result<Value, SimError> {
        let s = |v: &Option<String>| {
            v.as_ref()
                .map_or(Value::Null, |s| Value::String(s.to_lowercase()))
        };
        Ok(match field {
            "id" => Value::String(self.id.clone()),
            "email" | "emailLowerCase" => s(&self.email),
            "phone" => s(&self.phone),
            "firstName" | "firstNameLowerCase" => s(&self.first_name),
            "lastName" | "lastNameLowerCase" => s(&self.last_name),
            "fullNameLowerCase" | "name" => s(&self.full_name()),
            "companyName" => s(&self.company_name),
            "source" => s(&self.source),
            "country" => s(&self.country),
            "city" => s(&self.city),
            "state" => s(&self.state),
            "postalCode" => s(&self.postal_code),
            "assignedTo" => s(&self.assigned_to),
            "tags" => json!(self.tags),
            "dnd" => Value::Bool(self.dnd),
            "dateAdded" => json!(self.created_ms),
            "dateUpdated" => json!(self.updated_ms),
            other => {
                let key = other
                    .strip_prefix("customFields.")
                    .or_else(|| other.strip_prefix("customField."))
                    .ok_or_else(|| {
                        SimError::unprocessable(vec![format!("{other} is not a searchable field")])
                    })?;
                self.custom_fields.get(key).cloned().unwrap_or(Value::Null)
            }
        })
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

fn as_object(body: &Value) -> &Map<String, Value> {
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
        for t in tags.iter().filter_map(|t| tag(t)) {
            if add {
                if !after.tags.contains(&t) {
                    after.tags.push(t);
                }
            } else {
                after.tags.retain(|x| x != &t);
            }
        }
        let result = after.tags.clone();
        location.commit_contact_change(before, after, changes);
        Ok(json!({ "tags": result }))
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

    /// `POST /contacts/search`.
    pub fn search_contacts(&mut self, auth: &TokenInfo, body: &Value) -> Result<Value, SimError> {
        let body = as_object(body);
        let location =
            self.authorized_location(auth, body.get("locationId").and_then(Value::as_str))?;
        let limit = body.get("pageLimit").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(SimError::unprocessable(vec![
                "pageLimit must not be greater than 500".to_owned(),
            ]));
        }
        let query = body
            .get("query")
            .and_then(Value::as_str)
            .map(str::to_lowercase);
        if query.as_ref().is_some_and(|q| q.chars().count() > 75) {
            return Err(SimError::unprocessable(vec![
                "query must be shorter than or equal to 75 characters".to_owned(),
            ]));
        }
        let filters = body
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let sort: Vec<(String, bool)> = match body.get("sort").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => items
                .iter()
                .map(|s| {
                    let field = s
                        .get("field")
                        .and_then(Value::as_str)
                        .unwrap_or("dateAdded")
                        .to_owned();
                    let desc = s.get("direction").and_then(Value::as_str) == Some("desc");
                    (field, desc)
                })
                .collect(),
            _ => vec![("dateAdded".to_owned(), false)],
        };
        let mut hits: Vec<(Vec<Value>, &ContactRecord)> = Vec::new();
        for contact in location.contacts.values() {
            if let Some(q) = &query {
                let hay = [
                    contact.full_name(),
                    contact.email.clone(),
                    contact.phone.clone(),
                    contact.company_name.clone(),
                ];
                if !hay
                    .iter()
                    .flatten()
                    .any(|h| h.to_lowercase().contains(q.as_str()))
                {
                    continue;
                }
            }
            if !all_match(contact, &filters)? {
                continue;
            }
            let mut key = Vec::with_capacity(sort.len() + 1);
            for (field, _) in &sort {
                key.push(contact.search_value(field)?);
            }
            key.push(Value::String(contact.id.clone()));
            hits.push((key, contact));
        }
        let order = |a: &[Value], b: &[Value]| -> Ordering {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let desc = sort.get(i).is_some_and(|(_, d)| *d);
                let o = cmp_values(x, y);
                let o = if desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        };
        hits.sort_by(|a, b| order(&a.0, &b.0));
        let total = hits.len();
        let start = if let Some(cursor) = body.get("searchAfter").and_then(Value::as_array) {
            hits.partition_point(|(key, _)| order(key, cursor) != Ordering::Greater)
        } else {
            let page = body.get("page").and_then(Value::as_u64).unwrap_or(1).max(1);
            if page * limit > 10_000 {
                return Err(SimError::bad_request(
                    "Page based pagination is limited to 10000 records; use searchAfter",
                ));
            }
            ((page - 1) * limit) as usize
        };
        let contacts: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(limit as usize)
            .map(|(key, c)| c.render_search(location, key))
            .collect();
        Ok(json!({"contacts": contacts, "total": total, "traceId": crate::util::new_uuid()}))
    }
}

fn all_match(contact: &ContactRecord, filters: &[Value]) -> Result<bool, SimError> {
    for f in filters {
        if !filter_matches(contact, f)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn filter_matches(contact: &ContactRecord, filter: &Value) -> Result<bool, SimError> {
    if let Some(group) = filter.get("group").and_then(Value::as_str) {
        let inner = filter
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        return match group.to_ascii_uppercase().as_str() {
            "AND" => all_match(contact, &inner),
            "OR" => {
                for f in &inner {
                    if filter_matches(contact, f)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            _ => Err(SimError::unprocessable(vec![
                "group must be one of the following values: AND, OR".to_owned(),
            ])),
        };
    }
    let field = filter.get("field").and_then(Value::as_str).ok_or_else(|| {
        SimError::unprocessable(vec!["filters.field should not be empty".to_owned()])
    })?;
    let operator = filter
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("eq");
    let actual = contact.search_value(field)?;
    let wanted = filter.get("value").cloned().unwrap_or(Value::Null);
    let eq = |a: &Value, w: &Value| match (a, w) {
        (Value::String(a), Value::String(w)) => {
            if field == "phone" {
                normalize_phone(w).is_some_and(|w| a == &w.to_lowercase())
            } else {
                a == &w.to_lowercase()
            }
        }
        (Value::Array(items), w) => items.iter().any(|i| match (i, w) {
            (Value::String(i), Value::String(w)) => i == &w.to_lowercase(),
            (Value::String(i), Value::Array(ws)) => ws
                .iter()
                .any(|w| w.as_str().is_some_and(|w| i == &w.to_lowercase())),
            _ => i == w,
        }),
        (a, w) => cmp_values(a, w) == Ordering::Equal && !a.is_null(),
    };
    let contains = |a: &Value, w: &Value| {
        let w = w.as_str().map(str::to_lowercase).unwrap_or_default();
        match a {
            Value::String(s) => s.contains(&w),
            Value::Array(items) => items
                .iter()
                .any(|i| i.as_str().is_some_and(|s| s.contains(&w))),
            _ => false,
        }
    };
    let present = |a: &Value| match a {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    Ok(match operator {
        "eq" => eq(&actual, &wanted),
        "not_eq" => !eq(&actual, &wanted),
        "contains" => contains(&actual, &wanted),
        "not_contains" => !contains(&actual, &wanted),
        "exists" => present(&actual),
        "not_exists" => !present(&actual),
        "range" => {
            let bound = |k: &str| wanted.get(k).map(range_value);
            let a = &actual;
            !a.is_null()
                && bound("gte").is_none_or(|b| cmp_values(a, &b) != Ordering::Less)
                && bound("gt").is_none_or(|b| cmp_values(a, &b) == Ordering::Greater)
                && bound("lte").is_none_or(|b| cmp_values(a, &b) != Ordering::Greater)
                && bound("lt").is_none_or(|b| cmp_values(a, &b) == Ordering::Less)
        }
        other => {
            return Err(SimError::unprocessable(vec![format!(
                "operator {other} must be one of the following values: eq, not_eq, contains, not_contains, exists, not_exists, range"
            )]));
        }
    })
}

/// Dates in range filters may be ISO strings; contacts store milliseconds.
fn range_value(v: &Value) -> Value {
    match v
        .as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
    {
        Some(t) => json!((t.unix_timestamp_nanos() / 1_000_000) as i64),
        None => v.clone(),
    }
}

/// A total order over JSON scalars: null < bool < number < string.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
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

    #[test]
    fn values_order_totally() {
        assert_eq!(cmp_values(&json!(1), &json!(2)), Ordering::Less);
        assert_eq!(cmp_values(&json!("b"), &json!("a")), Ordering::Greater);
        assert_eq!(cmp_values(&Value::Null, &json!("a")), Ordering::Less);
    }
}
