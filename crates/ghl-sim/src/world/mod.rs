//! The simulated GHL state: companies, locations and everything in them, tokens and OAuth
//! apps. Operations here are HTTP-free; `crate::http` decodes requests and calls them.
//!
//! Every operation that changes state records an [`Effect`] for the audit log and queues
//! the webhooks GHL would send, in a [`Changes`] the HTTP layer hands on after answering.

mod contact_search;
mod contacts;
mod conversations;
mod custom_fields;
mod oauth;
mod opportunities;

use std::collections::HashMap;

use indexmap::IndexMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use contact_search::ContactListQuery;
pub use contacts::ContactRecord;
pub use conversations::{CallSpec, MessageExportQuery, Sentence};
pub use opportunities::{OpportunityRecord, Pipeline, PipelineStage};

use crate::audit::Effect;
use crate::error::SimError;
use crate::util::{new_id_from, now_ms};
use crate::webhooks::PendingEvent;

/// A contact identifier GHL can match duplicates on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchField {
    /// Email, case-insensitive.
    Email,
    /// Phone, normalised to E.164.
    Phone,
}

impl MatchField {
    fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// A location's "Contact Deduplication Preferences" and opportunity duplicate setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationSettings {
    /// "Allow Duplicate Contact".
    pub allow_duplicate_contact: bool,
    /// Primary and secondary match fields, in priority order.
    pub duplicate_match_order: Vec<MatchField>,
    /// "Allow Duplicate Opportunity"; when off, one opportunity per contact and pipeline.
    pub allow_duplicate_opportunity: bool,
}

impl Default for LocationSettings {
    fn default() -> Self {
        Self {
            allow_duplicate_contact: false,
            duplicate_match_order: vec![MatchField::Email, MatchField::Phone],
            allow_duplicate_opportunity: false,
        }
    }
}

/// A custom field definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldRecord {
    /// Field id (random per location).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `contact.<key>` or `opportunity.<key>`.
    pub field_key: String,
    /// Data type.
    pub data_type: String,
    /// `contact` or `opportunity`.
    pub model: String,
    /// Placeholder.
    pub placeholder: Option<String>,
    /// Position.
    pub position: f64,
    /// Options of option-type fields.
    pub picklist_options: Vec<String>,
}

impl CustomFieldRecord {
    /// The key without its model prefix.
    pub fn short_key(&self) -> &str {
        self.field_key
            .split_once('.')
            .map_or(&self.field_key, |(_, k)| k)
    }

    fn render(&self, location_id: &str) -> Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "name": self.name,
            "fieldKey": self.field_key,
            "dataType": self.data_type,
            "position": self.position,
            "picklistOptions": self.picklist_options,
            "locationId": location_id,
            "model": self.model,
        });
        if let Some(p) = &self.placeholder {
            v["placeholder"] = Value::String(p.clone());
        }
        v
    }
}

/// A sub-account and its data.
#[derive(Debug)]
pub struct Location {
    /// Location id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning agency.
    pub company_id: Option<String>,
    /// Duplicate settings.
    pub settings: LocationSettings,
    /// IANA time zone.
    pub timezone: String,
    pub(crate) contacts: IndexMap<String, ContactRecord>,
    pub(crate) notes: IndexMap<String, contacts::NoteRecord>,
    pub(crate) custom_fields: Vec<CustomFieldRecord>,
    pub(crate) pipelines: Vec<Pipeline>,
    pub(crate) opportunities: IndexMap<String, OpportunityRecord>,
    pub(crate) conversations: IndexMap<String, conversations::ConversationRecord>,
    pub(crate) messages: IndexMap<String, conversations::MessageRecord>,
    last_created_ms: i64,
}

impl Location {
    fn new(
        id: String,
        name: String,
        company_id: Option<String>,
        settings: LocationSettings,
    ) -> Self {
        Self {
            id,
            name,
            company_id,
            settings,
            timezone: "UTC".to_owned(),
            contacts: IndexMap::new(),
            notes: IndexMap::new(),
            custom_fields: Vec::new(),
            pipelines: Vec::new(),
            opportunities: IndexMap::new(),
            conversations: IndexMap::new(),
            messages: IndexMap::new(),
            last_created_ms: 0,
        }
    }

    /// A creation time that is unique and increasing within the location, so search
    /// cursors built on it are total.
    fn creation_ms(&mut self) -> i64 {
        self.last_created_ms = now_ms().max(self.last_created_ms + 1);
        self.last_created_ms
    }

    /// The custom field with this id, or this key (`contact.x` or `x`) for `model`.
    pub fn field(&self, id_or_key: &str, model: &str) -> Option<&CustomFieldRecord> {
        self.custom_fields.iter().find(|f| {
            f.id == id_or_key
                || (f.model == model && (f.field_key == id_or_key || f.short_key() == id_or_key))
        })
    }

