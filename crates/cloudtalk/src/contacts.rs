//! Contacts: add, edit, show, list (search by keyword), tags.
//!
//! An edit changes only what it sends, but each collection it sends (numbers, emails,
//! tags, attributes) replaces the contact's whole collection: to add one tag, send every
//! tag the contact should keep, or use [`Client::add_tags`].

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
use crate::de::{AgentId, ContactId, null_default, opt_id, opt_text, phone};
#[cfg(feature = "client")]
use crate::error::Error;

/// A custom field value: the attribute's id (from `GET /contacts/attributes.json`) and at
/// most 255 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    /// The attribute definition.
    pub attribute_id: u64,
    /// The value.
    #[serde(default, deserialize_with = "crate::de::null_default")]
    pub value: String,
}

/// A link to the contact in another system (at most 3 per contact; the name, at most 30
/// characters, is shown to agents). CloudTalk has no other place for an outside id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalUrl {
    /// The system's name.
    pub name: String,
    /// The contact's page there.
    pub url: String,
}

/// A tag with its id and name, as listings that show tags send them (a contact's tags in
/// the call history, a campaign's contact tags, a call's tags).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TagRef {
    /// The tag's id (the `tag_id` of [`ContactQuery`] for a contact tag).
    #[serde(default, deserialize_with = "crate::de::opt_u64")]
    pub id: Option<u64>,
    /// Its name.
    #[serde(default, deserialize_with = "crate::de::text")]
    pub name: String,
}

/// What an add or an edit sends. `None` leaves a value (or a collection) as it is; a
/// collection given replaces the contact's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactInput {
    /// Name (required to add; at most 150 characters).
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ZIP code.
    pub zip: Option<String>,
    /// State.
    pub state: Option<String>,
    /// CloudTalk's country id (`GET /countries/index.json`), not an ISO code.
    pub country_id: Option<u64>,
    /// The agent who takes this contact's calls first.
    pub favorite_agent: Option<AgentId>,
    /// Phone numbers in E.164 (`+441234...`).
    pub numbers: Option<Vec<String>>,
    /// Email addresses.
    pub emails: Option<Vec<String>>,
    /// Tag names.
    pub tags: Option<Vec<String>>,
    /// Custom field values.
    pub attributes: Option<Vec<Attribute>>,
    /// Links to the contact elsewhere.
    pub external_urls: Option<Vec<ExternalUrl>>,
}

impl ContactInput {
    /// The body as CloudTalk names its fields.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut body = Map::new();
        let text = [
            ("name", &self.name),
            ("title", &self.title),
            ("company", &self.company),
            ("industry", &self.industry),
            ("website", &self.website),
            ("address", &self.address),
            ("city", &self.city),
            ("zip", &self.zip),
            ("state", &self.state),
        ];
        for (key, value) in text {
            if let Some(v) = value {
                body.insert(key.into(), json!(v));
            }
        }
        if let Some(c) = self.country_id {
            body.insert("country_id".into(), json!(c));
        }
        if let Some(a) = self.favorite_agent {
            body.insert("favorite_agent".into(), json!(a));
        }
        if let Some(numbers) = &self.numbers {
            let items: Vec<Value> = numbers
                .iter()
                .map(|n| json!({"public_number": n}))
                .collect();
            body.insert("ContactNumber".into(), Value::Array(items));
        }
        if let Some(emails) = &self.emails {
            let items: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
            body.insert("ContactEmail".into(), Value::Array(items));
        }
        if let Some(tags) = &self.tags {
            let items: Vec<Value> = tags.iter().map(|t| json!({"name": t})).collect();
            body.insert("ContactsTag".into(), Value::Array(items));
        }
        if let Some(attributes) = &self.attributes {
            body.insert("ContactAttribute".into(), json!(attributes));
        }
        if let Some(urls) = &self.external_urls {
            body.insert("ExternalUrl".into(), json!(urls));
        }
        body
    }
}

