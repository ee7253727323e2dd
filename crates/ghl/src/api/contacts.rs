//! Contacts: create, upsert, get, update, delete, search, the deprecated list, duplicate
//! lookup, tags (one contact's, or many at once) and notes
//! (`apps/contacts.json`, `Version: 2021-07-28`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::de::null_default;
use crate::ids::{ContactId, CustomFieldId, LocationId, NoteId, UserId};

/// A contact as GHL returns it from get, create, update, upsert and search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// The contact's id.
    pub id: ContactId,
    /// Its location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Primary email.
    #[serde(default)]
    pub email: Option<String>,
    /// Primary phone, E.164.
    #[serde(default)]
    pub phone: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address1: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Two-letter country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Website.
    #[serde(default)]
    pub website: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Where the contact came from.
    #[serde(default)]
    pub source: Option<String>,
    /// Contact type (`lead`, `customer`, ...).
    #[serde(default, rename = "type")]
    pub contact_type: Option<String>,
    /// Assigned user.
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// Do-not-disturb on every channel.
    #[serde(default)]
    pub dnd: Option<bool>,
    /// Tags (GHL keeps them lower-case).
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Custom field values by field id.
    #[serde(default, deserialize_with = "null_default")]
    pub custom_fields: Vec<CustomFieldValue>,
    /// Date of birth, ISO 8601.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    /// Creation time, ISO 8601.
    #[serde(default)]
    pub date_added: Option<String>,
    /// Last update time, ISO 8601.
    #[serde(default)]
    pub date_updated: Option<String>,
    /// Paging cursor on search hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Contact {
    /// The value of a custom field, by field id.
    pub fn custom_field(&self, id: &CustomFieldId) -> Option<&Value> {
        self.custom_fields
            .iter()
            .find(|f| &f.id == id)
            .map(|f| &f.value)
    }
}

/// A custom field value as GHL reads it back: `{id, value}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldValue {
    /// Field id (per location).
    pub id: CustomFieldId,
    /// String, number, list or object depending on the field's data type.
    #[serde(default)]
    pub value: Value,
}

/// A custom field value to write: `{id | key, field_value}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldInput {
    /// Field id; GHL requires it for every type but text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<CustomFieldId>,
    /// Field key (`contact.<key>`), accepted instead of the id for text fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value: string, number, list of strings or file map, by data type.
    pub field_value: Value,
}

impl CustomFieldInput {
    /// A value addressed by field id.
    pub fn by_id(id: impl Into<CustomFieldId>, value: impl Into<Value>) -> Self {
        Self {
            id: Some(id.into()),
            key: None,
            field_value: value.into(),
        }
    }

    /// A value addressed by field key.
    pub fn by_key(key: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            id: None,
            key: Some(key.into()),
            field_value: value.into(),
        }
    }
}

/// The writable fields create, upsert and update share.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactFields {
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Primary email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Primary phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Do-not-disturb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Tags. On update and upsert this REPLACES all tags; use [`Client::add_tags`] to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Custom field values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomFieldInput>>,
    /// Source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Date of birth (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Two-letter country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Assigned user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
}

/// Body of `POST /contacts/` (`CreateContactDto`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewContact {
    /// The location to create the contact in.
    pub location_id: LocationId,
    /// The contact's fields.
    #[serde(flatten)]
    pub fields: ContactFields,
    /// Company name (not accepted by update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Gender (not accepted by update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
}

impl NewContact {
    /// A contact with only its location set.
    pub fn new(location_id: impl Into<LocationId>) -> Self {
        Self {
            location_id: location_id.into(),
            fields: ContactFields::default(),
            company_name: None,
            gender: None,
        }
    }
}

/// Body of `POST /contacts/upsert` (`UpsertContactDto`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertContact {
    /// The location.
    pub location_id: LocationId,
    /// The contact's fields; `email` and `phone` are what GHL matches on.
    #[serde(flatten)]
    pub fields: ContactFields,
    /// Company name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Gender (GHL ignores it for an existing contact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Create a new contact even if one matches, when the location allows duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_new_if_duplicate_allowed: Option<bool>,
}