    /// Custom field definitions as GHL lists them.
    pub fn render_custom_fields(&self, model: Option<&str>) -> Vec<Value> {
        self.custom_fields
            .iter()
            .filter(|f| model.is_none_or(|m| m == "all" || f.model == m))
            .map(|f| f.render(&self.id))
            .collect()
    }

    /// Contacts in creation order, rendered as `GET /contacts/{id}` answers.
    pub fn render_contacts(&self) -> Vec<Value> {
        self.contacts.values().map(|c| c.render_get(self)).collect()
    }

    /// `GetLocationByIdSchema`: what the simulator knows of the business.
    fn render(&self) -> Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "business": {"name": self.name, "timezone": self.timezone},
            "settings": {
                "allowDuplicateContact": self.settings.allow_duplicate_contact,
                "allowDuplicateOpportunity": self.settings.allow_duplicate_opportunity,
                "allowFacebookNameMerge": false,
                "disableContactTimezone": false,
            },
        });
        if let Some(company) = &self.company_id {
            v["companyId"] = Value::String(company.clone());
        }
        v
    }

    /// Opportunities in creation order.
    pub fn render_opportunities(&self) -> Vec<Value> {
        self.opportunities
            .values()
            .map(|o| o.render(self))
            .collect()
    }
}

/// An agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    /// Company id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// Whose data a token opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Resource {
    /// A location (sub-account) token.
    Location(String),
    /// An agency token.
    Company(String),
}

impl Resource {
    /// `location:<id>` or `company:<id>`.
    pub fn label(&self) -> String {
        match self {
            Self::Location(id) => format!("location:{id}"),
            Self::Company(id) => format!("company:{id}"),
        }
    }
}

/// What a bearer token stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The app (OAuth client id, or the Private Integration itself); rate limits are per
    /// app and resource.
    pub app: String,
    /// Location or company.
    pub resource: Resource,
    /// Expiry of OAuth access tokens; Private Integration tokens do not expire.
    pub expires_at_ms: Option<i64>,
}

impl TokenInfo {
    /// The rate-limit counter key.
    pub fn limit_key(&self) -> String {
        format!("{}|{}", self.app, self.resource.label())
    }
}

/// Changes made by one request: audit effects and webhooks to send.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub(crate) effects: Vec<Effect>,
    pub(crate) events: Vec<PendingEvent>,
}

impl Changes {
    pub(crate) fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub(crate) fn emit(
        &mut self,
        event_type: &str,
        location_id: &str,
        mut payload: Map<String, Value>,
    ) {
        payload.insert("locationId".into(), Value::String(location_id.to_owned()));
        self.events.push(PendingEvent {
            event_type: event_type.to_owned(),
            payload,
        });
    }
}

/// The whole simulated GHL.
#[derive(Debug)]
pub struct World {
    pub(crate) locations: IndexMap<String, Location>,
    pub(crate) companies: IndexMap<String, Company>,
    tokens: HashMap<String, TokenInfo>,
    pub(crate) oauth: oauth::OAuthState,
    /// Object id -> location id, to tell "not found" from "another location's".
    index: HashMap<String, String>,
    rng: StdRng,
    /// Answer the messages list in GHL's observed wrapped shape (default) or as documented.
    pub(crate) wrap_message_lists: bool,
}

