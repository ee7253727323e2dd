//! What ghlsync knows of one person of the application: built from the app's events, one
//! event at a time, and the input of the rules, the lead score and the contact status.
//!
//! It is kept per location and subject (the app's user id), so later events that carry
//! no email (a deletion, a review) still reach the same GHL contact.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::app_event::{AppEvent, AppEventType};
use crate::rules::input::{RuleInput, Trigger};

/// Where a user stands with the platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// Registered and active.
    #[default]
    Active,
    /// Deactivated.
    Inactive,
    /// Asked to leave.
    Unsubscribed,
    /// Leaving confirmed.
    UnsubscribeConfirmed,
    /// Deleted for good.
    Deleted,
}

/// A company's project, by the last event about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectState {
    /// Drafted.
    Draft,
    /// Sent to validation.
    Validation,
    /// Published, waiting for an expert.
    Published,
    /// An expert is assigned.
    Assigned,
    /// Under way.
    Started,
    /// Done.
    Completed,
}

/// One person, as the app's events describe them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The app's id.
    pub subject: String,
    /// `empresa`, `experto`, in the order they came.
    pub roles: Vec<String>,
    /// Email GHL matches on.
    pub email: Option<String>,
    /// Phone GHL matches on.
    pub phone: Option<String>,
    /// Profile fields the app sent at registration or when a role was added (company name,
    /// main area, ...), the newest value of each.
    pub fields: BTreeMap<String, Value>,
    /// Where the user came from (`ads`, `linkedin`, `referral`, `web`).
    pub source: Option<String>,
    /// Expert verification step.
    pub verification: Option<String>,
    /// Expert level.
    pub level: Option<String>,
    /// Platform state.
    pub state: UserState,
    /// Marked for a new contact attempt.
    pub recontact: bool,
    /// Projects by id.
    pub projects: BTreeMap<String, ProjectState>,
    /// Milestones still open, when the app reports them (`data.pending_milestones`).
    pub pending_milestones: u32,
    /// Projects the expert was invited to, proposed for, or assigned.
    pub invitations: BTreeSet<String>,
    /// Proposals sent.
    pub proposals: BTreeSet<String>,
    /// Assignments.
    pub assignments: BTreeSet<String>,
    /// Reviews received.
    pub reviews: u32,
    /// Sum of their ratings (1 to 5 each).
    pub rating_sum: f64,
    /// Interactions of seed 001, by event type (`appointment.missed`: 2).
    pub interactions: BTreeMap<String, u32>,
    /// Deals won and lost, with their values.
    pub won: u32,
    /// Deals lost.
    pub lost: u32,
    /// Value of the deals won.
    pub won_value: f64,
    /// When the first event about the person happened.
    pub registered_at: Option<Millis>,
    /// The newest event about the person.
    pub last_activity_at: Option<Millis>,
    /// What the rules have set on the person's GHL contact, and why.
    #[serde(default)]
    pub intent: crate::intent::Intent,
}

