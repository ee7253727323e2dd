//! Seed 004's voice broadcasts, decided without IO: a number made E.164 (or refused, named),
//! when a number may be called (the broadcast's calling window in the number's local time),
//! and what a call's outcome does to its queue item.
//!
//! The local time is the GHL contact's time zone when GHL knows it, else the zones of the
//! number's range (libphonenumber's time zone map: one zone for most ranges, several for
//! some, such as a US toll-free number). Where a number may be in several zones it is called
//! only when the time is inside the window in every one of them: the TCPA's hours bind at
//! the called party's location, so an unknown one is not guessed.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::Millis;
use crate::event::UnknownValue;

/// A phone number in E.164 (`+34611000111`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// The number, with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    /// It cannot be read as a phone number.
    #[error("{number:?} is not a phone number: {reason}")]
    Unreadable {
        /// The number as given.
        number: String,
        /// Why.
        reason: String,
    },
    /// It reads as a number no network uses.
    #[error("{number:?} is not a valid phone number")]
    Invalid {
        /// The number as given.
        number: String,
    },
    /// The default region is not an ISO 3166 country code.
    #[error("{0:?} is not a region (an ISO 3166 country code such as US)")]
    UnknownRegion(String),
}

/// `raw` as E.164: international numbers as they are, national ones in `region` (the
/// owner's default, ISO 3166: `US`, `ES`).
pub fn normalize_phone(raw: &str, region: Option<&str>) -> Result<E164, PhoneError> {
    let country = region
        .map(|r| {
            r.trim()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .map_err(|_| PhoneError::UnknownRegion(r.to_owned()))
        })
        .transpose()?;
    let number = phonenumber::parse(country, raw.trim()).map_err(|e| PhoneError::Unreadable {
        number: raw.to_owned(),
        reason: e.to_string(),
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid {
            number: raw.to_owned(),
        });
    }
    Ok(E164(
        number.format().mode(phonenumber::Mode::E164).to_string(),
    ))
}

/// The hours a broadcast calls in, in the called number's local time: from `start` up to
/// (not including) `end`; an `end` before `start` runs past midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingWindow {
    /// First minute calls may start.
    pub start: Time,
    /// When calls stop.
    pub end: Time,
}

impl Default for CallingWindow {
    /// 08:00 to 21:00, the TCPA's hours.
    fn default() -> Self {
        Self {
            start: Time::constant(8, 0, 0, 0),
            end: Time::constant(21, 0, 0, 0),
        }
    }
}

/// A calling window that does not read as `HH:MM-HH:MM`, or is empty.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the calling window {text:?} {reason}")]
pub struct WindowError {
    /// The window as given.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for CallingWindow {
    type Err = WindowError;
    /// `HH:MM-HH:MM`, local time; `22:00-06:00` runs past midnight.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| WindowError {
            text: text.to_owned(),
            reason,
        };
        let (start, end) = text
            .split_once('-')
            .ok_or_else(|| fail("is not HH:MM-HH:MM".to_owned()))?;
        let time = |t: &str| {
            t.trim()
                .parse::<Time>()
                .map_err(|e| fail(format!("has {t:?}, not HH:MM: {e}")))
        };
        let window = Self {
            start: time(start)?,
            end: time(end)?,
        };
        if window.start == window.end {
            return Err(fail("is empty".to_owned()));
        }
        Ok(window)
    }
}

impl CallingWindow {
    /// True when `local` is inside the window.
    pub fn contains(&self, local: Time) -> bool {
        if self.start <= self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// True when `at` is inside the window in every zone.
    pub fn open_in_all(&self, zones: &[TimeZone], at: Timestamp) -> bool {
        zones
            .iter()
            .all(|tz| self.contains(at.to_zoned(tz.clone()).time()))
    }

    /// The first time at or after `now` that is inside the window in every zone; `None`
    /// when there is none within a week (a window too short for the zones' spread).
    pub fn next_open(&self, zones: &[TimeZone], now: Millis) -> Option<Millis> {
        let now = Timestamp::from_millisecond(now).ok()?;
        if self.open_in_all(zones, now) {
            return Some(now.as_millisecond());
        }
        // Each zone's next opening is a candidate: the answer is the first candidate at which
        // every zone is open. Openings recur daily, so a week of candidates is enough.
        let mut candidates: Vec<Timestamp> = Vec::new();
        for tz in zones {
            let local = now.to_zoned(tz.clone());
            for day in 0..8 {
                let date = local.date().checked_add(day.days()).ok()?;
                if let Ok(open) = date.to_datetime(self.start).to_zoned(tz.clone())
                    && open.timestamp() > now
                {
                    candidates.push(open.timestamp());
                }
            }
        }
        candidates.sort();
        candidates
            .into_iter()
            .find(|c| self.open_in_all(zones, *c))
            .map(|c| c.as_millisecond())
    }
}

/// True when `region` is an ISO 3166 country code numbers can be read in.
pub fn is_region(region: &str) -> bool {
    region
        .trim()
        .to_ascii_uppercase()
        .parse::<phonenumber::country::Id>()
        .is_ok()
}

/// An IANA time zone by name.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name.trim()).ok()
}

