//! Dialer campaigns: list, add, edit, delete.
//!
//! A campaign calls the contacts that carry its contact tags: an add or an edit names them
//! by id (`ContactsTag: [{id}]`, from `GET /tags/index.json`), and the listing shows them
//! with their names. CloudTalk's document is of two minds about the listing: its schema
//! names one object `Tag` (and one `Button`, `Group`, `Agent`), its example sends lists
//! under `ContactsTag` (and lists of buttons, groups and agents). Both are read; a
//! campaign's contacts are those of [`Campaign::tag_ids`], found with
//! [`ContactQuery::tag_id`](crate::contacts::ContactQuery::tag_id).

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
#[cfg(feature = "client")]
use crate::contacts::Created;
use crate::contacts::TagRef;
use crate::de::{AgentId, CampaignId, one_or_many, opt_bool, opt_id, opt_text, opt_u64};
#[cfg(feature = "client")]
use crate::error::Error;

/// Whether a campaign runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    /// Running.
    Active,
    /// Stopped.
    Inactive,
}

/// The outcome an agent picks with a campaign's button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonType {
    /// Successful, positive (a sale).
    SuccessfulPositive,
    /// Successful, negative (not interested).
    SuccessfulNegative,
    /// Call again at a set time.
    Rescheduled,
    /// Not reached: call again.
    UnsuccessfulCallAgain,
    /// Not reached: do not call again.
    UnsuccessfulDoNotCall,
}

/// A button to add or keep (`Button` items of an add or an edit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewButton {
    /// An existing button's id (edits only; the add document has no `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Its title.
    pub title: String,
    /// The outcome it records.
    #[serde(rename = "type")]
    pub kind: ButtonType,
    /// Its color, a hex code (`#2980b9`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn zero_one<S: Serializer>(flag: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match flag {
        Some(f) => s.serialize_u8(u8::from(*f)),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
struct IdOnly<T> {
    id: T,
}

fn id_objects<S: Serializer, T: Serialize + Copy>(
    ids: &Option<Vec<T>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    ids.as_ref()
        .map(|ids| ids.iter().map(|&id| IdOnly { id }).collect::<Vec<_>>())
        .serialize(s)
}

/// What an add or an edit of a campaign sends (`name` and `Button` are required by both).
/// `None` leaves a value as it is; a list of tags, agents or groups given replaces the
/// campaign's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewCampaign {
    /// Its name.
    pub name: String,
    /// Running or stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CampaignStatus>,
    /// Whether it starts at a set date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_schedule_date: Option<bool>,
    /// Start date (`2026-12-24`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_start_date: Option<String>,
    /// Start time (`09:00:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_start_time: Option<String>,
    /// Seconds to wait for an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_wait_time: Option<u32>,
    /// Whether the next contact is dialled when a call ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_call_dialing_auto: Option<bool>,
    /// Seconds after a call before the next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_call_time: Option<u32>,
    /// Whether calls are recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recording: Option<bool>,
    /// The outbound number's id (caller id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_number_id: Option<u64>,
    /// The call script's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_script_id: Option<u64>,
    /// The survey's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_id: Option<u64>,
    /// Whether it is a predictive dialer campaign (sent as `0`/`1`, as documented).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "zero_one")]
    pub is_predictive: Option<bool>,
    /// Agents' utilisation, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_percentage: Option<u32>,
    /// Attempts per contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Hours between attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_interval: Option<u32>,
    /// The outcome buttons (required).
    #[serde(rename = "Button")]
    pub buttons: Vec<NewButton>,
    /// The contact tags whose contacts the campaign calls, by tag id.
    #[serde(
        rename = "ContactsTag",
        skip_serializing_if = "Option::is_none",
        serialize_with = "id_objects"
    )]
    pub tag_ids: Option<Vec<u64>>,
    /// The agents who take its calls.
    #[serde(
        rename = "Agent",
        skip_serializing_if = "Option::is_none",
        serialize_with = "id_objects"
    )]
    pub agents: Option<Vec<AgentId>>,
    /// The groups who take its calls, by group id.
    #[serde(
        rename = "Group",
        skip_serializing_if = "Option::is_none",
        serialize_with = "id_objects"
    )]
    pub group_ids: Option<Vec<u64>>,
}