impl Profile {
    /// A profile seen for the first time.
    pub fn new(subject: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            ..Self::default()
        }
    }

    /// What GHL matches the person's contact on: the email, else the phone. Contact jobs
    /// are ordered by it (`contact:<key>`).
    pub fn contact_key(&self) -> Option<String> {
        self.email.clone().or_else(|| self.phone.clone())
    }

    /// True when the person has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Completed projects.
    pub fn completed_projects(&self) -> usize {
        self.projects
            .values()
            .filter(|s| **s == ProjectState::Completed)
            .count()
    }

    /// Projects in a state.
    pub fn projects_in(&self, state: ProjectState) -> usize {
        self.projects.values().filter(|s| **s == state).count()
    }

    /// Mean rating, when there are reviews.
    pub fn average_rating(&self) -> Option<f64> {
        (self.reviews > 0).then(|| self.rating_sum / f64::from(self.reviews))
    }

    /// Takes an event in. Events may arrive out of order; times only move forward.
    pub fn apply(&mut self, event: &AppEvent) {
        use AppEventType as T;
        let at = event.occurred_at;
        self.registered_at = Some(self.registered_at.map_or(at, |r| r.min(at)));
        self.last_activity_at = Some(self.last_activity_at.map_or(at, |l| l.max(at)));
        let project = event.text("project_id").map(str::to_owned);
        let mut set_project = |state: ProjectState| {
            if let Some(id) = &project {
                self.projects.insert(id.clone(), state);
            }
        };
        match event.event_type {
            T::UserRegistered | T::RoleAdded => {
                if let Some(role) = event.text("role")
                    && !self.has_role(role)
                {
                    self.roles.push(role.to_owned());
                }
                if event.event_type == T::UserRegistered {
                    self.state = UserState::Active;
                }
                if let Some(email) = event.text("email") {
                    self.email = Some(email.to_lowercase());
                }
                if let Some(phone) = event.text("phone") {
                    self.phone = Some(phone.to_owned());
                }
                if let Some(source) = event.text("source") {
                    self.source = Some(source.to_owned());
                }
                if self.has_role("experto") && self.verification.is_none() {
                    self.verification = Some("solicitud".into());
                }
                for (k, v) in &event.data {
                    if !matches!(k.as_str(), "role" | "email" | "phone" | "source") && !v.is_null()
                    {
                        self.fields.insert(k.clone(), v.clone());
                    }
                }
            }
            T::ExpertVerificationChanged => {
                self.verification = event.text("status").map(str::to_owned);
            }
            T::ExpertLevelChanged => self.level = event.text("level").map(str::to_owned),
            T::UserDeactivated => self.state = UserState::Inactive,
            T::UserReactivated => {
                self.state = UserState::Active;
                self.recontact = false;
            }
            T::UserRecontact => self.recontact = true,
            T::UserUnsubscribed => self.state = UserState::Unsubscribed,
            T::UserUnsubscribeConfirmed => self.state = UserState::UnsubscribeConfirmed,
            T::UserDeleted => self.state = UserState::Deleted,
            T::ProjectDraftCreated => set_project(ProjectState::Draft),
            T::ProjectSentToValidation => set_project(ProjectState::Validation),
            T::ProjectPublished => set_project(ProjectState::Published),
            T::ProjectStarted => set_project(ProjectState::Started),
            T::ProjectCompleted => set_project(ProjectState::Completed),
            T::ExpertInvited => {
                self.invitations.extend(project);
            }
            T::ProposalSent => {
                self.proposals.extend(project);
            }
            T::ExpertAssigned => {
                self.assignments.extend(project);
            }
            T::ReviewAdded => {
                if let Some(rating) = event.data.get("rating").and_then(Value::as_f64) {
                    self.reviews += 1;
                    self.rating_sum += rating;
                }
            }
            T::OpportunityWon => {
                self.won += 1;
                self.won_value += ["value", "final_price"]
                    .iter()
                    .find_map(|k| event.data.get(*k).and_then(Value::as_f64))
                    .unwrap_or(0.0);
            }
            T::OpportunityLost => self.lost += 1,
            T::Activity
            | T::AppointmentScheduled
            | T::AppointmentCompleted
            | T::AppointmentMissed
            | T::MessageReceived
            | T::MessageSent
            | T::CampaignOpened
            | T::CampaignClicked => {}
        }
        if let Some(n) = event.data.get("pending_milestones").and_then(Value::as_u64) {
            self.pending_milestones = u32::try_from(n).unwrap_or(u32::MAX);
        }
        *self
            .interactions
            .entry(event.event_type.as_str().to_owned())
            .or_default() += 1;
    }
}