/// The zones a number may be in: the contact's (an IANA name GHL gives) when it is one,
/// else those of the number's range, else `fallback` (the owner's).
pub fn zones_of(
    contact_timezone: Option<&str>,
    number: &E164,
    fallback: &TimeZone,
) -> Vec<TimeZone> {
    if let Some(tz) = contact_timezone.and_then(|name| TimeZone::get(name.trim()).ok()) {
        return vec![tz];
    }
    let zones: Vec<TimeZone> = namba::parse(number.as_str())
        .ok()
        .and_then(|n| namba::TimeZones::for_number(&n))
        .map(|zones| {
            zones
                .iter()
                .filter_map(|name| TimeZone::get(name).ok())
                .collect()
        })
        .unwrap_or_default();
    if zones.is_empty() {
        vec![fallback.clone()]
    } else {
        zones
    }
}

/// How a call ended, as the dialer reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A person answered.
    Answered,
    /// A machine answered; the message was left.
    Voicemail,
    /// Nobody answered.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The call could not be made.
    Failed,
}

impl CallOutcome {
    /// Every outcome.
    pub const ALL: [Self; 5] = [
        Self::Answered,
        Self::Voicemail,
        Self::NoAnswer,
        Self::Busy,
        Self::Failed,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Voicemail => "voicemail",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }

    /// The GHL tag seed 004 gives a contact for it.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Answered => "broadcast_answered",
            Self::Voicemail => "broadcast_voicemail_left",
            Self::NoAnswer => "broadcast_no_answer",
            Self::Busy => "broadcast_busy",
            Self::Failed => "broadcast_failed",
        }
    }

    /// No answer and busy are called again, up to the broadcast's attempts.
    pub fn retried(self) -> bool {
        matches!(self, Self::NoAnswer | Self::Busy)
    }
}

impl FromStr for CallOutcome {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// What a reported outcome does to its queue item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The item is done: the outcome goes to GHL. `retries_spent` marks a no-answer or busy
    /// that ran out of attempts (the seed's "No answer (max retries)").
    Final {
        /// It was retried as often as the broadcast allows.
        retries_spent: bool,
    },
    /// Called again at this time (then only inside the calling window).
    RetryAt(Millis),
}

/// What `outcome` of the item's `attempt`-th call (from 1) does, for a broadcast of
/// `max_attempts` calls per number spaced `retry_delay_ms` apart.
pub fn after_outcome(
    outcome: CallOutcome,
    attempt: u32,
    max_attempts: u32,
    retry_delay_ms: Millis,
    now: Millis,
) -> Next {
    if !outcome.retried() {
        return Next::Final {
            retries_spent: false,
        };
    }
    if attempt < max_attempts.max(1) {
        Next::RetryAt(now + retry_delay_ms.max(0))
    } else {
        Next::Final {
            retries_spent: true,
        }
    }
}

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

id!(
    /// A dialer user (seed 004's `user_id`): the owner of broadcasts, keys and a DNC list.
    OwnerId
);
id!(
    /// A broadcast, unique within its owner.
    BroadcastId
);

/// A dialer user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Its id.
    pub id: OwnerId,
    /// Its name.
    pub name: String,
    /// The GHL location its outcomes go to.
    pub location_id: ghl::LocationId,
    /// The region national numbers are read in (ISO 3166: `US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The zone of numbers whose own zone is unknown (IANA).
    pub timezone: String,
    /// Created.
    pub created_at: Millis,
}

/// An owner's webhook key (seed 004's `webhook_key`): shown once, stored as its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerKey {
    /// `okey_` and hex digits: how it is listed and revoked.
    pub id: String,
    /// The owner.
    pub owner_id: OwnerId,
    /// Hex SHA-256 of the secret.
    #[serde(skip_serializing)]
    pub secret_hash: String,
    /// The secret's first characters, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: Millis,
    /// Revoked, if it was (a rotation revokes the key it replaces).
    pub revoked_at: Option<Millis>,
}