impl World {
    /// An empty world; `seed` makes generated ids reproducible.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            locations: IndexMap::new(),
            companies: IndexMap::new(),
            tokens: HashMap::new(),
            oauth: oauth::OAuthState::default(),
            index: HashMap::new(),
            rng: seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
            wrap_message_lists: true,
        }
    }

    /// Answers message lists wrapped `{messages: {...}}` as GHL does (true, the default) or
    /// in the documented flat shape (false).
    pub fn set_wrap_message_lists(&mut self, wrap: bool) {
        self.wrap_message_lists = wrap;
    }

    /// A new 20-character id.
    pub fn new_id(&mut self) -> String {
        new_id_from(&mut self.rng)
    }

    /// A new UUID (stage ids), from the world's generator.
    pub fn new_uuid(&mut self) -> String {
        let bytes: [u8; 16] = rand::Rng::random(&mut self.rng);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Adds an agency.
    pub fn add_company(&mut self, name: &str) -> String {
        let id = self.new_id();
        self.companies.insert(
            id.clone(),
            Company {
                id: id.clone(),
                name: name.to_owned(),
            },
        );
        id
    }

    /// Adds a location.
    pub fn add_location(
        &mut self,
        name: &str,
        company_id: Option<String>,
        settings: LocationSettings,
    ) -> String {
        let id = self.new_id();
        self.locations.insert(
            id.clone(),
            Location::new(id.clone(), name.to_owned(), company_id, settings),
        );
        id
    }

    /// Issues a Private Integration token for a location or company.
    pub fn add_private_token(&mut self, resource: Resource) -> String {
        let token = format!("pit-{}", self.new_uuid());
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                app: format!("pit:{token}"),
                resource,
                expires_at_ms: None,
            },
        );
        token
    }

    pub(crate) fn insert_token(&mut self, token: String, info: TokenInfo) {
        self.tokens.insert(token, info);
    }

    /// Defines a custom field on a location.
    pub fn add_custom_field(
        &mut self,
        location_id: &str,
        name: &str,
        key: &str,
        data_type: &str,
        model: &str,
    ) -> Result<CustomFieldRecord, SimError> {
        let id = self.new_id();
        let location = self.location_mut(location_id)?;
        let record = CustomFieldRecord {
            id: id.clone(),
            name: name.to_owned(),
            field_key: format!("{model}.{key}"),
            data_type: data_type.to_owned(),
            model: model.to_owned(),
            placeholder: None,
            position: location.custom_fields.len() as f64,
            picklist_options: Vec::new(),
        };
        location.custom_fields.push(record.clone());
        self.index.insert(id, location_id.to_owned());
        Ok(record)
    }

    /// Looks up a bearer token.
    pub fn resolve_token(&self, token: &str) -> Result<TokenInfo, SimError> {
        let info = self
            .tokens
            .get(token)
            .ok_or_else(|| SimError::unauthorized("Invalid JWT"))?;
        if info.expires_at_ms.is_some_and(|exp| exp <= now_ms()) {
            return Err(SimError::unauthorized(
                "Invalid token: access token is invalid",
            ));
        }
        Ok(info.clone())
    }

    /// Peeks at a token without validating expiry (for rate-limit headers on faults).
    pub fn token_info(&self, token: &str) -> Option<&TokenInfo> {
        self.tokens.get(token)
    }

    /// The location a location token opens, checked against the location a request names.
    pub fn authorized_location(
        &mut self,
        auth: &TokenInfo,
        requested: Option<&str>,
    ) -> Result<&mut Location, SimError> {
        let Resource::Location(own) = &auth.resource else {
            return Err(SimError::wrong_scope());
        };
        if let Some(requested) = requested
            && requested != own
        {
            return Err(if self.locations.contains_key(requested) {
                SimError::forbidden_location()
            } else {
                SimError::bad_request("Location not found")
            });
        }
        let own = own.clone();
        self.location_mut(&own)
    }

    /// The location of an object (contact, opportunity, ...) the token may touch.
    pub(crate) fn location_of_object(
        &mut self,
        auth: &TokenInfo,
        object_id: &str,
        what: &str,
    ) -> Result<&mut Location, SimError> {
        let Resource::Location(own) = &auth.resource else {
            return Err(SimError::wrong_scope());
        };
        match self.index.get(object_id) {
            Some(loc) if loc == own => {
                let own = own.clone();
                self.location_mut(&own)
            }
            Some(_) => Err(SimError::forbidden_location()),
            None => Err(SimError::bad_request(format!("{what} not found"))),
        }
    }

    pub(crate) fn index_object(&mut self, object_id: &str, location_id: &str) {
        self.index
            .insert(object_id.to_owned(), location_id.to_owned());
    }

    pub(crate) fn unindex_object(&mut self, object_id: &str) {
        self.index.remove(object_id);
    }

    /// A location by id.
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.get(id)
    }

    /// A location by id, for changes.
    pub fn location_mut(&mut self, id: &str) -> Result<&mut Location, SimError> {
        self.locations
            .get_mut(id)
            .ok_or_else(|| SimError::bad_request("Location not found"))
    }

    /// `GET /locations/{id}`, with a location token of that location or an agency token of
    /// its company.
    pub fn get_location(&mut self, auth: &TokenInfo, location_id: &str) -> Result<Value, SimError> {
        let location = match &auth.resource {
            Resource::Company(company) => {
                let location = self
                    .locations
                    .get(location_id)
                    .ok_or_else(|| SimError::bad_request("Location not found"))?;
                if location.company_id.as_deref() != Some(company.as_str()) {
                    return Err(SimError::forbidden_location());
                }
                location
            }
            Resource::Location(_) => self.authorized_location(auth, Some(location_id))?,
        };
        Ok(serde_json::json!({"location": location.render()}))
    }

    /// Every location.
    pub fn locations(&self) -> impl Iterator<Item = &Location> {
        self.locations.values()
    }

    /// Every token with what it opens (for the seed printout and tests).
    pub fn tokens(&self) -> impl Iterator<Item = (&String, &TokenInfo)> {
        self.tokens.iter()
    }
}