impl Profile {
    /// Takes in a GHL webhook about the person's contact: one interaction of its type and,
    /// from a contact webhook, the email, phone, name and source. For a person the app sent
    /// (`subject` not `ghl:`), what the app said is kept and GHL's value only fills a gap;
    /// for a contact known only from GHL, GHL's newest value is taken.
    pub fn apply_ghl(&mut self, input: &RuleInput) {
        let at = input.occurred_at;
        self.registered_at = Some(self.registered_at.map_or(at, |r| r.min(at)));
        self.last_activity_at = Some(self.last_activity_at.map_or(at, |l| l.max(at)));
        let ghl_only = self.subject.starts_with("ghl:");
        let text = |k: &str| {
            input
                .data
                .get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        if let Trigger::Ghl(t) = input.trigger
            && t.starts_with("Contact")
        {
            let take = |have: &Option<String>| ghl_only || have.is_none();
            if let Some(email) = text("email")
                && take(&self.email)
            {
                self.email = Some(email.to_lowercase());
            }
            if let Some(phone) = text("phone")
                && take(&self.phone)
            {
                self.phone = Some(phone.to_owned());
            }
            if let Some(source) = text("source")
                && take(&self.source)
            {
                self.source = Some(source.to_owned());
            }
            for key in ["firstName", "lastName", "companyName"] {
                if let Some(v) = text(key)
                    && (ghl_only || !self.fields.contains_key(key))
                {
                    self.fields
                        .insert(key.to_owned(), Value::String(v.to_owned()));
                }
            }
            if t == "ContactDelete" && ghl_only {
                self.state = UserState::Deleted;
            }
        }
        *self
            .interactions
            .entry(input.trigger.as_str().to_owned())
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn event(t: &str, at: &str, data: Value) -> AppEvent {
        AppEvent::from_json(&json!({
            "type": t, "id": format!("{t}-{at}"), "occurred_at": at, "subject": "u1", "data": data
        }))
        .unwrap()
    }

    #[test]
    fn roles_accumulate_in_order_and_fields_are_kept() {
        let mut p = Profile::new("u1");
        p.apply(&event(
            "user.registered",
            "2026-01-01T00:00:00Z",
            json!({"role": "empresa", "email": "Ana@Acme.es", "company_name": "Acme"}),
        ));
        p.apply(&event(
            "user.role_added",
            "2026-02-01T00:00:00Z",
            json!({"role": "experto", "main_area": "IA"}),
        ));
        p.apply(&event(
            "user.role_added",
            "2026-02-02T00:00:00Z",
            json!({"role": "experto"}),
        ));
        assert_eq!(p.roles, ["empresa", "experto"]);
        assert_eq!(p.email.as_deref(), Some("ana@acme.es"));
        assert_eq!(p.fields["company_name"], "Acme");
        assert_eq!(p.fields["main_area"], "IA");
        assert_eq!(
            p.verification.as_deref(),
            Some("solicitud"),
            "a new expert applies"
        );
        assert_eq!(
            p.registered_at,
            crate::time::parse_rfc3339_ms("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn projects_reviews_and_states() {
        let mut p = Profile::new("u1");
        p.apply(&event(
            "project.published",
            "2026-01-01T00:00:00Z",
            json!({"project_id": "p1"}),
        ));
        p.apply(&event(
            "project.completed",
            "2026-01-02T00:00:00Z",
            json!({"project_id": "p1"}),
        ));
        p.apply(&event(
            "project.started",
            "2026-01-03T00:00:00Z",
            json!({"project_id": "p2", "pending_milestones": 2}),
        ));
        p.apply(&event(
            "review.added",
            "2026-01-04T00:00:00Z",
            json!({"rating": 4}),
        ));
        p.apply(&event(
            "review.added",
            "2026-01-05T00:00:00Z",
            json!({"rating": 5}),
        ));
        assert_eq!(p.completed_projects(), 1);
        assert_eq!(p.projects_in(ProjectState::Started), 1);
        assert_eq!(p.pending_milestones, 2);
        assert_eq!(p.average_rating(), Some(4.5));
        p.apply(&event("user.deleted", "2026-01-06T00:00:00Z", json!({})));
        assert_eq!(p.state, UserState::Deleted);
        // An older event arriving late does not move the activity time back.
        p.apply(&event("user.activity", "2025-12-01T00:00:00Z", json!({})));
        assert_eq!(
            p.last_activity_at,
            crate::time::parse_rfc3339_ms("2026-01-06T00:00:00Z")
        );
        assert_eq!(
            p.registered_at,
            crate::time::parse_rfc3339_ms("2025-12-01T00:00:00Z")
        );
    }
}
