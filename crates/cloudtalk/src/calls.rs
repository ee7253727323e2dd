//! Calls: the call history (`GET /calls/index.json`), one call and its flow from the
//! analytics host (`GET /calls/{callId}`), and a call's recording
//! (`GET /calls/recording/{callId}.json`, WAV audio).
//!
//! A history row has the parts CloudTalk's document names: `Cdr` (the call record), the
//! `Contact` CloudTalk matched, the `CallNumber` (the company's number), `BillingData`,
//! the `Agent`, and the call's `Notes`, `Tags` and `Ratings`. The document's own example
//! differs from its schema in places (`BillingCall` for `BillingData`, notes with `note`
//! for `name`, numbers as JSON numbers where the schema says strings, `recording_link`
//! typed integer but a URL); both forms are read.

#[cfg(feature = "client")]
use reqwest::Method;
use serde::{Deserialize, Serialize};

#[cfg(feature = "client")]
use crate::client::{Client, Page, Response};
use crate::contacts::TagRef;
use crate::de::{
    AgentId, CallId, ContactId, null_default, one_or_many, opt_bool, opt_id, opt_phone, opt_text,
    opt_u64, phones,
};
#[cfg(feature = "client")]
use crate::error::Error;

/// A call's direction (`type` of the history's filter and of `Cdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    /// A call to the company.
    Incoming,
    /// A call from the company.
    Outgoing,
    /// A call between agents.
    Internal,
}

/// The history's `status` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    /// Only missed calls.
    Missed,
    /// Only answered calls.
    Answered,
}

/// Filters of `GET /calls/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallQuery {
    /// Calls on this company number (the agent's internal number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_internal: Option<String>,
    /// Calls with this caller's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_external: Option<String>,
    /// Calls from this time on, as CloudTalk writes it (`2017-12-24 12:22:00`; its time
    /// zone is not documented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_from: Option<String>,
    /// Calls up to this time, written as `date_from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_to: Option<String>,
    /// Calls CloudTalk assigned to this contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<ContactId>,
    /// Calls of this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<AgentId>,
    /// Calls of the agent with this extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_extension: Option<u32>,
    /// Calls of this direction.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<CallType>,
    /// Only missed or only answered calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CallStatus>,
    /// Calls with this call tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<u64>,
    /// The call with this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    /// Page, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size, 1 to 1,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The call record (`Cdr`) of a history row. Durations are seconds; times are as
/// CloudTalk writes them (`2017-10-04T06:33:37.000Z`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Cdr {
    /// The call's id.
    pub id: CallId,
    /// Duration of the call.
    #[serde(default, deserialize_with = "opt_u64")]
    pub billsec: Option<u64>,
    /// `incoming`, `outgoing` or `internal`, as sent.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// The caller's (or callee's) number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub public_external: Option<String>,
    /// The company's number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub public_internal: Option<String>,
    /// Whether the call was recorded.
    #[serde(default, deserialize_with = "opt_bool")]
    pub recorded: Option<bool>,
    /// Whether it went to voicemail.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_voicemail: Option<bool>,
    /// The email of a fax call.
    #[serde(default, deserialize_with = "opt_text")]
    pub fax_email: Option<String>,
    /// Whether the call was redirected.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_redirected: Option<bool>,
    /// The number it was redirected from.
    #[serde(default, deserialize_with = "opt_text")]
    pub redirected_from: Option<String>,
    /// Where it was transferred from.
    #[serde(default, deserialize_with = "opt_text")]
    pub transferred_from: Option<String>,
    /// Local rather than international.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_local: Option<bool>,
    /// The agent.
    #[serde(default, deserialize_with = "opt_id")]
    pub user_id: Option<AgentId>,
    /// Time the agent and the customer were connected.
    #[serde(default, deserialize_with = "opt_u64")]
    pub talking_time: Option<u64>,
    /// When it started.
    #[serde(default, deserialize_with = "opt_text")]
    pub started_at: Option<String>,
    /// When it was answered (none for a missed call).
    #[serde(default, deserialize_with = "opt_text")]
    pub answered_at: Option<String>,
    /// When it ended.
    #[serde(default, deserialize_with = "opt_text")]
    pub ended_at: Option<String>,
    /// Time before the agent and the customer were connected.
    #[serde(default, deserialize_with = "opt_u64")]
    pub waiting_time: Option<u64>,
    /// The agent's wrap-up time.
    #[serde(default, deserialize_with = "opt_u64")]
    pub wrapup_time: Option<u64>,
    /// A link to the call's page with its recording (`https://my.cloudtalk.io/r/play/27`;
    /// typed integer in the document, a URL in its example). The audio itself is
    /// [`Client::recording`]'s.
    #[serde(default, deserialize_with = "opt_text")]
    pub recording_link: Option<String>,
}