/// Where a broadcast stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BroadcastStatus {
    /// Calling.
    Active,
    /// Not calling; numbers are still queued.
    Paused,
    /// Finished: takes no more numbers.
    Completed,
    /// Stopped for good: takes no more numbers.
    Cancelled,
}

impl BroadcastStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Active, Self::Paused, Self::Completed, Self::Cancelled];

    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// A completed or cancelled broadcast takes no numbers (seed 004 answers 404).
    pub fn takes_numbers(self) -> bool {
        matches!(self, Self::Active | Self::Paused)
    }

    /// Whether `to` may follow: pause and resume go back and forth; completing and
    /// cancelling are final.
    pub fn may_become(self, to: Self) -> bool {
        use BroadcastStatus::*;
        matches!(
            (self, to),
            (Active, Paused) | (Paused, Active) | (Active | Paused, Completed | Cancelled)
        )
    }
}

impl FromStr for BroadcastStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// A voice broadcast.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    /// Its id, unique within its owner.
    pub id: BroadcastId,
    /// Its owner.
    pub owner_id: OwnerId,
    /// Its name (seed 004's `broadcast_name`).
    pub name: String,
    /// Where it stands.
    pub status: BroadcastStatus,
    /// Calls per number at most, counting no-answer and busy retries.
    pub max_attempts: u32,
    /// Time between a no-answer or busy and the next call.
    pub retry_delay_ms: Millis,
    /// When numbers may be called, in their local time.
    pub window: CallingWindow,
    /// Created.
    pub created_at: Millis,
    /// Last changed.
    pub updated_at: Millis,
}

id!(
    /// A number queued in a broadcast (seed 004's `queue_item_id`).
    QueueItemId
);
id!(
    /// A final outcome waiting to reach GHL (a row of seed 004's `ghl_pending_updates`).
    PendingId
);

/// Where a queued number stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting to be called (at its `due_at`, then only inside the calling window).
    Queued,
    /// Handed to a dialer until its lease ends; an expired lease puts it back.
    Leased,
    /// Its outcome is final.
    Done,
}

impl QueueState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Leased => "leased",
            Self::Done => "done",
        }
    }
}

impl FromStr for QueueState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Queued, Self::Leased, Self::Done]
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// Where a queued number's outcome stands in GHL (seed 004's `ghl_callback_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Final, waiting for a callback run.
    Pending,
    /// Its GHL calls are in the outbox.
    Queued,
    /// In GHL.
    Sent,
    /// Nothing to send: the number has no GHL contact.
    Skipped,
    /// A GHL call was dead-lettered (replayable).
    Failed,
}

impl CallbackStatus {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// A number in a broadcast's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    /// Its id.
    pub id: QueueItemId,
    /// The broadcast's owner.
    pub owner_id: OwnerId,
    /// The broadcast.
    pub broadcast_id: BroadcastId,
    /// Its place in the broadcast, from 1.
    pub position: i64,
    /// The number.
    pub phone: E164,
    /// The contact's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The contact's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The GHL contact its outcome goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ghl_contact_id: Option<ghl::ContactId>,
    /// The IANA zones its calling window is read in (see [`zones_of`]).
    pub zones: Vec<String>,
    /// Where it stands.
    pub state: QueueState,
    /// Calls made so far.
    pub attempts: u32,
    /// Not called before.
    pub due_at: Millis,
    /// The lease it is out under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    /// When that lease ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<Millis>,
    /// The last call's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<CallOutcome>,
    /// Added.
    pub created_at: Millis,
}

impl QueueItem {
    /// Its zones, as jiff reads them (names jiff does not know are left out).
    pub fn time_zones(&self) -> Vec<TimeZone> {
        self.zones.iter().filter_map(|z| zone(z)).collect()
    }
}

/// The IANA names of `zones` (a zone without one, such as a fixed offset, as jiff names it).
pub fn zone_names(zones: &[TimeZone]) -> Vec<String> {
    zones
        .iter()
        .filter_map(|tz| tz.iana_name().map(str::to_owned))
        .collect()
}

/// One call, as the dialer reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallResult {
    /// How it ended.
    pub outcome: CallOutcome,
    /// Seconds on the line.
    pub duration_seconds: u32,
    /// When it was made.
    pub called_at: Millis,
    /// The key pressed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf_pressed: Option<String>,
    /// Whether the called party asked to be called back.
    #[serde(default)]
    pub callback_requested: bool,
    /// When, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_time: Option<Millis>,
}

