//! Agents (CloudTalk's users): `GET /agents/index.json`.
//!
//! An agent's `availability_status` is one of four in CloudTalk's document; others have
//! been reported from real accounts (`busy`), so an unknown one is kept as it came.

use std::fmt;

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
use crate::de::{AgentId, opt_bool, opt_phone, opt_text, opt_u64, phones};
#[cfg(feature = "client")]
use crate::error::Error;

/// An agent's availability.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AvailabilityStatus {
    /// Online: can take calls.
    Online,
    /// Offline.
    Offline,
    /// Paused (on a break).
    Paused,
    /// On a call.
    Calling,
    /// A status the document does not name (`busy` has been seen), as sent.
    Other(String),
}

impl AvailabilityStatus {
    /// The status as CloudTalk writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Paused => "paused",
            Self::Calling => "calling",
            Self::Other(s) => s,
        }
    }

    /// Reads a status (case and surrounding blanks ignored; an unknown one is kept).
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "online" => Self::Online,
            "offline" => Self::Offline,
            "paused" => Self::Paused,
            "calling" => Self::Calling,
            _ => Self::Other(trimmed.to_owned()),
        }
    }
}

impl fmt::Display for AvailabilityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AvailabilityStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AvailabilityStatus {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        String::deserialize(de).map(|s| Self::parse(&s))
    }
}

/// An optional status; `null`, empty or a non-string is none.
fn opt_status<'de, D: Deserializer<'de>>(de: D) -> Result<Option<AvailabilityStatus>, D::Error> {
    Ok(opt_text(de)?
        .filter(|s| !s.trim().is_empty())
        .map(|s| AvailabilityStatus::parse(&s)))
}

/// An agent as `GET /agents/index.json` lists one (the password is never listed).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Agent {
    /// Its id.
    pub id: AgentId,
    /// The agent's voice id (`name` in the API; not the agent's name).
    #[serde(default, rename = "name", deserialize_with = "opt_text")]
    pub voice_id: Option<String>,
    /// First name.
    #[serde(default, deserialize_with = "opt_text")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_text")]
    pub lastname: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "opt_text")]
    pub email: Option<String>,
    /// Four-digit extension, unique in the company (1000 to 9999).
    #[serde(default, deserialize_with = "opt_u64")]
    pub extension: Option<u64>,
    /// The id of the agent's default outbound number.
    #[serde(default, deserialize_with = "opt_u64")]
    pub call_number_id: Option<u64>,
    /// The default outbound number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub default_number: Option<String>,
    /// The numbers assigned to the agent, in E.164 with `+`.
    #[serde(default, deserialize_with = "phones")]
    pub associated_numbers: Vec<String>,
    /// Whether outbound calls are allowed.
    #[serde(default, deserialize_with = "opt_bool")]
    pub status_outbound: Option<bool>,
    /// Whether the daily price limit still allows calls.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_daily_limit_ok: Option<bool>,
    /// Daily price limit in EUR.
    #[serde(default, deserialize_with = "opt_u64")]
    pub daily_price_limit: Option<u64>,
    /// Current availability.
    #[serde(default, deserialize_with = "opt_status")]
    pub availability_status: Option<AvailabilityStatus>,
}

impl Agent {
    /// First and last name, as one.
    pub fn full_name(&self) -> String {
        [self.firstname.as_deref(), self.lastname.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(feature = "client")]
#[derive(Deserialize)]
struct AgentRow {
    #[serde(rename = "Agent")]
    agent: Agent,
}

/// Filters of `GET /agents/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AgentQuery {
    /// The agent with this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<AgentId>,
    /// Agents assigned this number (E.164).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated_number: Option<String>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(feature = "client")]
impl Client {
    /// `GET /agents/index.json`.
    pub async fn list_agents(&self, query: &AgentQuery) -> Result<Response<Page<Agent>>, Error> {
        let answer: Response<Page<AgentRow>> = self
            .send(self.request(Method::GET, "agents/index.json").query(query))
            .await?;
        Ok(answer.map(|page| page.map(|r| r.agent)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_outside_the_document_are_kept() {
        let agent: Agent = serde_json::from_value(serde_json::json!({
            "id": "99", "name": "123456", "firstname": "John", "lastname": "Doe",
            "extension": "1001", "default_number": 421123456789_u64,
            "associated_numbers": ["+421123456789"], "availability_status": "busy",
        }))
        .unwrap();
        assert_eq!(agent.id, AgentId(99));
        assert_eq!(agent.voice_id.as_deref(), Some("123456"));
        assert_eq!(agent.extension, Some(1001));
        assert_eq!(agent.default_number.as_deref(), Some("+421123456789"));
        assert_eq!(
            agent.availability_status,
            Some(AvailabilityStatus::Other("busy".into()))
        );
        assert_eq!(agent.full_name(), "John Doe");
        assert_eq!(
            AvailabilityStatus::parse(" Paused "),
            AvailabilityStatus::Paused
        );
        assert_eq!(
            serde_json::to_value(AvailabilityStatus::Calling).unwrap(),
            "calling"
        );
    }
}