impl Cdr {
    /// Whether the call was answered: it has talking time or an answer time.
    pub fn answered(&self) -> bool {
        self.talking_time.is_some_and(|t| t > 0) || self.answered_at.is_some()
    }
}

/// A contact's link elsewhere, as the call history names its fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallContactUrl {
    /// The system's name.
    #[serde(default, deserialize_with = "opt_text")]
    pub external_system: Option<String>,
    /// The contact's page there.
    #[serde(default, deserialize_with = "opt_text")]
    pub external_url: Option<String>,
}

/// A custom field value, as the call history names its fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CustomField {
    /// The field's key.
    #[serde(default, deserialize_with = "opt_text")]
    pub key: Option<String>,
    /// Its value.
    #[serde(default, deserialize_with = "opt_text")]
    pub value: Option<String>,
}

/// An agent as the call history shows one (a row's `Agent`, a contact's
/// `favorite_agent`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallAgent {
    /// The agent's id.
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<AgentId>,
    /// First name.
    #[serde(default, deserialize_with = "opt_text")]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(default, deserialize_with = "opt_text")]
    pub lastname: Option<String>,
    /// Full name.
    #[serde(default, deserialize_with = "opt_text")]
    pub fullname: Option<String>,
    /// Email.
    #[serde(default, deserialize_with = "opt_text")]
    pub email: Option<String>,
    /// Language.
    #[serde(default, deserialize_with = "opt_text")]
    pub language: Option<String>,
    /// Role.
    #[serde(default, deserialize_with = "opt_text")]
    pub role: Option<String>,
    /// Online status, as sent.
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    /// Default outbound number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub default_outbound_number: Option<String>,
    /// The agent's numbers, in E.164 with `+`.
    #[serde(default, deserialize_with = "phones")]
    pub associated_numbers: Vec<String>,
    /// The agent's groups.
    #[serde(default, deserialize_with = "null_default")]
    pub groups: Vec<String>,
}

/// The contact CloudTalk assigned to a call, flattened as the call history sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallContact {
    /// The contact's id.
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<ContactId>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Title.
    #[serde(default, deserialize_with = "opt_text")]
    pub title: Option<String>,
    /// Company.
    #[serde(default, deserialize_with = "opt_text")]
    pub company: Option<String>,
    /// Industry.
    #[serde(default, deserialize_with = "opt_text")]
    pub industry: Option<String>,
    /// Street address.
    #[serde(default, deserialize_with = "opt_text")]
    pub address: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "opt_text")]
    pub city: Option<String>,
    /// ZIP code.
    #[serde(default, deserialize_with = "opt_text")]
    pub zip: Option<String>,
    /// State.
    #[serde(default, deserialize_with = "opt_text")]
    pub state: Option<String>,
    /// `contact` or `lead`.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// Numbers, in E.164 with `+`.
    #[serde(default, rename = "contact_numbers", deserialize_with = "phones")]
    pub numbers: Vec<String>,
    /// Emails.
    #[serde(default, rename = "contact_emails", deserialize_with = "null_default")]
    pub emails: Vec<String>,
    /// Tags, with their ids.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<TagRef>,
    /// Links elsewhere.
    #[serde(default, deserialize_with = "null_default")]
    pub external_urls: Vec<CallContactUrl>,
    /// Custom field values.
    #[serde(default, deserialize_with = "null_default")]
    pub custom_fields: Vec<CustomField>,
    /// The contact's favorite agent.
    #[serde(default)]
    pub favorite_agent: Option<CallAgent>,
}