/// A campaign's button, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Button {
    /// Its id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Its title.
    #[serde(default, deserialize_with = "opt_text")]
    pub title: Option<String>,
    /// Its outcome, as sent (`successful_positive`, ...).
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Its color.
    #[serde(default, deserialize_with = "opt_text")]
    pub color: Option<String>,
    /// Its description.
    #[serde(default, deserialize_with = "opt_text")]
    pub description: Option<String>,
}

/// A group of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CampaignGroup {
    /// The group's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Its name.
    #[serde(default, deserialize_with = "opt_text")]
    pub internal_name: Option<String>,
}

/// An agent of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CampaignAgent {
    /// The agent's id.
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<AgentId>,
    /// The agent's name.
    #[serde(default, deserialize_with = "opt_text")]
    pub fullname: Option<String>,
}

/// A campaign as `GET /campaigns/index.json` lists one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// Its id.
    pub id: CampaignId,
    /// Its name.
    pub name: Option<String>,
    /// `active` or `inactive`, as sent.
    pub status: Option<String>,
    /// Whether it starts at a set date.
    pub has_schedule_date: Option<bool>,
    /// Start date.
    pub schedule_start_date: Option<String>,
    /// Start time.
    pub schedule_start_time: Option<String>,
    /// Seconds to wait for an answer.
    pub answer_wait_time: Option<u64>,
    /// Whether the next contact is dialled when a call ends.
    pub after_call_dialing_auto: Option<bool>,
    /// Seconds after a call before the next.
    pub after_call_time: Option<u64>,
    /// Whether calls are recorded.
    pub is_recording: Option<bool>,
    /// The outbound number's id.
    pub call_number_id: Option<u64>,
    /// The call script's id.
    pub call_script_id: Option<u64>,
    /// The survey's id.
    pub survey_id: Option<u64>,
    /// Whether it is a predictive dialer campaign.
    pub is_predictive: Option<bool>,
    /// Agents' utilisation, in percent.
    pub calls_percentage: Option<u64>,
    /// Attempts per contact.
    pub attempts: Option<u64>,
    /// Hours between attempts.
    pub attempts_interval: Option<u64>,
    /// Its outcome buttons.
    pub buttons: Vec<Button>,
    /// The contact tags whose contacts it calls (`ContactsTag`, or `Tag` as the schema
    /// names it).
    pub tags: Vec<TagRef>,
    /// Its groups.
    pub groups: Vec<CampaignGroup>,
    /// Its agents.
    pub agents: Vec<CampaignAgent>,
}

impl Campaign {
    /// Whether it is running.
    pub fn is_active(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("active"))
    }

    /// The ids of its contact tags.
    pub fn tag_ids(&self) -> Vec<u64> {
        self.tags.iter().filter_map(|t| t.id).collect()
    }

    /// The names of its contact tags.
    pub fn tag_names(&self) -> Vec<&str> {
        self.tags
            .iter()
            .map(|t| t.name.as_str())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

#[derive(Deserialize)]
struct Core {
    id: CampaignId,
    #[serde(default, deserialize_with = "opt_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    has_schedule_date: Option<bool>,
    #[serde(default, deserialize_with = "opt_text")]
    schedule_start_date: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    schedule_start_time: Option<String>,
    #[serde(default, deserialize_with = "opt_u64")]
    answer_wait_time: Option<u64>,
    #[serde(default, deserialize_with = "opt_bool")]
    after_call_dialing_auto: Option<bool>,
    #[serde(default, deserialize_with = "opt_u64")]
    after_call_time: Option<u64>,
    #[serde(default, deserialize_with = "opt_bool")]
    is_recording: Option<bool>,
    #[serde(default, deserialize_with = "opt_u64")]
    call_number_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    call_script_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    survey_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_bool")]
    is_predictive: Option<bool>,
    #[serde(default, deserialize_with = "opt_u64")]
    calls_percentage: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    attempts: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    attempts_interval: Option<u64>,
}

#[derive(Deserialize)]
struct Row {
    #[serde(rename = "Campaign")]
    campaign: Core,
    #[serde(rename = "Button", default, deserialize_with = "one_or_many")]
    buttons: Vec<Button>,
    #[serde(rename = "ContactsTag", default, deserialize_with = "one_or_many")]
    contacts_tags: Vec<TagRef>,
    #[serde(rename = "Tag", default, deserialize_with = "one_or_many")]
    tags: Vec<TagRef>,
    #[serde(rename = "Group", default, deserialize_with = "one_or_many")]
    groups: Vec<CampaignGroup>,
    #[serde(rename = "Agent", default, deserialize_with = "one_or_many")]
    agents: Vec<CampaignAgent>,
}

impl<'de> Deserialize<'de> for Campaign {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let r = Row::deserialize(de)?;
        let c = r.campaign;
        let mut tags = r.contacts_tags;
        for tag in r.tags {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Self {
            id: c.id,
            name: c.name,
            status: c.status,
            has_schedule_date: c.has_schedule_date,
            schedule_start_date: c.schedule_start_date,
            schedule_start_time: c.schedule_start_time,
            answer_wait_time: c.answer_wait_time,
            after_call_dialing_auto: c.after_call_dialing_auto,
            after_call_time: c.after_call_time,
            is_recording: c.is_recording,
            call_number_id: c.call_number_id,
            call_script_id: c.call_script_id,
            survey_id: c.survey_id,
            is_predictive: c.is_predictive,
            calls_percentage: c.calls_percentage,
            attempts: c.attempts,
            attempts_interval: c.attempts_interval,
            buttons: r.buttons,
            tags,
            groups: r.groups,
            agents: r.agents,
        })
    }
}