impl UpsertContact {
    /// An upsert with only its location set.
    pub fn new(location_id: impl Into<LocationId>) -> Self {
        Self {
            location_id: location_id.into(),
            fields: ContactFields::default(),
            company_name: None,
            gender: None,
            create_new_if_duplicate_allowed: None,
        }
    }
}

/// Body of `PUT /contacts/{id}` (`UpdateContactDto`): no location or gender. The company
/// name is accepted though GHL's file leaves it out (highlevel-api-docs#314).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactUpdate {
    /// The fields to change.
    #[serde(flatten)]
    pub fields: ContactFields,
    /// Company name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

impl From<ContactFields> for ContactUpdate {
    fn from(fields: ContactFields) -> Self {
        Self {
            fields,
            company_name: None,
        }
    }
}

/// Query of the deprecated `GET /contacts/`, which imports page through: newest first,
/// `limit` at a time (at most 100), each page starting after the previous page's last
/// contact (`meta.startAfter` and `meta.startAfterId`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactListQuery {
    /// The location (required).
    pub location_id: LocationId,
    /// Page size, at most 100 (GHL's default is 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `dateAdded` in ms of the previous page's last contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after: Option<i64>,
    /// Id of the previous page's last contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_after_id: Option<ContactId>,
    /// Text in the name, email, phone or company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl ContactListQuery {
    /// The first page of a location's contacts.
    pub fn new(location_id: impl Into<LocationId>) -> Self {
        Self {
            location_id: location_id.into(),
            limit: None,
            start_after: None,
            start_after_id: None,
            query: None,
        }
    }
}

/// A page of the deprecated `GET /contacts/`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactList {
    /// The contacts.
    #[serde(default, deserialize_with = "null_default")]
    pub contacts: Vec<Contact>,
    /// Contacts matching the query, over every page.
    #[serde(default)]
    pub count: u64,
    /// Paging, which live GHL adds beyond its schema.
    #[serde(default)]
    pub meta: Option<ListMeta>,
}

/// The `meta` paging block of GHL's list answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// Matching records.
    #[serde(default)]
    pub total: Option<u64>,
    /// The next page's URL; absent or null on the last page.
    #[serde(default)]
    pub next_page_url: Option<String>,
    /// Id of this page's last record.
    #[serde(default)]
    pub start_after_id: Option<String>,
    /// Sort value (ms) of this page's last record.
    #[serde(default)]
    pub start_after: Option<i64>,
    /// This page's number.
    #[serde(default)]
    pub current_page: Option<u64>,
    /// The next page's number, if any.
    #[serde(default)]
    pub next_page: Option<u64>,
    /// The previous page's number, if any.
    #[serde(default)]
    pub prev_page: Option<u64>,
}

/// Whether a bulk tag update adds or removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkTagAction {
    /// Add the tags.
    Add,
    /// Remove the tags (or, with `remove_all_tags`, every tag).
    Remove,
}

impl BulkTagAction {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
        }
    }
}

/// Body of `POST /contacts/bulk/tags/update/{type}` (`UpdateTagsDTO`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTags {
    /// The contacts.
    pub contacts: Vec<ContactId>,
    /// The tags.
    pub tags: Vec<String>,
    /// The location.
    pub location_id: LocationId,
    /// Remove every tag (remove only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_all_tags: Option<bool>,
}

/// What a bulk tag update answers: one item per contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTagsResult {
    /// GHL's spelling.
    #[serde(default)]
    pub succeded: bool,
    /// Contacts that failed.
    #[serde(default)]
    pub error_count: u64,
    /// Per contact: `{contactId, message, type: success | error, oldTags, tagsAdded, tagsRemoved}`.
    #[serde(default, deserialize_with = "null_default")]
    pub responses: Vec<BulkTagResponse>,
}

/// One contact's outcome in a bulk tag update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkTagResponse {
    /// The contact.
    pub contact_id: ContactId,
    /// What happened, in GHL's words.
    #[serde(default)]
    pub message: Option<String>,
    /// `success` or `error`.
    #[serde(default, rename = "type")]
    pub outcome: Option<String>,
    /// Tags before.
    #[serde(default, deserialize_with = "null_default")]
    pub old_tags: Vec<String>,
    /// Tags added.
    #[serde(default, deserialize_with = "null_default")]
    pub tags_added: Vec<String>,
    /// Tags removed.
    #[serde(default, deserialize_with = "null_default")]
    pub tags_removed: Vec<String>,
}

