//! The local mirror of GHL objects, built from webhooks and from GHL's answers.
//!
//! A mirror row is replaced only by data at least as new as what it holds (`updated_at`),
//! so webhooks that arrive out of order cannot roll a contact back.
//!
//! A contact row also keeps, per value, when GHL got it and, for a value ghlsync wrote,
//! when the application decided it ([`ValueTimes`]). GHL's webhooks and ghlsync's own
//! writes are folded in value by value ([`ContactMirror::absorb`]): a different value is
//! taken only from data not older than the value held, and an equal value changes nothing.
//! So the echo of ghlsync's own write changes nothing, and a webhook describing a moment
//! before ghlsync's last write (between two calls of one job) cannot undo it.
//!
//! The conflict rule between people editing in GHL and the application: last writer per
//! value, by time. A value's time is when the application decided it (for ghlsync's
//! writes) or when GHL got it (for anyone else's edit); an application change decided
//! before that time does not overwrite it.

use std::collections::BTreeMap;

use ghl::contacts::Contact;
use ghl::webhooks::{ContactEvent, NoteEvent, OpportunityEvent};
use ghl::{ContactId, LocationId, NoteId, OpportunityId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::command::value_key;

/// A mirrored contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub contact_id: ContactId,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom values by field id.
    pub custom_fields: BTreeMap<String, Value>,
    /// The last full payload seen.
    pub payload: Value,
    /// Time of the data (webhook timestamp or GHL answer time).
    pub updated_at: Millis,
    /// Deleted in GHL.
    pub deleted: bool,
    /// When each value changed, keyed `field:<name>`, `custom:<field id>`, `tag:<name>`.
    #[serde(default)]
    pub times: ValueTimes,
}

/// When a contact's values changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueTimes {
    /// When GHL got each value (webhook time, or the time of ghlsync's write).
    #[serde(default)]
    pub at: BTreeMap<String, Millis>,
    /// For the values ghlsync wrote: when the application decided them.
    #[serde(default)]
    pub decided: BTreeMap<String, Millis>,
}

impl ValueTimes {
    /// The value's time for the conflict rule: when the application decided it, or when
    /// GHL got it from anyone else.
    pub fn effective(&self, key: &str) -> Option<Millis> {
        self.decided.get(key).or_else(|| self.at.get(key)).copied()
    }
}

/// GHL contact fields that are not custom fields (as GHL names them in its payloads): what
/// rules set by name, and what the mirror compares value by value.
pub const STANDARD_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "companyName",
    "website",
    "address1",
    "city",
    "state",
    "country",
    "postalCode",
    "source",
    "dateOfBirth",
    "timezone",
];

/// Equal as GHL stores them: custom values come back as text as often as not.
pub fn same_value(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    a == b || text(a).is_some_and(|t| Some(t) == text(b))
}