impl Serialize for ContactInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// A contact as `GET /contacts/show/{id}.json` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// Name.
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ZIP code.
    pub zip: Option<String>,
    /// State.
    pub state: Option<String>,
    /// CloudTalk's country id.
    pub country_id: Option<u64>,
    /// Favorite agent.
    pub favorite_agent: Option<AgentId>,
    /// `contact` or `lead`.
    pub kind: Option<String>,
    /// Numbers, in E.164 with `+`.
    pub numbers: Vec<String>,
    /// Emails.
    pub emails: Vec<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// Custom field values.
    pub attributes: Vec<Attribute>,
    /// Links elsewhere.
    pub external_urls: Vec<ExternalUrl>,
}

#[derive(Deserialize)]
struct Core {
    id: ContactId,
    #[serde(default, deserialize_with = "opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    title: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    company: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    industry: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    website: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    address: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    city: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    zip: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    state: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    country_id: Option<CountryId>,
    #[serde(default, deserialize_with = "opt_id")]
    favorite_agent: Option<AgentId>,
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    kind: Option<String>,
}

/// A bare number for [`opt_id`].
struct CountryId(u64);

impl From<u64> for CountryId {
    fn from(n: u64) -> Self {
        Self(n)
    }
}

#[derive(Deserialize)]
struct Number {
    #[serde(deserialize_with = "phone")]
    public_number: String,
}

#[derive(Deserialize)]
struct Email {
    email: String,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct Shown {
    #[serde(rename = "Contact")]
    contact: Core,
    #[serde(rename = "ExternalUrl", default, deserialize_with = "null_default")]
    external_urls: Vec<ExternalUrl>,
    #[serde(rename = "ContactNumber", default, deserialize_with = "null_default")]
    numbers: Vec<Number>,
    #[serde(rename = "ContactEmail", default, deserialize_with = "null_default")]
    emails: Vec<Email>,
    // Real answers have carried the tags under `Tag`.
    #[serde(
        rename = "ContactsTag",
        alias = "Tag",
        default,
        deserialize_with = "null_default"
    )]
    tags: Vec<Tag>,
    #[serde(
        rename = "ContactAttribute",
        default,
        deserialize_with = "null_default"
    )]
    attributes: Vec<Attribute>,
}

impl<'de> Deserialize<'de> for Contact {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let s = Shown::deserialize(de)?;
        let c = s.contact;
        Ok(Self {
            id: c.id,
            name: c.name,
            title: c.title,
            company: c.company,
            industry: c.industry,
            website: c.website,
            address: c.address,
            city: c.city,
            zip: c.zip,
            state: c.state,
            country_id: c.country_id.map(|c| c.0),
            favorite_agent: c.favorite_agent,
            kind: c.kind,
            numbers: s.numbers.into_iter().map(|n| n.public_number).collect(),
            emails: s.emails.into_iter().map(|e| e.email).collect(),
            tags: s.tags.into_iter().map(|t| t.name).collect(),
            attributes: s.attributes,
            external_urls: s.external_urls,
        })
    }
}

/// A row of `GET /contacts/index.json`: the contact's id, name and company, and one number
/// and email (use [`Client::show_contact`] for all of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRow {
    /// Its id.
    pub id: ContactId,
    /// Name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// A number, in E.164 with `+`.
    pub number: Option<String>,
    /// An email.
    pub email: Option<String>,
}

/// One object, or the first of a list, or nothing.
fn one<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(de)? {
        Some(OneOrMany::One(t)) => Some(t),
        Some(OneOrMany::Many(v)) => v.into_iter().next(),
        _ => None,
    })
}

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "Contact")]
    contact: RowCore,
    #[serde(rename = "ContactNumber", default, deserialize_with = "one")]
    number: Option<Number>,
    #[serde(rename = "ContactEmail", default, deserialize_with = "one")]
    email: Option<Email>,
}

#[derive(Deserialize)]
struct RowCore {
    id: ContactId,
    #[serde(default, deserialize_with = "opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    company: Option<String>,
}

impl<'de> Deserialize<'de> for ContactRow {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let r = Row::deserialize(de)?;
        Ok(Self {
            id: r.contact.id,
            name: r.contact.name,
            company: r.contact.company,
            number: r.number.map(|n| n.public_number),
            email: r.email.map(|e| e.email),
        })
    }
}