/// What `POST /contacts/upsert` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpsertedContact {
    /// True when a contact was created, false when an existing one was updated.
    #[serde(default)]
    pub new: bool,
    /// The contact after the upsert.
    pub contact: Contact,
}

/// One condition, or a group of conditions, of a contact search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SearchFilter {
    /// `{field, operator, value}`.
    Condition {
        /// Field name, e.g. `email`, `firstNameLowerCase`, `tags`.
        field: String,
        /// Operator.
        operator: FilterOperator,
        /// Value; absent for `exists` / `not_exists`.
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
    /// `{group: "AND" | "OR", filters: [...]}`.
    Group {
        /// How the inner filters combine.
        group: FilterGroup,
        /// The inner filters.
        filters: Vec<SearchFilter>,
    },
}

impl SearchFilter {
    /// `field eq value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Condition {
            field: field.into(),
            operator: FilterOperator::Eq,
            value: Some(value.into()),
        }
    }
}

/// Search operators GHL documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOperator {
    /// Equal.
    Eq,
    /// Not equal.
    NotEq,
    /// Substring.
    Contains,
    /// Not a substring.
    NotContains,
    /// Field is set.
    Exists,
    /// Field is not set.
    NotExists,
    /// Range object with `gte` / `lte` / `gt` / `lt`.
    Range,
}

/// How filters in a group combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterGroup {
    /// Every filter must hold.
    And,
    /// One filter must hold.
    Or,
}

/// A sort key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSort {
    /// Field name.
    pub field: String,
    /// `asc` or `desc`.
    pub direction: SortDirection,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// Body of `POST /contacts/search`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSearch {
    /// The location (required by GHL).
    pub location_id: LocationId,
    /// Page size, at most 500 (required by GHL).
    pub page_limit: u32,
    /// Page number; reaches at most 10,000 records. Do not combine with `search_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Cursor from the last hit of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Conditions, combined with AND.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub filters: Vec<SearchFilter>,
    /// Sort keys.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub sort: Vec<SearchSort>,
    /// Full-text query (at most 75 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl ContactSearch {
    /// Every contact of a location, `page_limit` at a time.
    pub fn all(location_id: impl Into<LocationId>, page_limit: u32) -> Self {
        Self {
            location_id: location_id.into(),
            page_limit,
            page: None,
            search_after: None,
            filters: Vec::new(),
            sort: Vec::new(),
            query: None,
        }
    }
}

/// One page of search results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactPage {
    /// The hits.
    #[serde(default, deserialize_with = "null_default")]
    pub contacts: Vec<Contact>,
    /// Total matching contacts.
    #[serde(default)]
    pub total: u64,
}

/// A note on a contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// Note id.
    pub id: NoteId,
    /// Text.
    #[serde(default)]
    pub body: Option<String>,
    /// Author.
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// Contact.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Creation time.
    #[serde(default)]
    pub date_added: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Colour.
    #[serde(default)]
    pub color: Option<String>,
    /// Pinned.
    #[serde(default)]
    pub pinned: Option<bool>,
}

/// Body of `POST /contacts/{id}/notes` (`NotesDTO`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNote {
    /// Text (required).
    pub body: String,
    /// Author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Colour, e.g. `#FFAA00`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
}

impl NewNote {
    /// A note with only a body.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
    use reqwest::Method;

    const V: Option<ApiVersion> = Some(ApiVersion::V2021_07_28);

    #[derive(Deserialize)]
    struct ContactEnvelope {
        contact: Contact,
    }

    #[derive(Deserialize)]
    struct MaybeContactEnvelope {
        #[serde(default)]
        contact: Option<Contact>,
    }

    #[derive(Deserialize)]
    struct TagsEnvelope {
        #[serde(default, deserialize_with = "null_default")]
        tags: Vec<String>,
    }

    #[derive(Deserialize)]
    struct NoteEnvelope {
        note: Note,
    }

