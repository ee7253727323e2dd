//! The simulated state of each company and its operations, free of HTTP. Answers are
//! built from this model in CloudTalk's documented shapes (ids as strings, as its examples
//! and real answers send them), never from the client's types.
//!
//! The rules CloudTalk documents: an add needs a `name`; an edit changes only what it
//! sends, and each collection it sends (numbers, emails, tags, attributes, links) replaces
//! the contact's whole collection (an empty string clears it); at most 3 links; an
//! activity needs `type` (one of nine) and `name`; a note needs `note`. A field the API
//! does not name is refused with 406 naming it, so a client's misspelt field fails here
//! instead of being dropped silently.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// A refusal: HTTP status, message and, for 406, the fields' messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// 404 or 406.
    pub status: u16,
    /// CloudTalk's message.
    pub message: String,
    /// Field -> messages.
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Refusal {
    fn not_found() -> Self {
        Self {
            status: 404,
            message: "Not found.".into(),
            fields: BTreeMap::new(),
        }
    }

    fn invalid(field: &str, message: &str) -> Self {
        Self {
            status: 406,
            message: "Invalid input data.".into(),
            fields: [(field.to_owned(), vec![message.to_owned()])].into(),
        }
    }

    /// The `responseData` of the refusal.
    pub fn body(&self) -> Value {
        let mut body = json!({"status": self.status, "message": self.message});
        if !self.fields.is_empty() {
            body["data"] = json!(self.fields);
        }
        body
    }
}

/// Scalar contact fields and their documented maximum lengths (`country_id` and
/// `favorite_agent` are integers).
const SCALARS: &[(&str, usize)] = &[
    ("name", 150),
    ("title", 255),
    ("company", 100),
    ("industry", 100),
    ("website", 100),
    ("address", 255),
    ("city", 255),
    ("zip", 15),
    ("state", 255),
];
const INTEGERS: &[&str] = &["country_id", "favorite_agent"];

/// The activity types CloudTalk knows.
pub const ACTIVITY_TYPES: &[&str] = &[
    "order", "task", "chat", "ticket", "other", "invoice", "proforma", "estimate", "cancel",
];

/// A contact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact {
    /// Its id.
    pub id: u64,
    /// Scalars by API name.
    pub fields: BTreeMap<String, Value>,
    /// Numbers, E.164 with `+`.
    pub numbers: Vec<String>,
    /// Emails.
    pub emails: Vec<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// Custom values: attribute id -> value.
    pub attributes: Vec<(u64, String)>,
    /// Links: name, url.
    pub external_urls: Vec<(String, String)>,
}

/// A note.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// Its id.
    pub id: u64,
    /// The contact.
    pub contact_id: u64,
    /// The agent.
    pub user_id: Option<u64>,
    /// The text.
    pub note: String,
}

/// An activity.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Its id.
    pub id: u64,
    /// The contact.
    pub contact_id: u64,
    /// Its fields by API name (`type`, `name`, `description`, ...).
    pub fields: BTreeMap<String, Value>,
}

/// One company's data.
#[derive(Clone, Debug, Default)]
pub struct Company {
    /// Contacts by id.
    pub contacts: BTreeMap<u64, Contact>,
    /// Notes by id.
    pub notes: BTreeMap<u64, Note>,
    /// Activities by id.
    pub activities: BTreeMap<u64, Activity>,
    next_id: u64,
}

/// A number as CloudTalk stores it: E.164 with `+`.
fn e164(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 6).then(|| format!("+{digits}"))
}

/// The items of a collection field: an array, or `""` to clear.
fn items<'a>(field: &str, v: &'a Value) -> Result<Vec<&'a Map<String, Value>>, Refusal> {
    match v {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::Array(list) => list
            .iter()
            .map(|item| {
                item.as_object()
                    .ok_or_else(|| Refusal::invalid(field, "Each item must be an object."))
            })
            .collect(),
        _ => Err(Refusal::invalid(field, "Must be a list.")),
    }
}

/// Refuses keys of `item` beyond `allowed`.
fn only(field: &str, item: &Map<String, Value>, allowed: &[&str]) -> Result<(), Refusal> {
    match item.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Refusal::invalid(&format!("{field}.{k}"), "Unknown field.")),
        None => Ok(()),
    }
}