fn custom_values(items: &[Value]) -> BTreeMap<String, Value> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.get("id")?.as_str()?.to_owned();
            Some((id, i.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

impl ContactMirror {
    /// From a Contact* webhook.
    pub fn from_event(
        location_id: LocationId,
        e: &ContactEvent,
        updated_at: Millis,
        deleted: bool,
    ) -> Option<Self> {
        Some(Self {
            location_id,
            contact_id: e.id.clone()?,
            email: e.email.clone(),
            phone: e.phone.clone(),
            first_name: e.first_name.clone(),
            last_name: e.last_name.clone(),
            company_name: e.company_name.clone(),
            tags: e.tags.clone(),
            custom_fields: custom_values(&e.custom_fields),
            payload: serde_json::to_value(e).unwrap_or(Value::Null),
            updated_at,
            deleted,
            times: ValueTimes::default(),
        })
    }

    /// From a contact GHL returned (upsert, get).
    pub fn from_contact(location_id: LocationId, c: &Contact, updated_at: Millis) -> Self {
        Self {
            location_id,
            contact_id: c.id.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            company_name: c.company_name.clone(),
            tags: c.tags.clone(),
            custom_fields: c
                .custom_fields
                .iter()
                .map(|f| (f.id.to_string(), f.value.clone()))
                .collect(),
            payload: serde_json::to_value(c).unwrap_or(Value::Null),
            updated_at,
            deleted: false,
            times: ValueTimes::default(),
        }
    }

    /// A row seen for the first time: every value got by GHL at `updated_at`, and
    /// `decided` for the values ghlsync wrote.
    pub fn stamped(mut self, decided: &BTreeMap<String, Millis>) -> Self {
        let keys: Vec<String> = self.value_keys().collect();
        for key in keys {
            self.times.at.insert(key, self.updated_at);
        }
        self.times.decided.extend(decided.clone());
        self
    }

    fn value_keys(&self) -> impl Iterator<Item = String> + '_ {
        let fields = STANDARD_FIELDS
            .iter()
            .filter(|f| self.payload.get(**f).is_some_and(|v| !v.is_null()))
            .map(|f| value_key::field(f));
        let custom = self.custom_fields.keys().map(|id| value_key::custom(id));
        let tags = self.tags.iter().map(|t| value_key::tag(t));
        fields.chain(custom).chain(tags)
    }

    /// Folds newer data about this contact in (GHL's state at `incoming.updated_at`),
    /// value by value, and returns the keys of the values that changed. A value that
    /// differs is taken when `incoming` is not older than when GHL got the value held;
    /// `decided` says when the application decided the values ghlsync wrote (empty for a
    /// webhook). An equal value keeps when GHL got it; every value ghlsync wrote takes its
    /// decision time, changed or not (its echo may have been folded in first). Fields
    /// `incoming` does not carry are kept.
    pub fn absorb(
        &mut self,
        incoming: &ContactMirror,
        decided: &BTreeMap<String, Millis>,
    ) -> Vec<String> {
        let at = incoming.updated_at;
        let mut changed = Vec::new();
        let newer = |times: &ValueTimes, key: &str| times.at.get(key).is_none_or(|t| at >= *t);
        // A changed value is anyone's but ghlsync's unless `decided` names it.
        let stamp = |times: &mut ValueTimes, key: &str| {
            times.at.insert(key.to_owned(), at);
            times.decided.remove(key);
        };
        for field in STANDARD_FIELDS {
            let Some(value) = incoming.payload.get(*field).filter(|v| !v.is_null()) else {
                continue;
            };
            let key = value_key::field(field);
            let held = self.payload.get(*field).filter(|v| !v.is_null());
            if held.is_some_and(|h| same_value(h, value)) || !newer(&self.times, &key) {
                continue;
            }
            if let Value::Object(p) = &mut self.payload {
                p.insert((*field).to_owned(), value.clone());
            } else {
                self.payload = serde_json::json!({ *field: value });
            }
            let text = value.as_str().map(str::to_owned);
            match *field {
                "firstName" => self.first_name = text,
                "lastName" => self.last_name = text,
                "email" => self.email = text,
                "phone" => self.phone = text,
                "companyName" => self.company_name = text,
                _ => {}
            }
            stamp(&mut self.times, &key);
            changed.push(key);
        }
        for (id, value) in &incoming.custom_fields {
            let key = value_key::custom(id);
            let held = self.custom_fields.get(id);
            if held.is_some_and(|h| same_value(h, value)) || !newer(&self.times, &key) {
                continue;
            }
            self.custom_fields.insert(id.clone(), value.clone());
            stamp(&mut self.times, &key);
            changed.push(key);
        }
        let lower = |tags: &[String]| -> Vec<String> {
            tags.iter().map(|t| t.trim().to_lowercase()).collect()
        };
        let (have, want) = (lower(&self.tags), lower(&incoming.tags));
        for tag in want.iter().filter(|t| !have.contains(t)) {
            let key = value_key::tag(tag);
            if newer(&self.times, &key) {
                self.tags.push(tag.clone());
                stamp(&mut self.times, &key);
                changed.push(key);
            }
        }
        for tag in have.iter().filter(|t| !want.contains(t)) {
            let key = value_key::tag(tag);
            if newer(&self.times, &key) {
                self.tags.retain(|t| !t.trim().eq_ignore_ascii_case(tag));
                stamp(&mut self.times, &key);
                changed.push(key);
            }
        }
        if incoming.deleted != self.deleted && at >= self.updated_at {
            self.deleted = incoming.deleted;
            changed.push("deleted".into());
        }
        self.times.decided.extend(decided.clone());
        self.updated_at = self.updated_at.max(at);
        changed
    }
}

/// A mirrored note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub note_id: NoteId,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Text.
    pub body: Option<String>,
    /// Time of the data.
    pub updated_at: Millis,
}

impl NoteMirror {
    /// From a Note* webhook.
    pub fn from_event(location_id: LocationId, e: &NoteEvent, updated_at: Millis) -> Option<Self> {
        Some(Self {
            location_id,
            note_id: e.id.clone()?,
            contact_id: e.contact_id.clone(),
            body: e.body.clone(),
            updated_at,
        })
    }
}

/// A mirrored opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub opportunity_id: OpportunityId,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Name.
    pub name: Option<String>,
    /// Pipeline.
    pub pipeline_id: Option<String>,
    /// Stage.
    pub stage_id: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Value.
    pub monetary_value: Option<f64>,
    /// The last full payload seen.
    pub payload: Value,
    /// Time of the data.
    pub updated_at: Millis,
}