/// Filters of `GET /contacts/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContactQuery {
    /// Text matched against the contact's name, company, numbers and emails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Contacts with this tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<u64>,
    /// Contacts of this country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_id: Option<u64>,
    /// Contacts of this industry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(feature = "client")]
/// The answer of an add: `{"status": 201, "data": {"id": ...}}`.
#[derive(Deserialize)]
pub(crate) struct Created<T> {
    pub(crate) data: CreatedData<T>,
}

#[cfg(feature = "client")]
#[derive(Deserialize)]
pub(crate) struct CreatedData<T> {
    pub(crate) id: T,
}

/// Only the digits of a phone number, to compare numbers written differently.
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(feature = "client")]
impl Client {
    /// `PUT /contacts/add.json`: creates a contact (`name` is required).
    pub async fn add_contact(&self, contact: &ContactInput) -> Result<Response<ContactId>, Error> {
        let answer: Response<Created<ContactId>> = self
            .send(self.request(Method::PUT, "contacts/add.json").json(contact))
            .await?;
        Ok(answer.map(|created| created.data.id))
    }

    /// `POST /contacts/edit/{id}.json`: changes what `contact` gives; each collection given
    /// replaces the contact's.
    pub async fn edit_contact(
        &self,
        id: ContactId,
        contact: &ContactInput,
    ) -> Result<Response<()>, Error> {
        let answer: Response<serde::de::IgnoredAny> = self
            .send(
                self.request(Method::POST, &format!("contacts/edit/{id}.json"))
                    .json(contact),
            )
            .await?;
        Ok(answer.map(|_| ()))
    }

    /// `GET /contacts/show/{id}.json`: the contact with all its numbers, emails, tags,
    /// attributes and links.
    pub async fn show_contact(&self, id: ContactId) -> Result<Response<Contact>, Error> {
        self.send(self.request(Method::GET, &format!("contacts/show/{id}.json")))
            .await
    }

    /// `GET /contacts/index.json`.
    pub async fn list_contacts(
        &self,
        query: &ContactQuery,
    ) -> Result<Response<Page<ContactRow>>, Error> {
        self.send(
            self.request(Method::GET, "contacts/index.json")
                .query(query),
        )
        .await
    }

    /// The contacts whose listed number is `number` (compared digit by digit): CloudTalk
    /// has no filter by number, so this searches by keyword and keeps exact matches.
    pub async fn find_contacts_by_number(
        &self,
        number: &str,
    ) -> Result<Response<Vec<ContactRow>>, Error> {
        let wanted = digits(number);
        let answer = self
            .list_contacts(&ContactQuery {
                keyword: Some(wanted.clone()),
                limit: Some(100),
                ..ContactQuery::default()
            })
            .await?;
        Ok(answer.map(|page| {
            page.data
                .into_iter()
                .filter(|r| r.number.as_deref().is_some_and(|n| digits(n) == wanted))
                .collect()
        }))
    }

    /// `PUT /contacts/addTags/{id}.json`: adds tags, keeping the others.
    pub async fn add_tags(&self, id: ContactId, tags: &[String]) -> Result<Response<()>, Error> {
        self.change_tags(Method::PUT, "addTags", id, tags).await
    }

    /// `DELETE /contacts/removeTags/{id}.json`: removes tags (a DELETE with a body).
    pub async fn remove_tags(&self, id: ContactId, tags: &[String]) -> Result<Response<()>, Error> {
        self.change_tags(Method::DELETE, "removeTags", id, tags)
            .await
    }

    async fn change_tags(
        &self,
        method: Method,
        route: &str,
        id: ContactId,
        tags: &[String],
    ) -> Result<Response<()>, Error> {
        let answer: Response<serde::de::IgnoredAny> = self
            .send(
                self.request(method, &format!("contacts/{route}/{id}.json"))
                    .json(&json!({"tags": tags})),
            )
            .await?;
        Ok(answer.map(|_| ()))
    }
}
