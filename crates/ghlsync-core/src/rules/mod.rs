//! Declarative sync rules: what an application event does to the person's GHL contact.
//!
//! A rules file is TOML, a list of `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! name = "empresa: registro"
//! on = "user.registered"                 # or a list of event types
//! when = "data.role == 'empresa'"        # optional condition
//! add_tags = ["emp-nuevo-registro"]
//! remove_tags = []
//! set_fields = { companyName = "{{ data.company_name }}", tipo_de_usuario = "Empresa" }
//! score = "marketplace"                  # writes lead_score
//! status = "marketplace"                 # writes estado_del_contacto
//! note = "Registrado desde {{ profile.source }}"
//!
//! [rule.opportunity]                     # create | update | status
//! action = "create"
//! key = "project:{{ data.project_id }}"  # the app's id for it, kept in the id map
//! pipeline = "Proyectos"                 # by name; stage too
//! stage = "Publicado"
//! name = "{{ data.title }}"
//! value = "{{ data.budget }}"
//! ```
//!
//! `on` names application events (`user.registered`) or GHL webhooks about a contact
//! (`ContactUpdate`, `InboundMessage`, ...: [`GHL_TRIGGERS`]). A GHL webhook runs the rules
//! only when it changes something ghlsync did not write itself (echo suppression, done by
//! the processor), and `forward = true` sends it on to the application.
//!
//! Conditions are MiniJinja expressions and every string of an action is a MiniJinja
//! template, both over `event` (`type`, `source` = app or ghl, `id`, `subject`,
//! `occurred_at`, and for a GHL webhook `changes`), `data` (the app event's details or the
//! webhook's payload), `profile` (what ghlsync knows of the person after this event, with
//! `score`, `level`, `status` and seed 001's `lead`) and `contact` (`tags` of the GHL
//! contact as mirrored). A template that renders empty sets nothing; a `set_fields`
//! template that is one `{{ expression }}` keeps its type, so a number is sent as a number. Rules run in file order; a later rule's tag
//! change wins over an earlier one's, and within a rule removals apply before additions
//! (so `remove_tags = ["exp-nivel-global", "exp-nivel-pro"]` with `add_tags =
//! ["exp-nivel-{{ data.level }}"]` swaps the level). Field names that are GHL standard contact fields
//! (`firstName`, `companyName`, ...) set those; any other name is a custom field key,
//! resolved to each location's field id when the job is delivered.
//!
//! Everything is checked at load (unknown keys, unknown event types, condition and template
//! syntax) with `file:line` errors.

pub mod input;
pub mod packs;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app_event::AppEventType;
use crate::command::{OpportunityAction, OpportunitySync};
use crate::lead_score::{self, LeadInsight};
use crate::profile::Profile;
use crate::scoring::{self, LeadScore};
pub use input::{GHL_TRIGGERS, RuleInput, Trigger};

pub use crate::mirror::STANDARD_FIELDS;

/// A rule that could not be loaded, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RuleError {
    /// The file (or pack) name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A named score a rule can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scorer {
    /// Seed 000's lead score (0-100) into `lead_score`.
    Marketplace,
    /// Seed 001's scoring into `ai_score`, `score_confidence`, `lead_quality` and
    /// `recommended_action`.
    LeadScoring,
    /// Seed 001's re-scoring after a scheduled appointment into `updated_ai_score` and
    /// `churn_risk`.
    LeadRescoring,
}

/// A named status a rule can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Deriver {
    /// Seed 000's contact status into `estado_del_contacto`.
    Marketplace,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    on: OneOrMany,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    add_tags: Vec<String>,
    #[serde(default)]
    remove_tags: Vec<String>,
    #[serde(default)]
    set_fields: BTreeMap<String, String>,
    #[serde(default)]
    score: Option<Scorer>,
    #[serde(default)]
    status: Option<Deriver>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    opportunity: Option<OpportunityRule>,
    #[serde(default)]
    forward: bool,
    #[serde(default)]
    cloudtalk: Option<CloudTalkRule>,
}

