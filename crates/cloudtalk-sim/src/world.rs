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

/// A call as CloudTalk records it (its CDR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cdr {
    /// Its id.
    pub id: u64,
    /// Its UUID (the `call_uuid` of workflow bodies).
    pub uuid: String,
    /// `incoming`, `outgoing` or `internal`.
    pub direction: String,
    /// The contact's number, E.164 with `+`.
    pub public_external: String,
    /// The company's number, E.164 with `+`.
    pub public_internal: String,
    /// The agent.
    pub user_id: u64,
    /// The contact CloudTalk matched by number, if any.
    pub contact_id: Option<u64>,
    /// Seconds talking (0: missed).
    pub talking_time: u64,
    /// Seconds waiting.
    pub waiting_time: u64,
    /// Seconds of wrap-up.
    pub wrapup_time: u64,
    /// When it started (`2026-12-01T10:00:00.000Z`).
    pub started_at: String,
    /// When it was answered (none when missed).
    pub answered_at: Option<String>,
    /// When it ended.
    pub ended_at: String,
    /// Whether it was recorded.
    pub recorded: bool,
    /// Whether its recording has expired (answered 410).
    pub recording_expired: bool,
}

impl Cdr {
    /// The link to the call's page with its recording, as `Cdr.recording_link` shows it.
    pub fn recording_link(&self) -> Option<String> {
        self.recorded
            .then(|| format!("https://my.cloudtalk.io/r/play/{}", self.id))
    }

    fn answered(&self) -> bool {
        self.talking_time > 0
    }
}

/// An agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// Its id.
    pub id: u64,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// Email.
    pub email: String,
    /// Four-digit extension (1000 to 9999), unique in the company.
    pub extension: Option<u32>,
    /// The default outbound number, E.164.
    pub default_number: Option<String>,
    /// The agent's numbers, E.164.
    pub associated_numbers: Vec<String>,
    /// `online`, `offline`, `paused` or `calling` (whatever it is set to is answered, so
    /// a status the document does not name, `busy`, can be played).
    pub availability_status: String,
    /// Whether outbound calls are allowed.
    pub status_outbound: bool,
    /// The agent's groups, by name.
    pub groups: Vec<String>,
}

impl Agent {
    /// An agent named `name` ("First Last"), offline, with an address made of its id.
    pub fn named(id: u64, name: &str) -> Self {
        let name = name.trim();
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        Self {
            id,
            firstname: first.trim().to_owned(),
            lastname: last.trim().to_owned(),
            email: format!("agent{id}@sim.cloudtalk.invalid"),
            extension: None,
            default_number: None,
            associated_numbers: Vec::new(),
            availability_status: "offline".into(),
            status_outbound: true,
            groups: Vec::new(),
        }
    }

    /// First and last name.
    pub fn fullname(&self) -> String {
        format!("{} {}", self.firstname, self.lastname)
            .trim()
            .to_owned()
    }

    /// A row of `GET /agents/index.json`.
    fn row(&self) -> Value {
        let mut agent = json!({
            "id": self.id.to_string(),
            "name": (100_000 + self.id).to_string(),
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "is_daily_limit_ok": true,
            "status_outbound": self.status_outbound,
            "availability_status": self.availability_status,
            "associated_numbers": self.associated_numbers,
        });
        if let Some(e) = self.extension {
            agent["extension"] = json!(e.to_string());
        }
        if let Some(n) = &self.default_number {
            agent["default_number"] = json!(n);
        }
        json!({"Agent": agent})
    }

    /// The agent as the call history shows one (`AgentCall`).
    fn in_call(&self) -> Value {
        let mut agent = json!({
            "id": self.id.to_string(),
            "firstname": self.firstname,
            "lastname": self.lastname,
            "fullname": self.fullname(),
            "email": self.email,
            "status": self.availability_status,
            "associated_numbers": self.associated_numbers,
            "groups": self.groups,
        });
        if let Some(n) = &self.default_number {
            agent["default_outbound_number"] = json!(n);
        }
        agent
    }
}

