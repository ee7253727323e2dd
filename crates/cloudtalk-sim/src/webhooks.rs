//! CloudTalk's Workflow Automations as the simulator plays them. For each trigger a
//! company's admin may set one "API Request" action (a URL and static headers: CloudTalk
//! signs nothing, so a receiver's secret travels in a header or the URL). The simulator
//! sends the trigger's attributes under the key names seen on real requests: numbers as
//! JSON numbers without `+`, the contact's tags as one CSV string, `User-Agent:
//! cloudtalk-workflow-automation`; no retries (none are documented). Every delivery is
//! recorded with the receiver's status.

use std::time::Duration;

use serde_json::{Value, json};

/// The triggers the simulator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Call › Started.
    CallStarted,
    /// Call › Ended, after the wrap-up time.
    CallEnded,
    /// Recording › Uploaded.
    RecordingUploaded,
    /// User › Status Changed.
    AgentStatusChanged,
    /// Contact › Created.
    ContactCreated,
}

/// An "API Request" action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automation {
    /// Where to POST.
    pub url: String,
    /// Static headers (a receiver's secret, say).
    pub headers: Vec<(String, String)>,
}

/// A webhook the simulator sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The company (its key id).
    pub company: String,
    /// The trigger.
    pub trigger: Trigger,
    /// The URL.
    pub url: String,
    /// The body.
    pub body: Value,
    /// The receiver's status; none when it could not be reached.
    pub status: Option<u16>,
}

/// A call to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// The contact's number, E.164.
    pub external_number: String,
    /// The company's number, E.164.
    pub internal_number: String,
    /// The agent's id and name.
    pub agent: (u64, String),
    /// Seconds talking (0: not answered).
    pub talking_time: u64,
    /// Seconds waiting.
    pub waiting_time: u64,
    /// How long the wrap-up lasts: Call Ended fires after it.
    pub wrap_up: Duration,
    /// Whether a recording is uploaded after the call.
    pub recorded: bool,
    /// Whether the bodies carry `call_id` and `call_uuid` (real Call Started bodies have
    /// arrived without them).
    pub with_ids: bool,
    /// Whether Call Started is sent twice within milliseconds, as seen in the wild.
    pub started_twice: bool,
}

impl Default for Call {
    fn default() -> Self {
        Self {
            direction: "incoming".into(),
            external_number: "+34611000111".into(),
            internal_number: "+34910000000".into(),
            agent: (1, "Roberto Rossi".into()),
            talking_time: 95,
            waiting_time: 7,
            wrap_up: Duration::from_millis(50),
            recorded: true,
            with_ids: true,
            started_twice: false,
        }
    }
}

/// The ids the simulator gave a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallIds {
    /// The numeric CDR id.
    pub call_id: u64,
    /// The UUID.
    pub call_uuid: String,
}

/// A number as CloudTalk's workflow bodies carry it: a JSON number without `+`.
pub(crate) fn bare(number: &str) -> Value {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse::<u64>()
        .map_or_else(|_| json!(digits), |n| json!(n))
}

/// The bodies of a call's triggers, in order.
pub(crate) fn call_bodies(
    call: &Call,
    ids: &CallIds,
    contact: Option<(u64, Vec<String>)>,
) -> Vec<(Trigger, Value)> {
    let mut started = json!({
        "direction": call.direction,
        "external_number": bare(&call.external_number),
        "internal_number": bare(&call.internal_number),
        "contact_id": contact.as_ref().map(|(id, _)| *id),
        "agent_id": call.agent.0,
        "agent_name": call.agent.1,
    });
    if call.with_ids {
        started["call_id"] = json!(ids.call_id);
        started["call_uuid"] = json!(ids.call_uuid);
    }
    let mut ended = started.clone();
    ended["talking_time"] = json!(call.talking_time);
    ended["waiting_time"] = json!(call.waiting_time);
    ended["wrapup_time"] = json!(call.wrap_up.as_secs());
    ended["status"] = json!(if call.talking_time > 0 {
        "answered"
    } else {
        "missed"
    });
    ended["tags"] = json!(contact.map(|(_, tags)| tags.join(",")).unwrap_or_default());
    let recording_url = format!(
        "https://my.cloudtalk.io/api/calls/recording/{}.json",
        ids.call_id
    );
    if call.recorded {
        ended["recording_url"] = json!(recording_url);
    }
    let mut bodies = vec![(Trigger::CallStarted, started.clone())];
    if call.started_twice {
        bodies.push((Trigger::CallStarted, started));
    }
    bodies.push((Trigger::CallEnded, ended));
    if call.recorded {
        bodies.push((
            Trigger::RecordingUploaded,
            json!({
                "call_id": ids.call_id,
                "recording_url": recording_url,
                "internal_number": bare(&call.internal_number),
                "external_number": bare(&call.external_number),
            }),
        ));
    }
    bodies
}

/// Sends one webhook; the receiver's status, none when unreachable.
pub(crate) async fn send(
    http: &reqwest::Client,
    automation: &Automation,
    body: &Value,
) -> Option<u16> {
    let mut request = http
        .post(&automation.url)
        .header("user-agent", "cloudtalk-workflow-automation")
        .header("accept", "application/json, text/plain, */*")
        .json(body);
    for (name, value) in &automation.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}