/// The company's number a call used (`CallNumber`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallNumber {
    /// The number's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Its name in CloudTalk.
    #[serde(default, deserialize_with = "opt_text")]
    pub internal_name: Option<String>,
    /// The number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub caller_id_e164: Option<String>,
    /// Country calling code (`44`).
    #[serde(default, deserialize_with = "opt_text")]
    pub country_code: Option<String>,
    /// Area code.
    #[serde(default, deserialize_with = "opt_text")]
    pub area_code: Option<String>,
}

/// What a call cost (`BillingData`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Billing {
    /// The price, as sent (`"0.000000"`).
    #[serde(default, deserialize_with = "opt_text")]
    pub price: Option<String>,
}

/// A note on a call.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallNote {
    /// The note's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// The text (`name` in the schema, `note` in its example).
    #[serde(
        default,
        rename = "name",
        alias = "note",
        deserialize_with = "opt_text"
    )]
    pub text: Option<String>,
}

/// A rating of a call.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallRating {
    /// The rating's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Who rated: `agent` or `contact`.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// 1 (worst) to 5 (best).
    #[serde(default, deserialize_with = "opt_u64")]
    pub rating: Option<u64>,
}

/// A row of `GET /calls/index.json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallRow {
    /// The call record.
    #[serde(rename = "Cdr")]
    pub cdr: Cdr,
    /// The contact CloudTalk assigned to the call, if any.
    #[serde(rename = "Contact", default, deserialize_with = "contact_part")]
    pub contact: Option<CallContact>,
    /// The company's number the call used.
    #[serde(rename = "CallNumber", default)]
    pub number: Option<CallNumber>,
    /// What it cost (`BillingData`; `BillingCall` in the document's example).
    #[serde(rename = "BillingData", alias = "BillingCall", default)]
    pub billing: Option<Billing>,
    /// The agent.
    #[serde(rename = "Agent", default, deserialize_with = "agent_part")]
    pub agent: Option<CallAgent>,
    /// Notes on the call.
    #[serde(rename = "Notes", default, deserialize_with = "one_or_many")]
    pub notes: Vec<CallNote>,
    /// Call tags.
    #[serde(rename = "Tags", default, deserialize_with = "one_or_many")]
    pub tags: Vec<TagRef>,
    /// Ratings.
    #[serde(rename = "Ratings", default, deserialize_with = "one_or_many")]
    pub ratings: Vec<CallRating>,
}

/// A row's contact: none when absent, `null` or without an id (CakePHP-style answers send
/// an object of nulls for "no contact").
fn contact_part<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<CallContact>, D::Error> {
    Ok(Option::<CallContact>::deserialize(de)?.filter(|c| c.id.is_some()))
}

/// A row's agent: none when absent, `null` or without an id.
fn agent_part<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<CallAgent>, D::Error> {
    Ok(Option::<CallAgent>::deserialize(de)?.filter(|a| a.id.is_some()))
}

/// A call's recording: the audio as CloudTalk sent it (WAV, `audio/x-wav`).
#[derive(Clone, PartialEq, Eq)]
pub struct Recording {
    /// The answer's `Content-Type` (`audio/x-wav`), if it had one.
    pub content_type: Option<String>,
    /// The audio.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Recording {
    /// Whether the bytes are a RIFF WAVE file.
    pub fn is_wav(&self) -> bool {
        self.bytes.len() >= 12 && &self.bytes[..4] == b"RIFF" && &self.bytes[8..12] == b"WAVE"
    }
}

/// Seconds a call spent in each state (`call_times` of [`CallDetails`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CallTimes {
    /// In all.
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_time: Option<u64>,
    /// Talking.
    #[serde(default, deserialize_with = "opt_u64")]
    pub talking_time: Option<u64>,
    /// In the wrap-up screen.
    #[serde(default, deserialize_with = "opt_u64")]
    pub wrap_up_time: Option<u64>,
    /// Ringing on an agent.
    #[serde(default, deserialize_with = "opt_u64")]
    pub ringing_time: Option<u64>,
    /// From leaving the IVR to being answered or missed.
    #[serde(default, deserialize_with = "opt_u64")]
    pub waiting_time: Option<u64>,
    /// On hold.
    #[serde(default, deserialize_with = "opt_u64")]
    pub holding_time: Option<u64>,
}