/// A campaign's outcome button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    /// Its id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// One of [`BUTTON_TYPES`].
    pub kind: String,
    /// Its color.
    pub color: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

/// The outcomes a campaign's button may record.
pub const BUTTON_TYPES: &[&str] = &[
    "successful_positive",
    "successful_negative",
    "rescheduled",
    "unsuccessful_call_again",
    "unsuccessful_do_not_call",
];

/// A dialer campaign.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Its other settings by API name (`attempts`, `is_recording`, ...).
    pub fields: BTreeMap<String, Value>,
    /// Its outcome buttons.
    pub buttons: Vec<Button>,
    /// The contact tags whose contacts it calls, by tag id.
    pub tag_ids: Vec<u64>,
    /// Its agents, by id.
    pub agent_ids: Vec<u64>,
    /// Its groups, by id.
    pub group_ids: Vec<u64>,
}

/// Campaign settings that are whole numbers, booleans or text.
const CAMPAIGN_INTEGERS: &[&str] = &[
    "answer_wait_time",
    "after_call_time",
    "call_number_id",
    "call_script_id",
    "survey_id",
    "calls_percentage",
    "attempts",
    "attempts_interval",
];
const CAMPAIGN_BOOLEANS: &[&str] = &[
    "has_schedule_date",
    "after_call_dialing_auto",
    "is_recording",
];
const CAMPAIGN_TEXTS: &[&str] = &["schedule_start_date", "schedule_start_time"];

/// Milliseconds since the epoch as CloudTalk writes times (`2017-10-04T06:33:37.000Z`).
pub fn iso_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        ms.rem_euclid(1000)
    )
}

/// A time of a filter (`2017-12-24 12:22:00`, or ISO 8601) as the first 19 characters of
/// [`iso_time`], so times compare as text.
fn comparable(time: &str) -> String {
    time.trim().replacen(' ', "T", 1).chars().take(19).collect()
}

/// A short, silent WAV (8 kHz, 16-bit mono, 0.1 s): what the simulator answers for a
/// recording.
pub fn silent_wav() -> Vec<u8> {
    let samples: u32 = 800;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8_000u32.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    wav
}

fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// One company's data.
#[derive(Clone, Debug, Default)]
pub struct Company {
    /// The company's id (`company_id` of a call's details).
    pub id: u64,
    /// Contacts by id.
    pub contacts: BTreeMap<u64, Contact>,
    /// Notes by id.
    pub notes: BTreeMap<u64, Note>,
    /// Activities by id.
    pub activities: BTreeMap<u64, Activity>,
    /// Calls (their CDRs) by id.
    pub calls: BTreeMap<u64, Cdr>,
    /// Agents by id.
    pub agents: BTreeMap<u64, Agent>,
    /// Dialer campaigns by id.
    pub campaigns: BTreeMap<u64, Campaign>,
    /// Contact tags: id -> name (a tag gets its id when a contact or a campaign first
    /// names it).
    pub tags: BTreeMap<u64, String>,
    next_id: u64,
    next_campaign: u64,
    next_button: u64,
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
        // A value it does not have is left out: the document types both as strings.
        let mut core = json!({"id": self.id.to_string()});
        for key in ["name", "company"] {
            if let Some(v) = self.fields.get(key) {
                core[key] = v.clone();
            }
        }
        let mut row = json!({"Contact": core});
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
        self.register_tags_of(id);
        Ok(id)
    }

    /// `POST /contacts/edit/{id}.json`: only what is sent changes; a collection sent
    /// replaces the contact's.
    pub fn edit_contact(&mut self, id: u64, body: &Map<String, Value>) -> Result<(), Refusal> {
        let contact = self.contacts.get(&id).ok_or_else(Refusal::not_found)?;
        let mut edited = contact.clone();
        edited.apply(body, &["id"])?;
        self.contacts.insert(id, edited);
        self.register_tags_of(id);
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

    /// `GET /contacts/index.json` (`keyword`, `industry` and `tag_id`).
    pub fn list_contacts(&self, query: &BTreeMap<String, String>) -> Value {
        let tag = query.get("tag_id").map(|t| {
            t.parse::<u64>()
                .ok()
                .and_then(|id| self.tags.get(&id))
                .cloned()
        });
        let rows = self
            .contacts
            .values()
            .filter(|c| query.get("keyword").is_none_or(|k| c.matches(k)))
            .filter(|c| {
                tag.as_ref().is_none_or(|t| {
                    t.as_ref()
                        .is_some_and(|t| c.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
                })
            })
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
            .map(|t| json!({"id": self.tag_id(t).to_string(), "name": t}))
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

/// A whole number sent as a number or a string of digits.
fn whole(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The ids of a `[{id}]` collection.
fn ids_of(field: &str, v: &Value) -> Result<Vec<u64>, Refusal> {
    items(field, v)?
        .into_iter()
        .map(|item| {
            only(field, item, &["id"])?;
            item.get("id")
                .and_then(whole)
                .ok_or_else(|| Refusal::invalid(field, "Each item needs an id."))
        })
        .collect()
}

impl Company {
    /// The id of the tag named `name` (compared without case), if some contact or campaign
    /// has named it.
    pub fn find_tag(&self, name: &str) -> Option<u64> {
        let name = name.trim();
        self.tags
            .iter()
            .find(|(_, t)| t.eq_ignore_ascii_case(name))
            .map(|(id, _)| *id)
    }

    /// The id of the tag named `name`, given it now if it has none.
    pub fn tag_id(&mut self, name: &str) -> u64 {
        if let Some(id) = self.find_tag(name) {
            return id;
        }
        let id = 600 + self.tags.len() as u64 + 1;
        self.tags.insert(id, name.trim().to_owned());
        id
    }

    fn register_tags_of(&mut self, contact: u64) {
        let tags = self
            .contacts
            .get(&contact)
            .map(|c| c.tags.clone())
            .unwrap_or_default();
        for tag in tags {
            self.tag_id(&tag);
        }
    }

    /// Records a call's CDR (the simulator's `place_call`).
    pub fn record_call(&mut self, cdr: Cdr) {
        self.calls.insert(cdr.id, cdr);
    }

    /// `GET /calls/index.json`: the call history, oldest first, with its documented filters.
    pub fn list_calls(&self, query: &BTreeMap<String, String>) -> Value {
        let number = |key: &str| query.get(key).map(|n| digits_of(n));
        let (internal, external) = (number("public_internal"), number("public_external"));
        let from = query.get("date_from").map(|d| comparable(d));
        let to = query.get("date_to").map(|d| comparable(d));
        let extension = wanted_id(query, "agent_extension");
        let rows = self
            .calls
            .values()
            .filter(|c| {
                internal
                    .as_ref()
                    .is_none_or(|n| digits_of(&c.public_internal) == *n)
            })
            .filter(|c| {
                external
                    .as_ref()
                    .is_none_or(|n| digits_of(&c.public_external) == *n)
            })
            .filter(|c| {
                from.as_ref()
                    .is_none_or(|f| comparable(&c.started_at) >= *f)
            })
            .filter(|c| to.as_ref().is_none_or(|t| comparable(&c.started_at) <= *t))
            .filter(|c| wanted_id(query, "contact_id").is_none_or(|id| c.contact_id == Some(id)))
            .filter(|c| wanted_id(query, "user_id").is_none_or(|id| c.user_id == id))
            .filter(|c| wanted_id(query, "call_id").is_none_or(|id| c.id == id))
            .filter(|c| {
                extension.is_none_or(|e| {
                    self.agents
                        .get(&c.user_id)
                        .and_then(|a| a.extension)
                        .is_some_and(|x| u64::from(x) == e)
                })
            })
            .filter(|c| query.get("type").is_none_or(|t| c.direction == *t))
            .filter(|c| match query.get("status").map(String::as_str) {
                Some("missed") => !c.answered(),
                Some("answered") => c.answered(),
                _ => true,
            })
            // The simulator's calls carry no call tags.
            .filter(|_| !query.contains_key("tag_id"))
            .map(|c| self.call_row(c))
            .collect();
        page(rows, query)
    }

    fn call_row(&self, c: &Cdr) -> Value {
        let mut cdr = json!({
            "id": c.id.to_string(),
            "billsec": c.talking_time.to_string(),
            "type": c.direction,
            "public_external": c.public_external,
            "public_internal": c.public_internal,
            "recorded": c.recorded,
            "is_voicemail": false,
            "user_id": c.user_id.to_string(),
            "talking_time": c.talking_time.to_string(),
            "started_at": c.started_at,
            "ended_at": c.ended_at,
            "waiting_time": c.waiting_time,
            "wrapup_time": c.wrapup_time,
        });
        if let Some(at) = &c.answered_at {
            cdr["answered_at"] = json!(at);
        }
        if let Some(link) = c.recording_link() {
            cdr["recording_link"] = json!(link);
        }
        let mut row = json!({
            "Cdr": cdr,
            "CallNumber": {"caller_id_e164": c.public_internal},
            "Notes": [],
            "Tags": [],
            "Ratings": [],
        });
        if let Some(contact) = c.contact_id.and_then(|id| self.contacts.get(&id)) {
            row["Contact"] = self.contact_in_call(contact);
        }
        if let Some(agent) = self.agents.get(&c.user_id) {
            row["Agent"] = agent.in_call();
        }
        row
    }

    /// A contact as the call history flattens it.
    fn contact_in_call(&self, c: &Contact) -> Value {
        let mut contact = Map::new();
        contact.insert("id".into(), json!(c.id.to_string()));
        for key in [
            "name", "title", "company", "industry", "address", "city", "zip", "state",
        ] {
            if let Some(v) = c.fields.get(key) {
                contact.insert(key.into(), v.clone());
            }
        }
        contact.insert("type".into(), json!("contact"));
        contact.insert("contact_numbers".into(), json!(c.numbers));
        contact.insert("contact_emails".into(), json!(c.emails));
        let tags: Vec<Value> = c
            .tags
            .iter()
            .map(|t| match self.find_tag(t) {
                Some(id) => json!({"id": id.to_string(), "name": t}),
                None => json!({"name": t}),
            })
            .collect();
        contact.insert("tags".into(), json!(tags));
        let urls: Vec<Value> = c
            .external_urls
            .iter()
            .map(|(name, url)| json!({"external_system": name, "external_url": url}))
            .collect();
        contact.insert("external_urls".into(), json!(urls));
        let fields: Vec<Value> = c
            .attributes
            .iter()
            .map(|(id, value)| json!({"key": id.to_string(), "value": value}))
            .collect();
        contact.insert("custom_fields".into(), json!(fields));
        if let Some(agent) = c
            .fields
            .get("favorite_agent")
            .and_then(whole)
            .and_then(|id| self.agents.get(&id))
        {
            contact.insert("favorite_agent".into(), agent.in_call());
        }
        Value::Object(contact)
    }

    /// `GET /calls/{callId}` of the analytics host: the call and its flow (one agent step).
    pub fn call_details(&self, id: u64) -> Option<Value> {
        let c = self.calls.get(&id)?;
        let status = if c.answered() { "answered" } else { "missed" };
        let times = json!({
            "total_time": c.waiting_time + c.talking_time,
            "talking_time": c.talking_time,
            "wrap_up_time": c.wrapup_time,
            "ringing_time": c.waiting_time,
            "waiting_time": c.waiting_time,
            "holding_time": 0,
        });
        let mut contact = json!({"number": c.public_external});
        if let Some(found) = c.contact_id.and_then(|id| self.contacts.get(&id)) {
            contact["id"] = json!(found.id);
            if let Some(name) = found.fields.get("name") {
                contact["name"] = name.clone();
            }
        }
        let mut step = json!({
            "type": "agent",
            "id": c.user_id,
            "date": c.started_at,
            "call_id": c.id,
            "call_times": times,
            "status": status,
        });
        if let Some(agent) = self.agents.get(&c.user_id) {
            step["name"] = json!(agent.fullname());
            step["group_ids"] = json!([]);
        }
        if !c.answered() {
            step["reason"] = json!("not_picked_up");
        }
        Some(json!({
            "cdr_id": c.id,
            "uuid": c.uuid,
            "company_id": self.id,
            "date": c.started_at,
            "contact": contact,
            "call_tags": [],
            "internal_number": {"number": c.public_internal},
            "call_times": times,
            "direction": c.direction,
            "type": "regular",
            "status": status,
            "call_steps": [step],
            "notes": [],
            "recorded": c.recorded,
            "out_of_office": false,
        }))
    }

    /// `GET /calls/recording/{callId}.json`: the audio, 404 without a recording, 410 when it
    /// expired.
    pub fn recording(&self, id: u64) -> Result<Vec<u8>, Refusal> {
        let call = self.calls.get(&id).ok_or_else(Refusal::not_found)?;
        if !call.recorded {
            return Err(Refusal::not_found());
        }
        if call.recording_expired {
            return Err(Refusal {
                status: 410,
                message: "Recording expired.".into(),
                fields: BTreeMap::new(),
            });
        }
        Ok(silent_wav())
    }

    /// Adds an agent (an id of 0 is given the next free one; without an extension it is
    /// given the lowest free one) and returns its id.
    pub fn add_agent(&mut self, mut agent: Agent) -> u64 {
        if agent.id == 0 {
            agent.id = self.agents.keys().max().map_or(1, |m| m + 1);
        }
        if agent.extension.is_none() {
            agent.extension =
                (1_001..=9_999).find(|e| !self.agents.values().any(|a| a.extension == Some(*e)));
        }
        let id = agent.id;
        self.agents.insert(id, agent);
        id
    }

    /// The agent `id`, added with `name` if the company has none by that id.
    pub fn ensure_agent(&mut self, id: u64, name: &str) -> &mut Agent {
        if !self.agents.contains_key(&id) {
            self.add_agent(Agent::named(id, name));
        }
        self.agents.get_mut(&id).expect("just added")
    }

    /// An agent's availability changes (the agent is added if unknown).
    pub fn set_agent_status(&mut self, id: u64, name: &str, status: &str) {
        self.ensure_agent(id, name).availability_status = status.to_owned();
    }

    /// `GET /agents/index.json` (`id` and `associated_number`).
    pub fn list_agents(&self, query: &BTreeMap<String, String>) -> Value {
        let number = query.get("associated_number").map(|n| digits_of(n));
        let rows = self
            .agents
            .values()
            .filter(|a| wanted_id(query, "id").is_none_or(|id| a.id == id))
            .filter(|a| {
                number
                    .as_ref()
                    .is_none_or(|n| a.associated_numbers.iter().any(|x| digits_of(x) == *n))
            })
            .map(Agent::row)
            .collect();
        page(rows, query)
    }

    /// `PUT /campaigns/add.json` (`name` and `Button` are required; tags, agents named by
    /// id must exist).
    pub fn add_campaign(&mut self, body: &Map<String, Value>) -> Result<u64, Refusal> {
        let blank = Campaign {
            id: 0,
            name: String::new(),
            status: "inactive".into(),
            fields: BTreeMap::new(),
            buttons: Vec::new(),
            tag_ids: Vec::new(),
            agent_ids: Vec::new(),
            group_ids: Vec::new(),
        };
        let mut campaign = self.campaign_from(blank, body, false)?;
        self.next_campaign += 1;
        campaign.id = 60 + self.next_campaign;
        let id = campaign.id;
        self.campaigns.insert(id, campaign);
        Ok(id)
    }

    /// `POST /campaigns/edit/{id}.json`: what is sent changes; collections sent replace.
    pub fn edit_campaign(&mut self, id: u64, body: &Map<String, Value>) -> Result<(), Refusal> {
        let campaign = self
            .campaigns
            .get(&id)
            .cloned()
            .ok_or_else(Refusal::not_found)?;
        let edited = self.campaign_from(campaign, body, true)?;
        self.campaigns.insert(id, edited);
        Ok(())
    }

    /// `DELETE /campaigns/delete/{id}.json`.
    pub fn delete_campaign(&mut self, id: u64) -> Result<(), Refusal> {
        self.campaigns
            .remove(&id)
            .map(|_| ())
            .ok_or_else(Refusal::not_found)
    }

    /// A campaign named `name` calling the contacts tagged `tags` (the tags are given ids
    /// if new), active, with one "Sale" button; its id.
    pub fn add_campaign_with_tags(&mut self, name: &str, tags: &[&str]) -> u64 {
        let tag_ids: Vec<Value> = tags.iter().map(|t| json!({"id": self.tag_id(t)})).collect();
        let body = json!({
            "name": name,
            "status": "active",
            "Button": [{"title": "Sale", "type": "successful_positive"}],
            "ContactsTag": tag_ids,
        });
        self.add_campaign(body.as_object().expect("an object"))
            .expect("a valid campaign")
    }

    fn campaign_from(
        &mut self,
        mut campaign: Campaign,
        body: &Map<String, Value>,
        edit: bool,
    ) -> Result<Campaign, Refusal> {
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Refusal::invalid("name", "Please supply a valid campaign name."))?;
        if !body.get("Button").is_some_and(Value::is_array) {
            return Err(Refusal::invalid("Button", "This field is required."));
        }
        campaign.name = name.to_owned();
        for (key, v) in body {
            let key = key.as_str();
            match key {
                "name" => {}
                "status" => match v.as_str() {
                    Some(s @ ("active" | "inactive")) => campaign.status = s.to_owned(),
                    _ => return Err(Refusal::invalid(key, "Must be active or inactive.")),
                },
                "is_predictive" => match whole(v) {
                    Some(n @ (0 | 1)) => {
                        campaign.fields.insert(key.into(), json!(n));
                    }
                    _ => return Err(Refusal::invalid(key, "Must be 0 or 1.")),
                },
                k if CAMPAIGN_INTEGERS.contains(&k) => {
                    let n =
                        whole(v).ok_or_else(|| Refusal::invalid(key, "Must be a whole number."))?;
                    campaign.fields.insert(key.into(), json!(n));
                }
                k if CAMPAIGN_BOOLEANS.contains(&k) => {
                    let b = v
                        .as_bool()
                        .ok_or_else(|| Refusal::invalid(key, "Must be true or false."))?;
                    campaign.fields.insert(key.into(), json!(b));
                }
                k if CAMPAIGN_TEXTS.contains(&k) => {
                    let t = v
                        .as_str()
                        .ok_or_else(|| Refusal::invalid(key, "Must be text."))?;
                    campaign.fields.insert(key.into(), json!(t));
                }
                "Button" => {
                    let allowed: &[&str] = if edit {
                        &["id", "title", "type", "color", "description"]
                    } else {
                        &["title", "type", "color", "description"]
                    };
                    let mut buttons = Vec::new();
                    for item in items(key, v)? {
                        only(key, item, allowed)?;
                        let title = item
                            .get("title")
                            .and_then(Value::as_str)
                            .filter(|t| !t.trim().is_empty())
                            .ok_or_else(|| Refusal::invalid(key, "A button needs a title."))?;
                        let kind = item
                            .get("type")
                            .and_then(Value::as_str)
                            .filter(|t| BUTTON_TYPES.contains(t))
                            .ok_or_else(|| Refusal::invalid(key, "Unknown button type."))?;
                        let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
                        let id = match item.get("id").and_then(whole) {
                            Some(id) => id,
                            None => {
                                self.next_button += 1;
                                250 + self.next_button
                            }
                        };
                        buttons.push(Button {
                            id,
                            title: title.to_owned(),
                            kind: kind.to_owned(),
                            color: text("color"),
                            description: text("description"),
                        });
                    }
                    campaign.buttons = buttons;
                }
                "ContactsTag" => {
                    let ids = ids_of(key, v)?;
                    if let Some(id) = ids.iter().find(|id| !self.tags.contains_key(id)) {
                        return Err(Refusal::invalid(key, &format!("Tag {id} does not exist.")));
                    }
                    campaign.tag_ids = ids;
                }
                "Agent" => {
                    let ids = ids_of(key, v)?;
                    if let Some(id) = ids.iter().find(|id| !self.agents.contains_key(id)) {
                        return Err(Refusal::invalid(
                            key,
                            &format!("Agent {id} does not exist."),
                        ));
                    }
                    campaign.agent_ids = ids;
                }
                "Group" => campaign.group_ids = ids_of(key, v)?,
                other => return Err(Refusal::invalid(other, "Unknown field.")),
            }
        }
        Ok(campaign)
    }

    /// `GET /campaigns/index.json`, in the shape of the document's example: the campaign,
    /// then lists of its `Button`s, `ContactsTag`s, `Group`s and `Agent`s.
    pub fn list_campaigns(&self, query: &BTreeMap<String, String>) -> Value {
        let rows = self
            .campaigns
            .values()
            .filter(|c| wanted_id(query, "id").is_none_or(|id| c.id == id))
            .map(|c| {
                let mut core = Map::new();
                core.insert("id".into(), json!(c.id.to_string()));
                core.insert("name".into(), json!(c.name));
                core.insert("status".into(), json!(c.status));
                for (k, v) in &c.fields {
                    let v = match (k.as_str(), v) {
                        ("is_predictive", v) => json!(v.as_u64() == Some(1)),
                        (_, Value::Number(n)) => json!(n.to_string()),
                        (_, other) => other.clone(),
                    };
                    core.insert(k.clone(), v);
                }
                let buttons: Vec<Value> = c
                    .buttons
                    .iter()
                    .map(|b| {
                        let mut button =
                            json!({"id": b.id.to_string(), "title": b.title, "type": b.kind});
                        if let Some(color) = &b.color {
                            button["color"] = json!(color);
                        }
                        if let Some(d) = &b.description {
                            button["description"] = json!(d);
                        }
                        button
                    })
                    .collect();
                let tags: Vec<Value> = c
                    .tag_ids
                    .iter()
                    .map(|id| json!({"id": id.to_string(), "name": self.tags.get(id)}))
                    .collect();
                let groups: Vec<Value> = c
                    .group_ids
                    .iter()
                    .map(|id| json!({"id": id.to_string()}))
                    .collect();
                let agents: Vec<Value> = c
                    .agent_ids
                    .iter()
                    .filter_map(|id| self.agents.get(id))
                    .map(|a| json!({"id": a.id.to_string(), "fullname": a.fullname()}))
                    .collect();
                json!({
                    "Campaign": core,
                    "Button": buttons,
                    "ContactsTag": tags,
                    "Group": groups,
                    "Agent": agents,
                })
            })
            .collect();
        page(rows, query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn times_are_written_as_cloudtalk_writes_them() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_507_098_817_000), "2017-10-04T06:33:37.000Z");
        assert_eq!(iso_time(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        assert_eq!(
            comparable("2017-10-04 06:33:37"),
            comparable("2017-10-04T06:33:37.000Z")
        );
        let wav = silent_wav();
        assert_eq!(
            (&wav[..4], &wav[8..12], wav.len()),
            (&b"RIFF"[..], &b"WAVE"[..], 1_644)
        );
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
