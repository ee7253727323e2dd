//! What the rules have set on a person's GHL contact, and why: every tag with the rule and
//! event that added (or removed) it, and the last value of every field. Kept with the
//! person's profile, it is what a forced resync pushes and what a diagnosis compares with
//! the live contact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::command::ContactSync;
use crate::profile::Profile;
use crate::rules::{Outcome, RuleInput};

/// The rule and event behind a tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The rule's name.
    pub rule: String,
    /// The event's id (the app's idempotency key).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// When the event happened.
    pub occurred_at: Millis,
}

/// The contact as the rules want it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Tags the rules added and did not remove since.
    pub tags: BTreeMap<String, Origin>,
    /// Tags the rules removed and did not add since.
    pub removed_tags: BTreeMap<String, Origin>,
    /// Standard fields, last value.
    pub fields: BTreeMap<String, Value>,
    /// Custom fields by key, last value.
    pub custom_fields: BTreeMap<String, Value>,
}

impl Intent {
    /// Takes in what the rules decided for one event.
    pub fn apply(&mut self, event: &RuleInput, outcome: &Outcome) {
        let origin = |rule: &String| Origin {
            rule: rule.clone(),
            event_id: event.id.clone(),
            event_type: event.trigger.as_str().to_owned(),
            occurred_at: event.occurred_at,
        };
        for tag in &outcome.remove_tags {
            self.tags.remove(tag);
            if let Some(rule) = outcome.removal_reasons.get(tag) {
                self.removed_tags.insert(tag.clone(), origin(rule));
            }
        }
        for tag in &outcome.add_tags {
            self.removed_tags.remove(tag);
            if let Some(rule) = outcome.tag_reasons.get(tag) {
                self.tags.insert(tag.clone(), origin(rule));
            }
        }
        self.fields.extend(outcome.fields.clone());
        self.custom_fields.extend(outcome.custom_fields.clone());
    }

    /// Everything, to be sent whole (a forced resync); `None` when neither an email nor a
    /// phone is known, since GHL matches on those.
    pub fn full_sync(&self, profile: &Profile) -> Option<ContactSync> {
        if profile.email.is_none() && profile.phone.is_none() {
            return None;
        }
        Some(ContactSync {
            subject: Some(profile.subject.clone()),
            email: profile.email.clone(),
            phone: profile.phone.clone(),
            fields: self.fields.clone(),
            custom_fields: self.custom_fields.clone(),
            add_tags: self.tags.keys().cloned().collect(),
            remove_tags: self.removed_tags.keys().cloned().collect(),
            full: true,
            // A forced push: no value is held back for being older than GHL's.
            decided_at: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_event::AppEvent;
    use crate::rules::RuleSet;
    use crate::rules::packs::Pack;
    use serde_json::json;

    fn event(id: &str, t: &str, data: Value) -> AppEvent {
        AppEvent::from_json(&json!({
            "type": t, "id": id, "occurred_at": "2026-11-21T10:00:00Z", "subject": "u1",
            "data": data
        }))
        .unwrap()
    }

    #[test]
    fn every_tag_keeps_the_rule_and_event_that_set_it_and_a_resync_sends_everything() {
        let rules = RuleSet::load(&[("pack:marketplace", Pack::Marketplace.source())]).unwrap();
        let mut profile = Profile::new("u1");
        for e in [
            event(
                "e1",
                "user.registered",
                json!({"role": "experto", "email": "a@x.co"}),
            ),
            event(
                "e2",
                "expert.verification_changed",
                json!({"status": "solicitud"}),
            ),
            event(
                "e3",
                "expert.verification_changed",
                json!({"status": "verificado"}),
            ),
        ] {
            profile.apply(&e);
            let outcome = rules.evaluate(&e, &profile, &[]).unwrap();
            let mut intent = std::mem::take(&mut profile.intent);
            intent.apply(&(&e).into(), &outcome);
            profile.intent = intent;
        }
        let intent = &profile.intent;
        assert_eq!(intent.tags["exp-verificado"].event_id, "e3");
        assert_eq!(intent.tags["exp-verificado"].rule, "experto: verificado");
        assert!(!intent.tags.contains_key("exp-solicitud"));
        assert_eq!(intent.removed_tags["exp-solicitud"].event_id, "e3");
        assert_eq!(intent.custom_fields["tipo_de_usuario"], "Experto");
        let sync = intent.full_sync(&profile).unwrap();
        assert!(sync.full);
        assert!(sync.add_tags.contains(&"exp-verificado".to_owned()));
        assert!(sync.remove_tags.contains(&"exp-solicitud".to_owned()));
        assert_eq!(sync.email.as_deref(), Some("a@x.co"));
        assert!(
            Intent::default()
                .full_sync(&Profile::new("nobody"))
                .is_none()
        );
    }
}