/// A rule's CloudTalk action (seed 003's bridge): what to do to the CloudTalk twin of the
/// event's GHL contact. Every string is a template; tags keep their case, as CloudTalk
/// shows them.
///
/// ```toml
/// [rule.cloudtalk]
/// contact = true                       # find it (id map, number, email) or add it
/// add_tags = ["GHL-{{ bridge.status | upper }}"]
/// note = "[GHL Note] {{ bridge.note.body }}"
/// activity = { name = "Pipeline Stage Change", description = "...", type = "other" }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTalkRule {
    /// Make sure the contact exists in CloudTalk.
    #[serde(default)]
    pub contact: bool,
    /// Tags to add, keeping the contact's others.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// A note to add.
    #[serde(default)]
    pub note: Option<String>,
    /// An activity to add to the contact's timeline.
    #[serde(default)]
    pub activity: Option<ActivityRule>,
}

/// A CloudTalk activity of a rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityRule {
    /// Its name (template).
    pub name: String,
    /// Its text (template).
    #[serde(default)]
    pub description: Option<String>,
    /// CloudTalk's activity type.
    #[serde(rename = "type", default = "other_activity")]
    pub kind: cloudtalk::activities::ActivityType,
}

fn other_activity() -> cloudtalk::activities::ActivityType {
    cloudtalk::activities::ActivityType::Other
}

impl CloudTalkRule {
    fn templates(&self) -> impl Iterator<Item = (&'static str, &String)> {
        self.add_tags
            .iter()
            .map(|t| ("cloudtalk.add_tags", t))
            .chain(self.note.iter().map(|t| ("cloudtalk.note", t)))
            .chain(self.activity.iter().flat_map(|a| {
                std::iter::once(("cloudtalk.activity.name", &a.name)).chain(
                    a.description
                        .iter()
                        .map(|d| ("cloudtalk.activity.description", d)),
                )
            }))
    }

    fn is_empty(&self) -> bool {
        !self.contact && self.add_tags.is_empty() && self.note.is_none() && self.activity.is_none()
    }
}

/// What the rules decided for CloudTalk (seed 003's bridge).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CloudTalkOutcome {
    /// Make sure the contact exists.
    pub contact: bool,
    /// Tags to add.
    pub tags: Vec<String>,
    /// Notes to add.
    pub notes: Vec<String>,
    /// Activities to add.
    pub activities: Vec<crate::bridge::ActivitySpec>,
}

impl CloudTalkOutcome {
    /// True when nothing is asked of CloudTalk.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A rule's opportunity action: every string but `action` and `status` is a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpportunityRule {
    /// Create, update or status.
    pub action: OpportunityAction,
    /// The application's id for the opportunity.
    pub key: String,
    /// Pipeline name (required to create, and to move to a stage).
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Stage name.
    #[serde(default)]
    pub stage: Option<String>,
    /// Opportunity name (required to create).
    #[serde(default)]
    pub name: Option<String>,
    /// Monetary value; must render as a number (or empty).
    #[serde(default)]
    pub value: Option<String>,
    /// Status to set (the `status` action).
    #[serde(default)]
    pub status: Option<ghl::opportunities::OpportunityStatus>,
}

impl OpportunityRule {
    /// Its templates, named by key.
    fn templates(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            ("opportunity.key", Some(&self.key)),
            ("opportunity.pipeline", self.pipeline.as_ref()),
            ("opportunity.stage", self.stage.as_ref()),
            ("opportunity.name", self.name.as_ref()),
            ("opportunity.value", self.value.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, t)| Some((k, t?)))
    }

    /// What is missing for its action.
    fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        match self.action {
            OpportunityAction::Create => {
                if self.pipeline.is_none() {
                    out.push("opportunity: `create` needs `pipeline`");
                }
                if self.name.is_none() {
                    out.push("opportunity: `create` needs `name`");
                }
            }
            OpportunityAction::Update => {
                if self.stage.is_none() && self.name.is_none() && self.value.is_none() {
                    out.push("opportunity: `update` needs `stage`, `name` or `value`");
                }
            }
            OpportunityAction::Status => {
                if self.status.is_none() {
                    out.push("opportunity: `status` needs `status`");
                }
            }
        }
        if self.stage.is_some() && self.pipeline.is_none() {
            out.push("opportunity: a `stage` is found by name within `pipeline`, which is missing");
        }
        out
    }
}