/// A dialer's report of one call, to be recorded once (by its `event_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    /// The dialer's id for the report.
    pub event_id: String,
    /// The number called.
    pub queue_item_id: QueueItemId,
    /// The lease it was called under, if the dialer says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    /// The call.
    pub result: CallResult,
}

/// What recording a report did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Recorded {
    /// Recorded now: the item is final, or called again at `retry_at`.
    Recorded {
        /// The outcome is final.
        final_outcome: bool,
        /// When it is called again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Millis>,
    },
    /// The same event was recorded before; nothing changed.
    Duplicate {
        /// As first recorded.
        final_outcome: bool,
    },
    /// The item's outcome was already final; the report is kept but changes nothing.
    AlreadyFinal,
    /// No such item of this owner.
    NotFound,
}

/// A field of a trigger request that is missing or wrong: answered 400 naming it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, as the body names it.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// A number to add to a broadcast, as seed 004's body gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddToBroadcast {
    /// The broadcast.
    pub broadcast_id: BroadcastId,
    /// The number as sent (normalised against the owner's region later).
    pub phone: String,
    /// The contact's name.
    pub name: Option<String>,
    /// The GHL contact.
    pub ghl_contact_id: Option<ghl::ContactId>,
    /// The contact's email.
    pub email: Option<String>,
}

/// What a trigger request asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriggerAction {
    /// Queue a number (`add_to_broadcast`).
    AddToBroadcast(AddToBroadcast),
    /// Check the key (`test`).
    Test,
    /// The owner's broadcasts (`list_broadcasts`).
    ListBroadcasts,
}

/// A request to the trigger route (seed 004's `ghl-webhook-trigger`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerRequest {
    /// The owner's webhook key, from the body.
    pub webhook_key: String,
    /// What it asks.
    pub action: TriggerAction,
}

/// The actions a trigger request may name.
pub const TRIGGER_ACTIONS: [&str; 3] = ["add_to_broadcast", "test", "list_broadcasts"];