/// The contact of [`CallDetails`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DetailsContact {
    /// The contact's id.
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<ContactId>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Country.
    #[serde(default, deserialize_with = "opt_text")]
    pub country: Option<String>,
    /// The number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub number: Option<String>,
}

/// The company's number of [`CallDetails`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct InternalNumber {
    /// The number's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Its name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// The number, in E.164 with `+`.
    #[serde(default, deserialize_with = "opt_phone")]
    pub number: Option<String>,
}

/// A call tag of [`CallDetails`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DetailsTag {
    /// The tag's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// Its label.
    #[serde(default, deserialize_with = "opt_text")]
    pub label: Option<String>,
}

/// A step of a call's flow: `ivr`, `queue`, `agent`, `playback` or `transfer`, with the
/// fields of its kind (the others empty).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallStep {
    /// The step's kind, as sent.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// The IVR's, queue's, agent's, playback's or transfer's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub id: Option<u64>,
    /// The queue's or agent's name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// When the step began.
    #[serde(default, deserialize_with = "opt_text")]
    pub date: Option<String>,
    /// `answered`, `missed` or `cold_transfer`.
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    /// Why a queue or an agent missed the call.
    #[serde(default, deserialize_with = "opt_text")]
    pub reason: Option<String>,
    /// The call an agent step was (agent steps).
    #[serde(default, deserialize_with = "opt_u64")]
    pub call_id: Option<u64>,
    /// Time in the step (queue and agent steps).
    #[serde(default)]
    pub call_times: Option<CallTimes>,
    /// Time in the step (IVR and playback steps).
    #[serde(default, deserialize_with = "opt_u64")]
    pub total_time: Option<u64>,
    /// The option the caller pressed (IVR steps).
    #[serde(default, deserialize_with = "opt_text")]
    pub option: Option<String>,
    /// The queue's strategy (`ringall`, `rrmemory`, `random`).
    #[serde(default, deserialize_with = "opt_text")]
    pub strategy: Option<String>,
    /// The agents a queue rang.
    #[serde(default, deserialize_with = "null_default")]
    pub agent_calls: Vec<CallStep>,
    /// The groups of an agent step's agent.
    #[serde(default, deserialize_with = "null_default")]
    pub group_ids: Vec<u64>,
    /// The file played (playback steps).
    #[serde(default, deserialize_with = "opt_text")]
    pub file: Option<String>,
    /// Where the call was transferred (transfer steps).
    #[serde(default, deserialize_with = "opt_text")]
    pub endpoint: Option<String>,
}

/// `GET /calls/{callId}` on the analytics host: a call and its flow. This is what links a
/// call's numeric id (`cdr_id`) to the `uuid` workflow bodies carry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CallDetails {
    /// The call's id.
    pub cdr_id: CallId,
    /// The call's UUID.
    #[serde(default, deserialize_with = "opt_text")]
    pub uuid: Option<String>,
    /// The company's id.
    #[serde(default, deserialize_with = "opt_u64")]
    pub company_id: Option<u64>,
    /// When the call started.
    #[serde(default, deserialize_with = "opt_text")]
    pub date: Option<String>,
    /// The contact.
    #[serde(default, deserialize_with = "null_default")]
    pub contact: DetailsContact,
    /// Call tags.
    #[serde(default, deserialize_with = "null_default")]
    pub call_tags: Vec<DetailsTag>,
    /// The call's rating.
    #[serde(default, deserialize_with = "opt_u64")]
    pub call_rating: Option<u64>,
    /// The company's number.
    #[serde(default, deserialize_with = "null_default")]
    pub internal_number: InternalNumber,
    /// Times in each state.
    #[serde(default, deserialize_with = "null_default")]
    pub call_times: CallTimes,
    /// `incoming`, `outgoing` or `internal`.
    #[serde(default, deserialize_with = "opt_text")]
    pub direction: Option<String>,
    /// `power_dialer`, `predictive_dialer`, `callback`, `redirected`, `transferred` or
    /// `regular`.
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    /// `answered` or `missed`.
    #[serde(default, deserialize_with = "opt_text")]
    pub status: Option<String>,
    /// The call's flow, in order.
    #[serde(default, deserialize_with = "null_default")]
    pub call_steps: Vec<CallStep>,
    /// Notes.
    #[serde(default, deserialize_with = "null_default")]
    pub notes: Vec<String>,
    /// Whether it was recorded.
    #[serde(default, deserialize_with = "opt_bool")]
    pub recorded: Option<bool>,
    /// Whether it came out of office hours.
    #[serde(default, deserialize_with = "opt_bool")]
    pub out_of_office: Option<bool>,
}