impl Contact {
    /// Applies an add's or an edit's body; `extra` names keys the caller handles (`id`).
    fn apply(&mut self, body: &Map<String, Value>, extra: &[&str]) -> Result<(), Refusal> {
        for (key, v) in body {
            let key = key.as_str();
            if extra.contains(&key) {
                continue;
            }
            if let Some((_, max)) = SCALARS.iter().find(|(k, _)| *k == key) {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Null => String::new(),
                    _ => return Err(Refusal::invalid(key, "Must be text.")),
                };
                if text.chars().count() > *max {
                    return Err(Refusal::invalid(key, &format!("At most {max} characters.")));
                }
                if text.is_empty() {
                    self.fields.remove(key);
                } else {
                    self.fields.insert(key.to_owned(), json!(text));
                }
                continue;
            }
            if INTEGERS.contains(&key) {
                let n = match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| Refusal::invalid(key, "Must be a whole number."))?;
                self.fields.insert(key.to_owned(), json!(n.to_string()));
                continue;
            }
            match key {
                "ContactNumber" => {
                    let mut numbers = Vec::new();
                    for item in items(key, v)? {
                        only(key, item, &["public_number"])?;
                        let n = item.get("public_number").and_then(e164).ok_or_else(|| {
                            Refusal::invalid(key, "Please supply a valid phone number.")
                        })?;
                        numbers.push(n);
                    }
                    self.numbers = numbers;
                }
                "ContactEmail" => {
                    let mut emails = Vec::new();
                    for item in items(key, v)? {
                        only(key, item, &["email"])?;
                        let email = item
                            .get("email")
                            .and_then(Value::as_str)
                            .filter(|e| e.contains('@') && !e.contains(' '))
                            .ok_or_else(|| {
                                Refusal::invalid("email", "Please supply a valid email address.")
                            })?;
                        emails.push(email.to_owned());
                    }
                    self.emails = emails;
                }
                "ContactsTag" => {
                    let mut tags = Vec::new();
                    for item in items(key, v)? {
                        only(key, item, &["name"])?;
                        let name = item
                            .get("name")
                            .and_then(Value::as_str)
                            .filter(|n| !n.trim().is_empty())
                            .ok_or_else(|| Refusal::invalid(key, "A tag needs a name."))?;
                        tags.push(name.trim().to_owned());
                    }
                    self.tags = tags;
                }
                "ContactAttribute" => {
                    let mut attributes = Vec::new();
                    for item in items(key, v)? {
                        only(key, item, &["attribute_id", "value"])?;
                        let id = item
                            .get("attribute_id")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| Refusal::invalid(key, "attribute_id is required."))?;
                        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
                        if value.chars().count() > 255 {
                            return Err(Refusal::invalid(key, "At most 255 characters."));
                        }
                        attributes.push((id, value.to_owned()));
                    }
                    self.attributes = attributes;
                }
                "ExternalUrl" => {
                    let list = items(key, v)?;
                    if list.len() > 3 {
                        return Err(Refusal::invalid(key, "At most 3 URLs."));
                    }
                    let mut urls = Vec::new();
                    for item in list {
                        only(key, item, &["name", "url"])?;
                        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                        let url = item.get("url").and_then(Value::as_str).unwrap_or("");
                        if name.chars().count() > 30 {
                            return Err(Refusal::invalid(key, "A name has at most 30 characters."));
                        }
                        urls.push((name.to_owned(), url.to_owned()));
                    }
                    self.external_urls = urls;
                }
                other => return Err(Refusal::invalid(other, "Unknown field.")),
            }
        }
        Ok(())
    }

    /// `GET /contacts/show/{id}.json`'s `responseData`.
    pub fn shown(&self) -> Value {
        let mut core = Map::new();
        core.insert("id".into(), json!(self.id.to_string()));
        for (k, v) in &self.fields {
            core.insert(k.clone(), v.clone());
        }
        core.insert("type".into(), json!("contact"));
        json!({
            "Contact": core,
            "ExternalUrl": self.external_urls.iter().map(|(name, url)| json!({"name": name, "url": url})).collect::<Vec<_>>(),
            "ContactNumber": self.numbers.iter().map(|n| json!({"public_number": n})).collect::<Vec<_>>(),
            "ContactEmail": self.emails.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
            "ContactsTag": self.tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
            "ContactAttribute": self.attributes.iter().map(|(id, value)| json!({"attribute_id": id.to_string(), "value": value})).collect::<Vec<_>>(),
        })
    }

    /// A row of `GET /contacts/index.json`.
    fn row(&self) -> Value {
        let mut row = json!({"Contact": {
            "id": self.id.to_string(),
            "name": self.fields.get("name").cloned().unwrap_or(Value::Null),
            "company": self.fields.get("company").cloned().unwrap_or(Value::Null),
        }});
        if let Some(n) = self.numbers.first() {
            row["ContactNumber"] = json!({"public_number": n});
        }
        if let Some(e) = self.emails.first() {
            row["ContactEmail"] = json!({"email": e});
        }
        row
    }

    fn matches(&self, keyword: &str) -> bool {
        let keyword = keyword.trim().to_lowercase();
        let digits: String = keyword.chars().filter(char::is_ascii_digit).collect();
        self.fields
            .values()
            .filter_map(Value::as_str)
            .any(|v| v.to_lowercase().contains(&keyword))
            || self
                .emails
                .iter()
                .any(|e| e.to_lowercase().contains(&keyword))
            || (!digits.is_empty() && self.numbers.iter().any(|n| n.contains(&digits)))
    }
}