/// Filters of `GET /campaigns/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CampaignQuery {
    /// The campaign with this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<CampaignId>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[cfg(feature = "client")]
impl Client {
    /// `GET /campaigns/index.json`.
    pub async fn list_campaigns(
        &self,
        query: &CampaignQuery,
    ) -> Result<Response<Page<Campaign>>, Error> {
        self.send(
            self.request(Method::GET, "campaigns/index.json")
                .query(query),
        )
        .await
    }

    /// `PUT /campaigns/add.json`.
    pub async fn add_campaign(
        &self,
        campaign: &NewCampaign,
    ) -> Result<Response<CampaignId>, Error> {
        let answer: Response<Created<CampaignId>> = self
            .send(
                self.request(Method::PUT, "campaigns/add.json")
                    .json(campaign),
            )
            .await?;
        Ok(answer.map(|created| created.data.id))
    }

    /// `POST /campaigns/edit/{id}.json`: `name` and the buttons are sent whole; the tags,
    /// agents and groups given replace the campaign's.
    pub async fn edit_campaign(
        &self,
        id: CampaignId,
        campaign: &NewCampaign,
    ) -> Result<Response<()>, Error> {
        let answer: Response<serde::de::IgnoredAny> = self
            .send(
                self.request(Method::POST, &format!("campaigns/edit/{id}.json"))
                    .json(campaign),
            )
            .await?;
        Ok(answer.map(|_| ()))
    }

    /// `DELETE /campaigns/delete/{id}.json`.
    pub async fn delete_campaign(&self, id: CampaignId) -> Result<Response<()>, Error> {
        let answer: Response<serde::de::IgnoredAny> = self
            .send(self.request(Method::DELETE, &format!("campaigns/delete/{id}.json")))
            .await?;
        Ok(answer.map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_under_either_name_as_one_or_many() {
        let listed: Campaign = serde_json::from_value(serde_json::json!({
            "Campaign": {"id": "63", "name": "Dialer", "status": "active", "is_predictive": false,
                         "attempts": "3", "answer_wait_time": 45},
            "Button": {"id": "252", "title": "Sale", "type": "successful_positive"},
            "ContactsTag": [{"id": "133", "name": "dialer"}],
            "Tag": {"id": "134", "name": "GHL-WON"},
        }))
        .unwrap();
        assert!(listed.is_active());
        assert_eq!(listed.tag_ids(), vec![133, 134]);
        assert_eq!(listed.tag_names(), vec!["dialer", "GHL-WON"]);
        assert_eq!(
            listed.buttons[0].kind.as_deref(),
            Some("successful_positive")
        );
        assert_eq!(
            (listed.attempts, listed.is_predictive),
            (Some(3), Some(false))
        );
        let body = serde_json::to_value(NewCampaign {
            name: "Dialer".into(),
            is_predictive: Some(true),
            buttons: vec![NewButton {
                id: None,
                title: "Sale".into(),
                kind: ButtonType::SuccessfulPositive,
                color: None,
                description: None,
            }],
            tag_ids: Some(vec![133]),
            ..NewCampaign::default()
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "Dialer", "is_predictive": 1,
                "Button": [{"title": "Sale", "type": "successful_positive"}],
                "ContactsTag": [{"id": 133}],
            })
        );
    }
}