/// Reads a trigger body. A GHL workflow fills its template fields with empty text when the
/// contact lacks them, so empty text counts as absent.
pub fn read_trigger(body: &serde_json::Value) -> Result<TriggerRequest, FieldError> {
    let object = body
        .as_object()
        .ok_or_else(|| field_error("body", "the body must be a JSON object"))?;
    let text = |field: &'static str| -> Result<Option<String>, FieldError> {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
            }
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(field_error(field, format!("{field} must be text"))),
        }
    };
    let webhook_key = text("webhook_key")?
        .ok_or_else(|| field_error("webhook_key", "webhook_key is required"))?;
    let action = text("action")?.ok_or_else(|| {
        field_error(
            "action",
            format!("action is required: {}", TRIGGER_ACTIONS.join(", ")),
        )
    })?;
    let action = match action.as_str() {
        "add_to_broadcast" => TriggerAction::AddToBroadcast(AddToBroadcast {
            broadcast_id: BroadcastId(
                text("broadcast_id")?
                    .ok_or_else(|| field_error("broadcast_id", "broadcast_id is required"))?,
            ),
            phone: text("phone")?.ok_or_else(|| field_error("phone", "phone is required"))?,
            name: text("name")?,
            ghl_contact_id: text("ghl_contact_id")?.map(ghl::ContactId::from),
            email: text("email")?.map(|e| e.to_lowercase()),
        }),
        "test" => TriggerAction::Test,
        "list_broadcasts" => TriggerAction::ListBroadcasts,
        other => {
            return Err(field_error(
                "action",
                format!(
                    "unknown action {other:?}; the actions are {}",
                    TRIGGER_ACTIONS.join(", ")
                ),
            ));
        }
    };
    Ok(TriggerRequest {
        webhook_key,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Millis {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn numbers_become_e164_or_are_refused_by_name() {
        assert_eq!(
            normalize_phone("(201) 555-0123", Some("us"))
                .unwrap()
                .as_str(),
            "+12015550123"
        );
        assert_eq!(
            normalize_phone("+34 611 00 01 11", None).unwrap().as_str(),
            "+34611000111"
        );
        assert_eq!(
            normalize_phone("611000111", Some("ES")).unwrap().as_str(),
            "+34611000111"
        );
        assert_eq!(
            normalize_phone("+1 555 0100", None),
            Err(PhoneError::Invalid {
                number: "+1 555 0100".into()
            })
        );
        let e = normalize_phone("call me", Some("US")).unwrap_err();
        assert!(e.to_string().contains("\"call me\""), "{e}");
        assert_eq!(
            normalize_phone("611000111", Some("Spain")),
            Err(PhoneError::UnknownRegion("Spain".into()))
        );
        assert!(is_region("es") && !is_region("Spain"));
        assert!(zone("Europe/Madrid").is_some() && zone("Mars/Olympus").is_none());
    }

    #[test]
    fn a_window_holds_its_start_not_its_end_and_may_run_past_midnight() {
        let w = CallingWindow::default();
        assert!(w.contains(Time::constant(8, 0, 0, 0)));
        assert!(w.contains(Time::constant(20, 59, 59, 0)));
        assert!(!w.contains(Time::constant(21, 0, 0, 0)));
        assert!(!w.contains(Time::constant(7, 59, 0, 0)));
        let night = CallingWindow {
            start: Time::constant(22, 0, 0, 0),
            end: Time::constant(2, 0, 0, 0),
        };
        assert!(night.contains(Time::constant(23, 0, 0, 0)));
        assert!(night.contains(Time::constant(1, 0, 0, 0)));
        assert!(!night.contains(Time::constant(12, 0, 0, 0)));
    }

    #[test]
    fn a_numbers_zone_comes_from_the_contact_else_its_range() {
        let utc = TimeZone::UTC;
        let madrid = normalize_phone("+34611000111", None).unwrap();
        let zones = zones_of(None, &madrid, &utc);
        assert_eq!(zones.len(), 1);
        assert_eq!(zones[0].iana_name(), Some("Europe/Madrid"));
        let new_jersey = normalize_phone("+12015550123", None).unwrap();
        assert_eq!(
            zones_of(None, &new_jersey, &utc)[0].iana_name(),
            Some("America/New_York")
        );
        assert_eq!(
            zones_of(Some("America/Denver"), &new_jersey, &utc)[0].iana_name(),
            Some("America/Denver"),
            "GHL's timezone of the contact wins"
        );
        assert_eq!(
            zones_of(Some("not/a zone"), &new_jersey, &utc)[0].iana_name(),
            Some("America/New_York")
        );
        // A toll-free number may ring anywhere in the country: every zone counts.
        let toll_free = normalize_phone("+1 800 275 2273", None).unwrap();
        let zones = zones_of(None, &toll_free, &utc);
        assert!(zones.len() > 1, "{zones:?}");
        assert!(
            zones
                .iter()
                .any(|z| z.iana_name() == Some("America/Los_Angeles"))
        );
    }

    #[test]
    fn a_number_is_called_only_inside_its_window() {
        let w = CallingWindow::default();
        let ny = vec![TimeZone::get("America/New_York").unwrap()];
        // 11:30 UTC is 06:30 in New York (EST): wait until 08:00 there, 13:00 UTC.
        assert_eq!(
            w.next_open(&ny, at("2026-12-03T11:30:00Z")),
            Some(at("2026-12-03T13:00:00Z"))
        );
        // 15:00 UTC is 10:00 there: now.
        let now = at("2026-12-03T15:00:00Z");
        assert_eq!(w.next_open(&ny, now), Some(now));
        // 02:30 UTC is 21:30 the day before: the next morning.
        assert_eq!(
            w.next_open(&ny, at("2026-12-04T02:30:00Z")),
            Some(at("2026-12-04T13:00:00Z"))
        );
        // A number that may be in New York or Los Angeles waits for both to be open:
        // 08:00 in Los Angeles is 16:00 UTC (11:00 in New York).
        let both = vec![
            TimeZone::get("America/New_York").unwrap(),
            TimeZone::get("America/Los_Angeles").unwrap(),
        ];
        assert_eq!(
            w.next_open(&both, at("2026-12-03T13:30:00Z")),
            Some(at("2026-12-03T16:00:00Z"))
        );
        // Zones a whole window apart are never open together.
        let apart = vec![
            TimeZone::get("Pacific/Kiritimati").unwrap(),
            TimeZone::get("Pacific/Pago_Pago").unwrap(),
        ];
        let short = CallingWindow {
            start: Time::constant(9, 0, 0, 0),
            end: Time::constant(10, 0, 0, 0),
        };
        assert_eq!(short.next_open(&apart, at("2026-12-03T00:00:00Z")), None);
    }

    #[test]
    fn trigger_bodies_are_read_as_seed_004_sends_them() {
        let body = serde_json::json!({
            "action": "add_to_broadcast", "webhook_key": "whk_1", "broadcast_id": "bc_1",
            "phone": "+15551234567", "name": "John Smith", "ghl_contact_id": "c-1",
            "email": "John@Example.com"
        });
        let r = read_trigger(&body).unwrap();
        assert_eq!(r.webhook_key, "whk_1");
        let TriggerAction::AddToBroadcast(add) = r.action else {
            panic!()
        };
        assert_eq!(add.broadcast_id.as_str(), "bc_1");
        assert_eq!(add.email.as_deref(), Some("john@example.com"));
        assert_eq!(add.ghl_contact_id.as_ref().map(|c| c.as_str()), Some("c-1"));
        // A workflow's empty template fields are absent.
        let sparse = serde_json::json!({"action": "add_to_broadcast", "webhook_key": "k", "broadcast_id": "b", "phone": "2015550123",
            "name": "", "email": ""});
        let TriggerAction::AddToBroadcast(add) = read_trigger(&sparse).unwrap().action else {
            panic!()
        };
        assert_eq!((add.name, add.email), (None, None));
        let field = |b: serde_json::Value| read_trigger(&b).unwrap_err().field;
        assert_eq!(field(serde_json::json!({"action": "test"})), "webhook_key");
        let add = |extra: serde_json::Value| {
            let mut b = serde_json::json!({"action": "add_to_broadcast", "webhook_key": "k"});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        assert_eq!(
            field(add(serde_json::json!({"phone": "1"}))),
            "broadcast_id"
        );
        assert_eq!(
            field(add(serde_json::json!({"broadcast_id": "b"}))),
            "phone"
        );
        assert_eq!(
            field(add(
                serde_json::json!({"broadcast_id": "b", "phone": ["x"]})
            )),
            "phone"
        );
        assert_eq!(field(serde_json::json!({"webhook_key": "k"})), "action");
        let e = read_trigger(&serde_json::json!({"webhook_key": "k", "action": "delete_all"}))
            .unwrap_err();
        assert!(e.message.contains("list_broadcasts"), "{e}");
        assert_eq!(field(serde_json::json!([1])), "body");
        assert_eq!(
            read_trigger(&serde_json::json!({"webhook_key": "k", "action": "list_broadcasts"}))
                .unwrap()
                .action,
            TriggerAction::ListBroadcasts
        );
    }

    #[test]
    fn completing_and_cancelling_are_final() {
        use BroadcastStatus::*;
        assert!(Active.may_become(Paused) && Paused.may_become(Active));
        assert!(Paused.may_become(Cancelled) && Active.may_become(Completed));
        assert!(!Completed.may_become(Active) && !Cancelled.may_become(Paused));
        assert!(!Active.may_become(Active));
        assert!(Paused.takes_numbers() && !Completed.takes_numbers());
        assert_eq!("cancelled".parse::<BroadcastStatus>(), Ok(Cancelled));
    }

    #[test]
    fn a_calling_window_reads_as_hh_mm_hh_mm() {
        let w: CallingWindow = "08:00-21:00".parse().unwrap();
        assert_eq!(w, CallingWindow::default());
        let night: CallingWindow = " 22:30 - 06:00 ".parse().unwrap();
        assert_eq!(night.start, Time::constant(22, 30, 0, 0));
        assert!(night.contains(Time::constant(2, 0, 0, 0)));
        for bad in ["08:00", "8-21:00", "08:00-25:00", "09:00-09:00", ""] {
            let e = bad.parse::<CallingWindow>().unwrap_err();
            assert_eq!(e.text, bad, "{e}");
        }
    }

    #[test]
    fn no_answer_and_busy_are_retried_until_the_attempts_run_out() {
        use CallOutcome::*;
        assert_eq!(
            after_outcome(NoAnswer, 1, 3, 60_000, 1_000),
            Next::RetryAt(61_000)
        );
        assert_eq!(after_outcome(Busy, 2, 3, 60_000, 0), Next::RetryAt(60_000));
        assert_eq!(
            after_outcome(NoAnswer, 3, 3, 60_000, 0),
            Next::Final {
                retries_spent: true
            }
        );
        for o in [Answered, Voicemail, Failed] {
            assert_eq!(
                after_outcome(o, 1, 3, 60_000, 0),
                Next::Final {
                    retries_spent: false
                }
            );
        }
        assert_eq!(Voicemail.tag(), "broadcast_voicemail_left");
        assert_eq!("no_answer".parse::<CallOutcome>(), Ok(NoAnswer));
    }
}