impl OpportunityMirror {
    /// From an opportunity GHL returned (create, update, get).
    pub fn from_opportunity(
        location_id: LocationId,
        o: &ghl::opportunities::Opportunity,
        updated_at: Millis,
    ) -> Self {
        Self {
            location_id,
            opportunity_id: o.id.clone(),
            contact_id: o.contact_id.clone(),
            name: o.name.clone(),
            pipeline_id: o.pipeline_id.as_ref().map(ToString::to_string),
            stage_id: o.pipeline_stage_id.as_ref().map(ToString::to_string),
            status: o.status.map(|s| s.as_str().to_owned()),
            monetary_value: o.monetary_value,
            payload: serde_json::to_value(o).unwrap_or(Value::Null),
            updated_at,
        }
    }

    /// From an Opportunity* webhook.
    pub fn from_event(
        location_id: LocationId,
        e: &OpportunityEvent,
        updated_at: Millis,
    ) -> Option<Self> {
        Some(Self {
            location_id,
            opportunity_id: e.id.clone()?,
            contact_id: e.contact_id.clone(),
            name: e.name.clone(),
            pipeline_id: e.pipeline_id.as_ref().map(ToString::to_string),
            stage_id: e.pipeline_stage_id.as_ref().map(ToString::to_string),
            status: e.status.clone(),
            monetary_value: e.monetary_value,
            payload: serde_json::to_value(e).unwrap_or(Value::Null),
            updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(at: Millis, first: &str, tags: &[&str], score: i64) -> ContactMirror {
        ContactMirror {
            location_id: "L".into(),
            contact_id: "C".into(),
            email: Some("a@x.co".into()),
            phone: None,
            first_name: Some(first.into()),
            last_name: None,
            company_name: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            custom_fields: BTreeMap::from([("f1".to_owned(), json!(score))]),
            payload: json!({"firstName": first, "email": "a@x.co"}),
            updated_at: at,
            deleted: false,
            times: ValueTimes::default(),
        }
    }

    #[test]
    fn an_echo_changes_nothing_and_an_older_snapshot_cannot_undo_a_write() {
        // ghlsync wrote score 40 and tag vip at 100, decided by the app at 50.
        let written = BTreeMap::from([("custom:f1".to_owned(), 50), ("tag:vip".to_owned(), 50)]);
        let mut m = row(100, "Ana", &["vip"], 40).stamped(&written);
        assert_eq!(m.times.effective("custom:f1"), Some(50));
        assert_eq!(m.times.effective("field:firstName"), Some(100));
        // GHL's webhook about that write: the same values.
        let none = BTreeMap::new();
        assert!(m.absorb(&row(101, "Ana", &["vip"], 40), &none).is_empty());
        assert_eq!(m.times.effective("custom:f1"), Some(50), "kept");
        // A webhook of the moment before the tag call (no tag yet), sent at 99.
        assert!(m.absorb(&row(99, "Ana", &[], 40), &none).is_empty());
        assert_eq!(m.tags, vec!["vip"]);
    }

    #[test]
    fn ghlsyncs_write_keeps_its_decision_time_when_its_echo_came_first() {
        let none = BTreeMap::new();
        let mut m = row(100, "Ana", &[], 40).stamped(&none);
        // The echo of a write (score 41, tag vip) is folded in before the job commits.
        let echo = m.absorb(&row(150, "Ana", &["vip"], 41), &none);
        assert_eq!(echo, vec!["custom:f1", "tag:vip"]);
        assert_eq!(m.times.effective("custom:f1"), Some(150));
        // Then the job's answer, with when the application decided the values.
        let written = BTreeMap::from([("custom:f1".to_owned(), 120), ("tag:vip".to_owned(), 120)]);
        assert!(
            m.absorb(&row(160, "Ana", &["vip"], 41), &written)
                .is_empty()
        );
        assert_eq!(m.times.effective("custom:f1"), Some(120));
        assert_eq!(m.times.effective("tag:vip"), Some(120));
    }

    #[test]
    fn a_persons_edit_is_taken_value_by_value_with_its_time() {
        let all = BTreeMap::from([
            ("field:firstName".to_owned(), 50),
            ("custom:f1".to_owned(), 50),
            ("tag:vip".to_owned(), 50),
        ]);
        let mut m = row(100, "Ana", &["vip"], 40).stamped(&all);
        let none = BTreeMap::new();
        let changed = m.absorb(&row(200, "Anna", &["vip", "hot"], 40), &none);
        assert_eq!(changed, vec!["field:firstName", "tag:hot"]);
        assert_eq!(m.first_name.as_deref(), Some("Anna"));
        assert_eq!(m.payload["firstName"], "Anna");
        assert_eq!(m.times.effective("field:firstName"), Some(200));
        assert_eq!(m.times.effective("custom:f1"), Some(50), "untouched");
        // A removal is a change too.
        let changed = m.absorb(&row(300, "Anna", &["hot"], 40), &none);
        assert_eq!(changed, vec!["tag:vip"]);
        assert_eq!(m.tags, vec!["hot"]);
        assert_eq!(m.updated_at, 300);
    }
}