/// An activity's fields, checked as CloudTalk documents them (`contact_id` is the path's).
fn activity_fields(body: &Map<String, Value>) -> Result<BTreeMap<String, Value>, Refusal> {
    const FIELDS: &[&str] = &[
        "type",
        "name",
        "activity_date",
        "description",
        "activity_author",
        "external_id",
        "external_url",
        "contact_id",
        "id",
    ];
    if let Some(k) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Refusal::invalid(k, "Unknown field."));
    }
    match body.get("type").and_then(Value::as_str) {
        Some(t) if ACTIVITY_TYPES.contains(&t) => {}
        Some(_) => return Err(Refusal::invalid("type", "Unknown activity type.")),
        None => return Err(Refusal::invalid("type", "This field is required.")),
    }
    if body
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Refusal::invalid("name", "This field is required."));
    }
    if body.get("external_id").is_some_and(|e| !e.is_u64()) {
        return Err(Refusal::invalid("external_id", "Must be a whole number."));
    }
    Ok(body
        .iter()
        .filter(|(k, _)| !["contact_id", "id"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// A page of a listing, in CloudTalk's envelope.
fn page(rows: Vec<Value>, query: &BTreeMap<String, String>) -> Value {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 1_000);
    let number = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let count = rows.len();
    let data: Vec<Value> = rows
        .into_iter()
        .skip((number - 1) * limit)
        .take(limit)
        .collect();
    json!({
        "itemsCount": data.len(),
        "pageCount": count.div_ceil(limit).max(1),
        "pageNumber": number,
        "limit": limit,
        "data": data,
    })
}

fn wanted_id(query: &BTreeMap<String, String>, key: &str) -> Option<u64> {
    query.get(key).and_then(|v| v.parse().ok())
}

impl Company {
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        1_000 + self.next_id
    }

    /// `PUT /contacts/add.json`.
    pub fn add_contact(&mut self, body: &Map<String, Value>) -> Result<u64, Refusal> {
        let has_name = body
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.trim().is_empty());
        if !has_name {
            return Err(Refusal::invalid("name", "This field is required."));
        }
        let mut contact = Contact::default();
        contact.apply(body, &[])?;
        contact.id = self.next();
        let id = contact.id;
        self.contacts.insert(id, contact);
        Ok(id)
    }

    /// `POST /contacts/edit/{id}.json`: only what is sent changes; a collection sent
    /// replaces the contact's.
    pub fn edit_contact(&mut self, id: u64, body: &Map<String, Value>) -> Result<(), Refusal> {
        let contact = self.contacts.get(&id).ok_or_else(Refusal::not_found)?;
        let mut edited = contact.clone();
        edited.apply(body, &["id"])?;
        self.contacts.insert(id, edited);
        Ok(())
    }

    /// `DELETE /contacts/delete/{id}.json`.
    pub fn delete_contact(&mut self, id: u64) -> Result<(), Refusal> {
        self.contacts
            .remove(&id)
            .map(|_| ())
            .ok_or_else(Refusal::not_found)
    }

    /// `GET /contacts/show/{id}.json`.
    pub fn show_contact(&self, id: u64) -> Result<Value, Refusal> {
        self.contacts
            .get(&id)
            .map(Contact::shown)
            .ok_or_else(Refusal::not_found)
    }

    /// `GET /contacts/index.json`.
    pub fn list_contacts(&self, query: &BTreeMap<String, String>) -> Value {
        let rows = self
            .contacts
            .values()
            .filter(|c| query.get("keyword").is_none_or(|k| c.matches(k)))
            .filter(|c| {
                query
                    .get("industry")
                    .is_none_or(|i| c.fields.get("industry") == Some(&json!(i)))
            })
            .map(Contact::row)
            .collect();
        page(rows, query)
    }

    /// `PUT /contacts/addTags/{id}.json` and `DELETE /contacts/removeTags/{id}.json`.
    pub fn change_tags(&mut self, id: u64, body: &Value, add: bool) -> Result<Value, Refusal> {
        let tags: Vec<String> = body
            .get("tags")
            .and_then(Value::as_array)
            .ok_or_else(|| Refusal::invalid("tags", "This field is required."))?
            .iter()
            .filter_map(|t| t.as_str().map(|t| t.trim().to_owned()))
            .filter(|t| !t.is_empty())
            .collect();
        let contact = self.contacts.get_mut(&id).ok_or_else(Refusal::not_found)?;
        for tag in &tags {
            let has = contact.tags.iter().any(|t| t.eq_ignore_ascii_case(tag));
            if add && !has {
                contact.tags.push(tag.clone());
            } else if !add {
                contact.tags.retain(|t| !t.eq_ignore_ascii_case(tag));
            }
        }
        let listed: Vec<Value> = tags
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"id": (i + 1).to_string(), "name": t}))
            .collect();
        Ok(json!({
            "status": 200,
            "message": if add { "Tags were sucessfully added." } else { "Tags were sucessfully removed." },
            "data": {"tags": listed, "contact_id": id.to_string()},
        }))
    }

    /// `PUT /notes/add/{contactId}.json` (and bulk `add_note`).
    pub fn add_note(&mut self, contact_id: u64, body: &Map<String, Value>) -> Result<u64, Refusal> {
        let note = self.note_from(contact_id, body, &["contact_id"])?;
        let id = self.next();
        self.notes.insert(id, Note { id, ..note });
        Ok(id)
    }

    fn note_from(
        &self,
        contact_id: u64,
        body: &Map<String, Value>,
        extra: &[&str],
    ) -> Result<Note, Refusal> {
        if !self.contacts.contains_key(&contact_id) {
            return Err(Refusal::not_found());
        }
        if let Some(k) = body
            .keys()
            .find(|k| !["note", "user_id"].contains(&k.as_str()) && !extra.contains(&k.as_str()))
        {
            return Err(Refusal::invalid(k, "Unknown field."));
        }
        let note = body
            .get("note")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Refusal::invalid("note", "This field is required."))?;
        Ok(Note {
            id: 0,
            contact_id,
            user_id: body.get("user_id").and_then(Value::as_u64),
            note: note.to_owned(),
        })
    }

    /// `POST /notes/edit/{id}.json` (and bulk `edit_note`): the text or the agent.
    pub fn edit_note(&mut self, id: u64, body: &Map<String, Value>) -> Result<(), Refusal> {
        let note = self.notes.get(&id).ok_or_else(Refusal::not_found)?;
        let contact_id = body
            .get("contact_id")
            .and_then(Value::as_u64)
            .unwrap_or(note.contact_id);
        let mut merged = Map::new();
        merged.insert("note".into(), json!(note.note));
        for (k, v) in body {
            merged.insert(k.clone(), v.clone());
        }
        let edited = self.note_from(contact_id, &merged, &["contact_id", "id"])?;
        self.notes.insert(id, Note { id, ..edited });
        Ok(())
    }

    /// `GET /notes/index.json`.
    pub fn list_notes(&self, query: &BTreeMap<String, String>) -> Value {
        let contact = wanted_id(query, "contact_id");
        let rows = self
            .notes
            .values()
            .filter(|n| contact.is_none_or(|c| n.contact_id == c))
            .filter(|n| {
                query
                    .get("keyword")
                    .is_none_or(|k| n.note.contains(k.as_str()))
            })
            .map(|n| {
                let mut note = json!({
                    "id": n.id.to_string(),
                    "contact_id": n.contact_id.to_string(),
                    "note": n.note,
                    "created": "2026-12-01T10:00:00.000Z",
                });
                if let Some(user) = n.user_id {
                    note["user_id"] = json!(user.to_string());
                }
                json!({"ContactNote": note})
            })
            .collect();
        page(rows, query)
    }

    /// `PUT /activity/add/{contactId}.json` (and bulk `add_activity`).
    pub fn add_activity(
        &mut self,
        contact_id: u64,
        body: &Map<String, Value>,
    ) -> Result<u64, Refusal> {
        if !self.contacts.contains_key(&contact_id) {
            return Err(Refusal::not_found());
        }
        let fields = activity_fields(body)?;
        let id = self.next();
        self.activities.insert(
            id,
            Activity {
                id,
                contact_id,
                fields,
            },
        );
        Ok(id)
    }

    /// `POST /activity/edit/{id}.json` (and bulk `edit_activity`): the fields sent.
    pub fn edit_activity(&mut self, id: u64, body: &Map<String, Value>) -> Result<(), Refusal> {
        let activity = self.activities.get(&id).ok_or_else(Refusal::not_found)?;
        let mut merged = activity
            .fields
            .clone()
            .into_iter()
            .collect::<Map<String, Value>>();
        for (k, v) in body {
            if k != "id" {
                merged.insert(k.clone(), v.clone());
            }
        }
        let fields = activity_fields(&merged)?;
        if let Some(a) = self.activities.get_mut(&id) {
            a.fields = fields;
        }
        Ok(())
    }

    /// `GET /activity/index.json`.
    pub fn list_activities(&self, query: &BTreeMap<String, String>) -> Value {
        let contact = wanted_id(query, "contact_id");
        let rows = self
            .activities
            .values()
            .filter(|a| contact.is_none_or(|c| a.contact_id == c))
            .filter(|a| {
                query
                    .get("type")
                    .is_none_or(|t| a.fields.get("type") == Some(&json!(t)))
            })
            .map(|a| {
                let mut row = Map::new();
                row.insert("id".into(), json!(a.id.to_string()));
                row.insert("contact_id".into(), json!(a.contact_id.to_string()));
                for (k, v) in &a.fields {
                    let v = match v {
                        Value::Number(n) => json!(n.to_string()),
                        other => other.clone(),
                    };
                    row.insert(k.clone(), v);
                }
                json!({"ContactActivity": row})
            })
            .collect();
        page(rows, query)
    }

    /// `POST /bulk/contacts.json`: each command applied on its own, answered with its own
    /// status; a refused command changes nothing and does not stop the others.
    pub fn bulk(&mut self, commands: &[Value]) -> Result<Vec<Value>, Refusal> {
        if commands.is_empty() || commands.len() > 10 {
            return Err(Refusal::invalid(
                "commands",
                "Max 10 actions are available in one request.",
            ));
        }
        Ok(commands.iter().map(|c| self.command(c)).collect())
    }

    fn command(&mut self, command: &Value) -> Value {
        let command_id = command.get("command_id").cloned().unwrap_or(Value::Null);
        let data = command
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id_in = |key: &str| data.get(key).and_then(Value::as_u64);
        let outcome: Result<Option<u64>, Refusal> =
            match command.get("action").and_then(Value::as_str) {
                Some("add_contact") => self.add_contact(&data).map(Some),
                Some("edit_contact") => match id_in("id") {
                    Some(id) => self.edit_contact(id, &data).map(|()| None),
                    None => Err(Refusal::invalid("id", "This field is required.")),
                },
                Some("delete_contact") => match id_in("id") {
                    Some(id) => self.delete_contact(id).map(|()| None),
                    None => Err(Refusal::invalid("id", "This field is required.")),
                },
                Some("add_note") => match id_in("contact_id") {
                    Some(c) => self.add_note(c, &data).map(Some),
                    None => Err(Refusal::invalid("contact_id", "This field is required.")),
                },
                Some("delete_note") => match id_in("id").and_then(|id| self.notes.remove(&id)) {
                    Some(_) => Ok(None),
                    None => Err(Refusal::not_found()),
                },
                Some("add_activity") => match id_in("contact_id") {
                    Some(c) => self.add_activity(c, &data).map(Some),
                    None => Err(Refusal::invalid("contact_id", "This field is required.")),
                },
                Some("delete_activity") => {
                    match id_in("id").and_then(|id| self.activities.remove(&id)) {
                        Some(_) => Ok(None),
                        None => Err(Refusal::not_found()),
                    }
                }
                Some("edit_note") => match id_in("id") {
                    Some(id) => self.edit_note(id, &data).map(|()| None),
                    None => Err(Refusal::invalid("id", "This field is required.")),
                },
                Some("edit_activity") => match id_in("id") {
                    Some(id) => self.edit_activity(id, &data).map(|()| None),
                    None => Err(Refusal::invalid("id", "This field is required.")),
                },
                _ => Err(Refusal::invalid("action", "Unknown action.")),
            };
        match outcome {
            Ok(Some(id)) => {
                json!({"command_id": command_id, "status": 201, "data": {"id": id.to_string()}})
            }
            Ok(None) => json!({"command_id": command_id, "status": 200}),
            Err(refusal) => {
                let mut answer = refusal.body();
                answer["command_id"] = command_id;
                answer
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn an_edit_replaces_only_the_collections_it_sends() {
        let mut c = Company::default();
        let id = c
            .add_contact(&body(json!({
                "name": "Ana",
                "ContactNumber": [{"public_number": 34611000111_u64}],
                "ContactsTag": [{"name": "a"}, {"name": "b"}],
            })))
            .unwrap();
        assert_eq!(
            c.contacts[&id].numbers,
            vec!["+34611000111"],
            "stored with its +"
        );
        c.edit_contact(id, &body(json!({"ContactsTag": [{"name": "c"}]})))
            .unwrap();
        assert_eq!(c.contacts[&id].tags, vec!["c"]);
        assert_eq!(c.contacts[&id].numbers.len(), 1, "numbers not sent, kept");
        c.edit_contact(id, &body(json!({"ContactNumber": ""})))
            .unwrap();
        assert!(c.contacts[&id].numbers.is_empty(), "an empty string clears");
    }

    #[test]
    fn what_the_api_does_not_name_is_refused_naming_it() {
        let mut c = Company::default();
        let refused = c
            .add_contact(&body(json!({"name": "Ana", "ContactNumbers": []})))
            .unwrap_err();
        assert_eq!(refused.status, 406);
        assert!(refused.fields.contains_key("ContactNumbers"), "{refused:?}");
        let refused = c
            .add_contact(&body(json!({"company": "Acme"})))
            .unwrap_err();
        assert!(refused.fields.contains_key("name"));
        let id = c.add_contact(&body(json!({"name": "Ana"}))).unwrap();
        let four: Vec<Value> = (0..4)
            .map(|i| json!({"name": format!("s{i}"), "url": "u"}))
            .collect();
        assert!(
            c.edit_contact(id, &body(json!({"ExternalUrl": four})))
                .is_err()
        );
        let refused = c
            .add_activity(id, &body(json!({"type": "call", "name": "x"})))
            .unwrap_err();
        assert!(
            refused.fields.contains_key("type"),
            "CloudTalk has no call type"
        );
        assert_eq!(
            c.add_note(id + 1, &body(json!({"note": "x"})))
                .unwrap_err()
                .status,
            404
        );
    }
}