/// One loaded rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// `file:line`.
    pub origin: String,
    /// The event types it runs on.
    pub on: Vec<Trigger>,
    /// Its condition.
    pub when: Option<String>,
    /// Tags to add (templates).
    pub add_tags: Vec<String>,
    /// Tags to remove (templates).
    pub remove_tags: Vec<String>,
    /// Fields to set (name → template).
    pub set_fields: BTreeMap<String, String>,
    /// A score to write.
    pub score: Option<Scorer>,
    /// A status to write.
    pub status: Option<Deriver>,
    /// A note to add (template).
    pub note: Option<String>,
    /// An opportunity to create or change.
    pub opportunity: Option<OpportunityRule>,
    /// Send the GHL event to the application (`[forward]` in the configuration).
    pub forward: bool,
    /// Change the contact's CloudTalk twin.
    pub cloudtalk: Option<CloudTalkRule>,
}

/// Loaded rules, in order, with their conditions and templates compiled once at load.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Every template, named `t:` and its source; every condition as the template
    /// `condition_template(when)`, named `c:` and the condition.
    env: Environment<'static>,
}

impl Default for RuleSet {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            env: environment(),
        }
    }
}

/// A condition as a template that renders `1` when it holds, so conditions are compiled
/// once at load like every other template.
fn condition_template(when: &str) -> String {
    format!("{{% if {when} %}}1{{% endif %}}")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // `data.company.name` on an event without `company` is empty, not an error: app
    // events carry optional details.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    // Template names carry their source, which may end in `.html`: never escape.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

impl RuleSet {
    /// Loads rule files in order: `(name, text)` pairs. Every error of every file is
    /// reported, each with its `file:line`.
    pub fn load(files: &[(&str, &str)]) -> Result<Self, Vec<RuleError>> {
        let mut env = environment();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for (file, text) in files {
            let raw: RawFile = match toml::from_str(text) {
                Ok(raw) => raw,
                Err(e) => {
                    errors.push(RuleError {
                        file: (*file).to_owned(),
                        line: e.span().map_or(1, |s| line_of(text, s.start)),
                        message: e.message().to_owned(),
                    });
                    continue;
                }
            };
            for spanned in raw.rule {
                let line = line_of(text, spanned.span().start);
                let err = |message: String| RuleError {
                    file: (*file).to_owned(),
                    line,
                    message,
                };
                match Self::check(&mut env, spanned.into_inner(), format!("{file}:{line}")) {
                    Ok(rule) => rules.push(rule),
                    Err(messages) => errors.extend(messages.into_iter().map(err)),
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { rules, env })
        } else {
            Err(errors)
        }
    }

    /// Validates one rule and compiles its condition and templates into `env`; every
    /// problem is reported.
    fn check(
        env: &mut Environment<'static>,
        raw: RawRule,
        origin: String,
    ) -> Result<Rule, Vec<String>> {
        let mut problems = Vec::new();
        let name = raw.name.trim().to_owned();
        if name.is_empty() {
            problems.push("the rule's name is empty".to_owned());
        }
        let types = match raw.on {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(ts) => ts,
        };
        if types.is_empty() {
            problems.push(format!("rule {name:?}: `on` names no event type"));
        }
        let mut on = Vec::new();
        for t in &types {
            if let Ok(app) = t.parse::<AppEventType>() {
                on.push(Trigger::App(app));
            } else if let Some(ghl) = Trigger::ghl(t) {
                on.push(ghl);
            } else if let Some(bridge) = Trigger::bridge(t) {
                on.push(bridge);
            } else if ghl::webhooks::WebhookEvent::KNOWN_TYPES.contains(&t.as_str()) {
                problems.push(format!(
                    "rule {name:?}: the GHL webhook {t} is about no contact; rules run on {}",
                    input::ghl_trigger_names()
                ));
            } else {
                problems.push(format!(
                    "rule {name:?}: unknown event type {t:?} in `on` (application events: {}; \
                     GHL webhooks: {}; bridge events: {})",
                    AppEventType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    input::ghl_trigger_names(),
                    crate::bridge::bridge_triggers()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if raw.forward && on.iter().any(|t| matches!(t, Trigger::App(_))) {
            problems.push(format!(
                "rule {name:?}: `forward` sends GHL events to the application; it cannot run \
                 on the application's own events"
            ));
        }
        if raw.cloudtalk.is_some()
            && on
                .iter()
                .any(|t| matches!(t, Trigger::App(_)) || t.is_cloudtalk())
        {
            problems.push(format!(
                "rule {name:?}: `cloudtalk` changes the CloudTalk twin of a GHL contact; it runs \
                 on GHL events only"
            ));
        }
        if let Some(when) = &raw.when {
            // Checked as an expression for its error message, stored as a template.
            if let Err(e) = env.compile_expression(when) {
                problems.push(format!("rule {name:?}: condition {when:?}: {e}"));
            } else if let Err(e) =
                env.add_template_owned(format!("c:{when}"), condition_template(when))
            {
                problems.push(format!("rule {name:?}: condition {when:?}: {e}"));
            }
        }
        let templates = raw
            .add_tags
            .iter()
            .map(|t| ("add_tags", t))
            .chain(raw.remove_tags.iter().map(|t| ("remove_tags", t)))
            .chain(raw.set_fields.values().map(|t| ("set_fields", t)))
            .chain(raw.note.iter().map(|t| ("note", t)))
            .chain(raw.opportunity.iter().flat_map(OpportunityRule::templates))
            .chain(raw.cloudtalk.iter().flat_map(CloudTalkRule::templates));
        for (key, template) in templates {
            if let Err(e) = env.add_template_owned(format!("t:{template}"), template.clone()) {
                problems.push(format!("rule {name:?}: {key} template {template:?}: {e}"));
            }
        }
        let cloudtalk_tags = raw.cloudtalk.iter().flat_map(|c| c.add_tags.iter());
        for template in raw.set_fields.values().chain(cloudtalk_tags) {
            if let Some(expr) = single_expression(template)
                && let Err(e) = env.compile_expression(expr)
            {
                problems.push(format!("rule {name:?}: set_fields {template:?}: {e}"));
            }
        }
        if raw.add_tags.is_empty()
            && raw.remove_tags.is_empty()
            && raw.set_fields.is_empty()
            && raw.score.is_none()
            && raw.status.is_none()
            && raw.note.is_none()
            && raw.opportunity.is_none()
            && !raw.forward
            && raw.cloudtalk.as_ref().is_none_or(CloudTalkRule::is_empty)
        {
            problems.push(format!("rule {name:?} has no action"));
        }
        for p in raw.opportunity.iter().flat_map(OpportunityRule::problems) {
            problems.push(format!("rule {name:?}: {p}"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Rule {
            name,
            origin,
            on,
            when: raw.when,
            add_tags: raw.add_tags,
            remove_tags: raw.remove_tags,
            set_fields: raw.set_fields,
            score: raw.score,
            status: raw.status,
            note: raw.note,
            opportunity: raw.opportunity,
            forward: raw.forward,
            cloudtalk: raw.cloudtalk,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// True when some rule runs on this GHL webhook type.
    pub fn listens_to(&self, ghl_type: &str) -> bool {
        self.rules.iter().any(|r| {
            r.on.iter()
                .any(|t| matches!(t, Trigger::Ghl(g) if *g == ghl_type))
        })
    }

    /// True when some rule runs on this trigger.
    pub fn listens_to_trigger(&self, trigger: Trigger) -> bool {
        self.rules.iter().any(|r| r.on.contains(&trigger))
    }

    /// True when some rule forwards events to the application.
    pub fn forwards(&self) -> bool {
        self.rules.iter().any(|r| r.forward)
    }

    /// What the rules do for `event` (an application event or a GHL webhook), given the
    /// person's profile after the event and the contact's current tags. Pure: nothing is
    /// called, nothing is stored.
    pub fn evaluate(
        &self,
        event: impl Into<RuleInput>,
        profile: &Profile,
        contact_tags: &[String],
    ) -> Result<Outcome, EvalError> {
        let event: RuleInput = event.into();
        let env = &self.env;
        let score = scoring::marketplace_score(profile, event.occurred_at);
        let lead = lead_score::lead_insight(profile);
        let (status, status_why) = scoring::marketplace_status(profile);
        let mut profile_value = serde_json::to_value(profile).unwrap_or(Value::Null);
        if let Value::Object(p) = &mut profile_value {
            p.insert("score".into(), json!(score.score));
            p.insert("level".into(), json!(score.level));
            p.insert("status".into(), json!(status));
            p.insert(
                "completed_projects".into(),
                json!(profile.completed_projects()),
            );
            p.insert(
                "lead".into(),
                json!({
                    "score": lead.score,
                    "confidence": lead.confidence,
                    "quality": lead.quality,
                    "recommended_action": lead.recommended_action,
                    "churn_risk": lead.churn_risk,
                }),
            );
        }
        let context = minijinja::Value::from(minijinja::value::Serde(json!({
            "event": {
                "type": event.trigger.as_str(),
                "source": event.trigger.source(),
                "id": event.id,
                "subject": event.subject,
                "occurred_at": crate::time::format_rfc3339_ms(event.occurred_at),
                "changes": event.changes,
            },
            "data": event.data,
            "bridge": event.bridge,
            "profile": profile_value,
            "contact": {"tags": contact_tags},
        })));
        let mut out = Outcome::default();
        for rule in self.rules.iter().filter(|r| r.on.contains(&event.trigger)) {
            let fail = |what: &str, e: minijinja::Error| EvalError {
                rule: rule.name.clone(),
                origin: rule.origin.clone(),
                message: format!("{what}: {e}"),
            };
            if let Some(when) = &rule.when {
                let holds = env
                    .get_template(&format!("c:{when}"))
                    .and_then(|t| t.render(&context))
                    .map_err(|e| fail("condition", e))?
                    == "1";
                if !holds {
                    out.skipped.push(Skipped {
                        rule: rule.name.clone(),
                        origin: rule.origin.clone(),
                        reason: format!("condition {when:?} is false"),
                    });
                    continue;
                }
            }
            let render = |t: &str| -> Result<Option<String>, EvalError> {
                let s = env
                    .get_template(&format!("t:{t}"))
                    .and_then(|template| template.render(&context))
                    .map_err(|e| fail(t, e))?;
                let s = s.trim();
                Ok((!s.is_empty()).then(|| s.to_owned()))
            };
            let mut effects = Vec::new();
            for t in &rule.remove_tags {
                if let Some(tag) = render(t)? {
                    let tag = tag.to_lowercase();
                    out.add_tags.remove(&tag);
                    out.tag_reasons.remove(&tag);
                    out.removal_reasons.insert(tag.clone(), rule.name.clone());
                    effects.push(format!("remove tag {tag}"));
                    out.remove_tags.insert(tag);
                }
            }
            for t in &rule.add_tags {
                if let Some(tag) = render(t)? {
                    let tag = tag.to_lowercase();
                    out.remove_tags.remove(&tag);
                    out.removal_reasons.remove(&tag);
                    out.tag_reasons.insert(tag.clone(), rule.name.clone());
                    effects.push(format!("add tag {tag}"));
                    out.add_tags.insert(tag);
                }
            }
            for (field, t) in &rule.set_fields {
                // `{{ expression }}` alone keeps the expression's type (a number stays a
                // number); any other template is text.
                let value = match single_expression(t) {
                    Some(expr) => env
                        .compile_expression(expr)
                        .and_then(|e| e.eval(&context))
                        .map(|v| typed(&v))
                        .map_err(|e| fail(t, e))?,
                    None => render(t)?.map(Value::String),
                };
                if let Some(value) = value {
                    effects.push(format!("set {field} = {value}"));
                    out.set_field(field, value);
                }
            }
            match rule.score {
                Some(Scorer::Marketplace) => {
                    effects.push(format!(
                        "set lead_score = {} (level {})",
                        score.score, score.level
                    ));
                    out.set_field("lead_score", json!(score.score));
                    out.score = Some(score.clone());
                }
                Some(Scorer::LeadScoring) => {
                    effects.push(format!(
                        "set ai_score = {}, score_confidence = {}, lead_quality = {:?}, \
                         recommended_action = {:?}",
                        lead.score, lead.confidence, lead.quality, lead.recommended_action
                    ));
                    out.set_field("ai_score", json!(lead.score));
                    out.set_field("score_confidence", json!(lead.confidence));
                    out.set_field("lead_quality", json!(lead.quality));
                    out.set_field("recommended_action", json!(lead.recommended_action));
                    out.lead = Some(lead.clone());
                }
                Some(Scorer::LeadRescoring) => {
                    effects.push(format!(
                        "set updated_ai_score = {}, churn_risk = {}",
                        lead.score, lead.churn_risk
                    ));
                    out.set_field("updated_ai_score", json!(lead.score));
                    out.set_field("churn_risk", json!(lead.churn_risk));
                    out.lead = Some(lead.clone());
                }
                None => {}
            }
            if let Some(Deriver::Marketplace) = rule.status {
                effects.push(format!(
                    "set estado_del_contacto = {status:?} ({status_why})"
                ));
                out.set_field("estado_del_contacto", json!(status));
            }
            if let Some(t) = &rule.note
                && let Some(note) = render(t)?
            {
                effects.push(format!("add note {note:?}"));
                out.notes.push(note);
            }
            if let Some(o) = &rule.opportunity {
                let key = render(&o.key)?.ok_or_else(|| EvalError {
                    rule: rule.name.clone(),
                    origin: rule.origin.clone(),
                    message: "opportunity: `key` rendered empty".into(),
                })?;
                let optional = |t: &Option<String>| t.as_deref().map(&render).transpose();
                let value = match optional(&o.value)?.flatten() {
                    None => None,
                    Some(v) => Some(v.parse::<f64>().map_err(|_| EvalError {
                        rule: rule.name.clone(),
                        origin: rule.origin.clone(),
                        message: format!("opportunity: `value` rendered {v:?}, not a number"),
                    })?),
                };
                let change = OpportunitySync {
                    action: o.action,
                    key,
                    pipeline: optional(&o.pipeline)?.flatten(),
                    stage: optional(&o.stage)?.flatten(),
                    name: optional(&o.name)?.flatten(),
                    value,
                    status: o.status,
                };
                effects.push(format!("opportunity {}", describe(&change)));
                out.opportunities.push(change);
            }
            if rule.forward {
                effects.push("forward the event to the application".into());
                out.forward = true;
            }
            if let Some(ct) = &rule.cloudtalk {
                if ct.contact && !out.cloudtalk.contact {
                    effects.push("cloudtalk: find or add the contact".into());
                    out.cloudtalk.contact = true;
                }
                for t in &ct.add_tags {
                    // `{{ bridge.tags_added }}` alone adds every tag of the list.
                    let tags = match single_expression(t).map(|expr| {
                        env.compile_expression(expr)
                            .and_then(|e| e.eval(&context))
                            .map(|v| typed(&v))
                            .map_err(|e| fail(t, e))
                    }) {
                        Some(value) => match value? {
                            Some(Value::Array(items)) => items
                                .iter()
                                .filter_map(|i| match i {
                                    Value::String(s) => {
                                        Some(s.trim().to_owned()).filter(|s| !s.is_empty())
                                    }
                                    Value::Null => None,
                                    other => Some(other.to_string()),
                                })
                                .collect(),
                            Some(Value::String(s)) => vec![s],
                            Some(other) => vec![other.to_string()],
                            None => Vec::new(),
                        },
                        None => render(t)?.into_iter().collect(),
                    };
                    for tag in tags {
                        if !out.cloudtalk.tags.contains(&tag) {
                            effects.push(format!("cloudtalk: add tag {tag}"));
                            out.cloudtalk.tags.push(tag);
                        }
                    }
                }
                if let Some(t) = &ct.note
                    && let Some(note) = render(t)?
                {
                    effects.push(format!("cloudtalk: add note {note:?}"));
                    out.cloudtalk.notes.push(note);
                }
                if let Some(a) = &ct.activity
                    && let Some(name) = render(&a.name)?
                {
                    let description = a.description.as_deref().map(&render).transpose()?.flatten();
                    effects.push(format!(
                        "cloudtalk: add activity {name:?}{}",
                        description
                            .as_ref()
                            .map(|d| format!(" ({d:?})"))
                            .unwrap_or_default()
                    ));
                    out.cloudtalk.activities.push(crate::bridge::ActivitySpec {
                        name,
                        description,
                        kind: a.kind,
                    });
                }
            }
            out.matched.push(Matched {
                rule: rule.name.clone(),
                origin: rule.origin.clone(),
                effects,
            });
        }
        Ok(out)
    }
}

/// A rule failed while running (a template error the load-time check could not see).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?} ({origin}): {message}")]
pub struct EvalError {
    /// The rule.
    pub rule: String,
    /// `file:line`.
    pub origin: String,
    /// What failed.
    pub message: String,
}

/// A rule that ran, and what it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matched {
    /// The rule.
    pub rule: String,
    /// `file:line`.
    pub origin: String,
    /// What it did, in words.
    pub effects: Vec<String>,
}

/// A rule on this event type whose condition was false.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skipped {
    /// The rule.
    pub rule: String,
    /// `file:line`.
    pub origin: String,
    /// Why it did nothing.
    pub reason: String,
}

/// What the rules decided for one event.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Outcome {
    /// Rules that ran.
    pub matched: Vec<Matched>,
    /// Rules whose condition was false.
    pub skipped: Vec<Skipped>,
    /// Tags to add, lower case.
    pub add_tags: BTreeSet<String>,
    /// Tags to remove, lower case.
    pub remove_tags: BTreeSet<String>,
    /// The rule that added each tag.
    pub tag_reasons: BTreeMap<String, String>,
    /// The rule that removed each tag.
    pub removal_reasons: BTreeMap<String, String>,
    /// Standard GHL fields to set.
    pub fields: BTreeMap<String, Value>,
    /// Custom fields to set, by key.
    pub custom_fields: BTreeMap<String, Value>,
    /// Notes to add.
    pub notes: Vec<String>,
    /// Opportunities to create or change.
    pub opportunities: Vec<OpportunitySync>,
    /// The lead score, when a rule wrote it.
    pub score: Option<LeadScore>,
    /// Seed 001's lead scoring, when a rule wrote it.
    pub lead: Option<LeadInsight>,
    /// Send the event to the application.
    pub forward: bool,
    /// What changes in CloudTalk.
    pub cloudtalk: CloudTalkOutcome,
}

/// The expression of a template that is one `{{ expression }}` and nothing else.
fn single_expression(template: &str) -> Option<&str> {
    let inner = template.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then(|| {
        inner
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim()
    })
}

/// A template value as JSON; empty text, none and undefined set nothing.
fn typed(v: &minijinja::Value) -> Option<Value> {
    if v.is_undefined() || v.is_none() {
        return None;
    }
    match serde_json::to_value(v).ok()? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(Value::String(s.trim().to_owned())),
        other => Some(other),
    }
}

/// An opportunity change in words, for `explain`.
fn describe(o: &OpportunitySync) -> String {
    let action = format!("{:?}", o.action).to_lowercase();
    let mut out = format!("{action} {}", o.key);
    for (what, v) in [
        ("pipeline", &o.pipeline),
        ("stage", &o.stage),
        ("name", &o.name),
    ] {
        if let Some(v) = v {
            out.push_str(&format!(" {what} {v:?}"));
        }
    }
    if let Some(v) = o.value {
        out.push_str(&format!(" value {v}"));
    }
    if let Some(s) = o.status {
        out.push_str(&format!(" status {}", s.as_str()));
    }
    out
}

impl Outcome {
    fn set_field(&mut self, name: &str, value: Value) {
        if STANDARD_FIELDS.contains(&name) {
            self.fields.insert(name.to_owned(), value);
        } else {
            self.custom_fields.insert(name.to_owned(), value);
        }
    }

    /// True when some rule changes something in GHL (a contact, a note, an opportunity).
    pub fn changes_ghl(&self) -> bool {
        !(self.add_tags.is_empty()
            && self.remove_tags.is_empty()
            && self.fields.is_empty()
            && self.custom_fields.is_empty()
            && self.notes.is_empty()
            && self.opportunities.is_empty())
    }

    /// True when no rule does anything.
    pub fn is_empty(&self) -> bool {
        !self.changes_ghl() && !self.forward && self.cloudtalk.is_empty()
    }
}

impl fmt::Display for Outcome {
    /// The explanation `ghlsync rules explain` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.matched.is_empty() {
            writeln!(f, "no rule applies")?;
        }
        for m in &self.matched {
            writeln!(f, "rule {:?} ({}):", m.rule, m.origin)?;
            for e in &m.effects {
                writeln!(f, "  {e}")?;
            }
        }
        for s in &self.skipped {
            writeln!(f, "skipped {:?} ({}): {}", s.rule, s.origin, s.reason)?;
        }
        if let Some(lead) = &self.lead {
            writeln!(
                f,
                "lead score {} ({}, confidence {}, churn risk {}) → {}:",
                lead.score, lead.quality, lead.confidence, lead.churn_risk, lead.recommended_action
            )?;
            for c in &lead.components {
                writeln!(
                    f,
                    "  {:<22} {:>5.1} of {:>4.0}  {}",
                    c.name, c.points, c.weight, c.why
                )?;
            }
        }
        if let Some(score) = &self.score {
            writeln!(f, "lead score {} → level {}:", score.score, score.level)?;
            for c in &score.components {
                writeln!(
                    f,
                    "  {:<22} {:>5.1} of {:>4.0}  {}",
                    c.name, c.points, c.weight, c.why
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