#[cfg(feature = "client")]
impl Client {
    /// `GET /calls/index.json`: the call history.
    pub async fn list_calls(&self, query: &CallQuery) -> Result<Response<Page<CallRow>>, Error> {
        self.send(self.request(Method::GET, "calls/index.json").query(query))
            .await
    }

    /// `GET /calls/{callId}` on the analytics host: the call and its flow.
    pub async fn call_details(&self, call: CallId) -> Result<Response<CallDetails>, Error> {
        self.send(self.analytics_request(Method::GET, &format!("calls/{call}")))
            .await
    }

    /// `GET /calls/recording/{callId}.json`: the recording's audio (WAV). A call without a
    /// recording is [`Error::NotFound`]; an expired one is [`Error::Refused`] with 410.
    pub async fn recording(&self, call: CallId) -> Result<Response<Recording>, Error> {
        let request = self.request_accepting(
            Method::GET,
            &format!("calls/recording/{call}.json"),
            "audio/x-wav, audio/*, application/json",
        );
        let (reply, content_type, bytes) = self.send_raw(request).await?;
        // A JSON answer with a 2xx status is not audio: it is read as CloudTalk's envelope.
        if content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/json"))
        {
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let inner = value.get("responseData").unwrap_or(&value);
            return Err(Error::Decode {
                message: format!("a recording, not JSON, was expected: {inner}"),
                reply: Box::new(reply),
            });
        }
        Ok(Response {
            data: Recording {
                content_type,
                bytes,
            },
            reply,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_read_as_the_schema_and_as_the_example_write_it() {
        let row: CallRow = serde_json::from_value(serde_json::json!({
            "Cdr": {"id": "27", "billsec": "0", "type": "outgoing", "public_external": 421904247371_u64,
                    "public_internal": "+421221291400", "recorded": true, "is_redirected": "0",
                    "user_id": "1234", "talking_time": "21", "waiting_time": 2,
                    "recording_link": "https://my.cloudtalk.io/r/play/27"},
            "Contact": {"id": null, "name": null},
            "BillingCall": {"price": "0.000000"},
            "Agent": {"id": "1234", "firstname": "Max", "associated_numbers": [442012345678_u64]},
            "Notes": [{"id": "23", "note": "Call later"}],
            "Tags": {"id": "1", "name": "VIP"},
        }))
        .unwrap();
        assert_eq!(row.cdr.id, CallId(27));
        assert_eq!(row.cdr.public_external.as_deref(), Some("+421904247371"));
        assert_eq!(row.cdr.is_redirected, Some(false));
        assert_eq!(row.cdr.talking_time, Some(21));
        assert!(row.cdr.answered());
        assert_eq!(row.contact, None, "a contact of nulls is no contact");
        assert_eq!(row.billing.unwrap().price.as_deref(), Some("0.000000"));
        let agent = row.agent.unwrap();
        assert_eq!(agent.id, Some(AgentId(1234)));
        assert_eq!(agent.associated_numbers, vec!["+442012345678"]);
        assert_eq!(row.notes[0].text.as_deref(), Some("Call later"));
        assert_eq!(row.tags[0].name, "VIP");
    }
}