    #[derive(Deserialize)]
    struct NotesEnvelope {
        #[serde(default, deserialize_with = "null_default")]
        notes: Vec<Note>,
    }

    #[derive(Serialize)]
    struct TagsBody<'a> {
        tags: &'a [String],
    }

    impl Client {
        /// `POST /contacts/`. Fails with [`Error::Duplicate`] when the location does not allow
        /// duplicates and one matches.
        pub async fn create_contact(
            &self,
            contact: &NewContact,
        ) -> Result<Response<Contact>, Error> {
            let rb = self
                .request(Method::POST, &["contacts", ""], V)?
                .json(contact);
            Ok(self
                .send_json::<ContactEnvelope>(rb)
                .await?
                .map(|e| e.contact))
        }

        /// `POST /contacts/upsert`: updates the contact matching the email or phone (in the
        /// location's configured order) or creates one.
        pub async fn upsert_contact(
            &self,
            contact: &UpsertContact,
        ) -> Result<Response<UpsertedContact>, Error> {
            let rb = self
                .request(Method::POST, &["contacts", "upsert"], V)?
                .json(contact);
            self.send_json(rb).await
        }

        /// `GET /contacts/{id}`.
        pub async fn get_contact(&self, id: &ContactId) -> Result<Response<Contact>, Error> {
            let rb = self.request(Method::GET, &["contacts", id.as_str()], V)?;
            Ok(self
                .send_json::<ContactEnvelope>(rb)
                .await?
                .map(|e| e.contact))
        }

        /// `PUT /contacts/{id}`.
        pub async fn update_contact(
            &self,
            id: &ContactId,
            update: &ContactUpdate,
        ) -> Result<Response<Contact>, Error> {
            let rb = self
                .request(Method::PUT, &["contacts", id.as_str()], V)?
                .json(update);
            Ok(self
                .send_json::<ContactEnvelope>(rb)
                .await?
                .map(|e| e.contact))
        }

        /// `DELETE /contacts/{id}`. The body is GHL's `{succeded}` flag.
        pub async fn delete_contact(&self, id: &ContactId) -> Result<Response<bool>, Error> {
            let rb = self.request(Method::DELETE, &["contacts", id.as_str()], V)?;
            Ok(self
                .send_json::<crate::api::Succeeded>(rb)
                .await?
                .map(|s| s.succeded))
        }

        /// `POST /contacts/search`: one page.
        pub async fn search_contacts(
            &self,
            search: &ContactSearch,
        ) -> Result<Response<ContactPage>, Error> {
            let rb = self
                .request(Method::POST, &["contacts", "search"], V)?
                .json(search);
            self.send_json(rb).await
        }

        /// Every contact matching `search`, page after page, following each page's
        /// `searchAfter` cursor (or page numbers when hits carry none).
        pub fn search_contacts_stream(
            &self,
            search: ContactSearch,
        ) -> BoxStream<'static, Result<Contact, Error>> {
            let client = self.clone();
            stream::try_unfold(Some(search), move |next| {
                let client = client.clone();
                async move {
                    let Some(mut search) = next else {
                        return Ok(None);
                    };
                    let page = client.search_contacts(&search).await?.into_data();
                    let full_page = page.contacts.len() as u32 >= search.page_limit.max(1);
                    let cursor = page.contacts.last().and_then(|c| c.search_after.clone());
                    let next = match (full_page, cursor) {
                        (false, _) => None,
                        (true, Some(cursor)) => {
                            search.page = None;
                            search.search_after = Some(cursor);
                            Some(search)
                        }
                        (true, None) => {
                            search.page = Some(search.page.unwrap_or(1) + 1);
                            Some(search)
                        }
                    };
                    Ok(Some((
                        stream::iter(page.contacts.into_iter().map(Ok)),
                        next,
                    )))
                }
            })
            .try_flatten()
            .boxed()
        }

        /// `GET /contacts/search/duplicate`: the contact GHL would treat as a duplicate of this
        /// email or phone, following the location's duplicate settings.
        pub async fn find_duplicate_contact(
            &self,
            location_id: &LocationId,
            email: Option<&str>,
            phone: Option<&str>,
        ) -> Result<Response<Option<Contact>>, Error> {
            let mut query: Vec<(&str, &str)> = vec![("locationId", location_id.as_str())];
            if let Some(email) = email {
                query.push(("email", email));
            }
            if let Some(phone) = phone {
                query.push(("number", phone));
            }
            let rb = self
                .request(Method::GET, &["contacts", "search", "duplicate"], V)?
                .query(&query);
            Ok(self
                .send_json::<MaybeContactEnvelope>(rb)
                .await?
                .map(|e| e.contact))
        }

        /// `POST /contacts/{id}/tags`: adds tags; answers the contact's tags.
        pub async fn add_tags(
            &self,
            id: &ContactId,
            tags: &[String],
        ) -> Result<Response<Vec<String>>, Error> {
            let rb = self
                .request(Method::POST, &["contacts", id.as_str(), "tags"], V)?
                .json(&TagsBody { tags });
            Ok(self.send_json::<TagsEnvelope>(rb).await?.map(|e| e.tags))
        }

        /// `DELETE /contacts/{id}/tags`: removes tags; answers the contact's tags.
        pub async fn remove_tags(
            &self,
            id: &ContactId,
            tags: &[String],
        ) -> Result<Response<Vec<String>>, Error> {
            let rb = self
                .request(Method::DELETE, &["contacts", id.as_str(), "tags"], V)?
                .json(&TagsBody { tags });
            Ok(self.send_json::<TagsEnvelope>(rb).await?.map(|e| e.tags))
        }

        /// The deprecated `GET /contacts/`: one page (see [`ContactListQuery`]).
        pub async fn list_contacts(
            &self,
            query: &ContactListQuery,
        ) -> Result<Response<ContactList>, Error> {
            let rb = self
                .request(Method::GET, &["contacts", ""], V)?
                .query(query);
            self.send_json(rb).await
        }

        /// `POST /contacts/bulk/tags/update/{add|remove}`: many contacts at once, each with
        /// its own outcome.
        pub async fn bulk_update_tags(
            &self,
            action: BulkTagAction,
            body: &BulkTags,
        ) -> Result<Response<BulkTagsResult>, Error> {
            let rb = self
                .request(
                    Method::POST,
                    &["contacts", "bulk", "tags", "update", action.as_str()],
                    V,
                )?
                .json(body);
            self.send_json(rb).await
        }

        /// `POST /contacts/{id}/notes`.
        pub async fn add_note(
            &self,
            id: &ContactId,
            note: &NewNote,
        ) -> Result<Response<Note>, Error> {
            let rb = self
                .request(Method::POST, &["contacts", id.as_str(), "notes"], V)?
                .json(note);
            Ok(self.send_json::<NoteEnvelope>(rb).await?.map(|e| e.note))
        }

        /// `GET /contacts/{id}/notes`.
        pub async fn list_notes(&self, id: &ContactId) -> Result<Response<Vec<Note>>, Error> {
            let rb = self.request(Method::GET, &["contacts", id.as_str(), "notes"], V)?;
            Ok(self.send_json::<NotesEnvelope>(rb).await?.map(|e| e.notes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_never_sends_location_or_gender() {
        let mut update = ContactUpdate::from(ContactFields {
            email: Some("a@b.co".into()),
            tags: Some(vec!["x".into()]),
            custom_fields: Some(vec![CustomFieldInput::by_id("f1", "v")]),
            ..ContactFields::default()
        });
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            json!({"email": "a@b.co", "tags": ["x"], "customFields": [{"id": "f1", "field_value": "v"}]})
        );
        update.company_name = Some("Acme".into());
        assert_eq!(
            serde_json::to_value(&update).unwrap()["companyName"],
            "Acme"
        );
    }

    #[test]
    fn contact_keeps_unknown_fields_and_tolerates_nulls() {
        let c: Contact = serde_json::from_value(json!({
            "id": "c1", "tags": null, "customFields": [{"id": "f", "value": 3}],
            "additionalEmails": [{"email": "x@y.z"}]
        }))
        .unwrap();
        assert!(c.tags.is_empty());
        assert_eq!(c.custom_field(&"f".into()), Some(&json!(3)));
        assert!(c.other.contains_key("additionalEmails"));
    }
}
