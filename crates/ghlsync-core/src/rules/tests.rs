use crate::AppEvent;
use serde_json::{Value, json};

use super::packs::Pack;
use super::*;

fn marketplace() -> RuleSet {
    RuleSet::load(&[("pack:marketplace", Pack::Marketplace.source())]).unwrap()
}

fn event(t: &str, at: &str, data: Value) -> AppEvent {
    AppEvent::from_json(&json!({
        "type": t, "id": format!("{t}@{at}"), "occurred_at": at, "subject": "u1", "data": data
    }))
    .unwrap()
}

/// Runs events through a profile and the rules, as processing does, and returns the tags
/// the contact ends with and the fields last set.
fn run(
    rules: &RuleSet,
    events: &[AppEvent],
) -> (BTreeSet<String>, BTreeMap<String, Value>, Outcome) {
    let mut profile = Profile::new("u1");
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut fields = BTreeMap::new();
    let mut last = Outcome::default();
    for e in events {
        profile.apply(e);
        let current: Vec<String> = tags.iter().cloned().collect();
        last = rules.evaluate(e, &profile, &current).unwrap();
        tags.extend(last.add_tags.iter().cloned());
        tags.retain(|t| !last.remove_tags.contains(t));
        fields.extend(last.fields.clone());
        fields.extend(last.custom_fields.clone());
    }
    (tags, fields, last)
}

#[test]
fn the_marketplace_pack_loads() {
    let rules = marketplace();
    assert!(rules.rules().len() >= 25);
    assert!(rules.rules()[0].origin.starts_with("pack:marketplace:"));
}

#[test]
fn load_errors_name_file_and_line() {
    let text = "\n[[rule]]\nname = \"a\"\non = \"user.exploded\"\nadd_tags = [\"x\"]\n\n[[rule]]\nname = \"b\"\non = \"user.registered\"\nwhen = \"data.role ==\"\nadd_tags = [\"{{ oops\"]\n";
    let errors = RuleSet::load(&[("rules.toml", text)]).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown[0].starts_with("rules.toml:2: ") && shown[0].contains("user.exploded"),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("rules.toml:7: ") && e.contains("condition")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("rules.toml:7: ") && e.contains("add_tags template")),
        "{shown:?}"
    );
    let errors = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"a\"\non = \"user.registered\"\nadd_tag = [\"x\"]\n",
    )])
    .unwrap_err();
    assert_eq!(errors[0].line, 4, "{errors:?}");
    assert!(errors[0].message.contains("add_tag"), "{errors:?}");
    let errors = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"a\"\non = \"user.registered\"\n",
    )])
    .unwrap_err();
    assert!(errors[0].message.contains("no action"));
    // GHL webhooks about a contact are triggers; those about no contact are refused.
    let rules = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"a\"\non = \"ContactCreate\"\nadd_tags = [\"x\"]\n",
    )])
    .unwrap();
    assert!(rules.listens_to("ContactCreate"));
    assert!(!rules.listens_to("ContactUpdate"));
    let errors = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"a\"\non = \"INSTALL\"\nadd_tags = [\"x\"]\n",
    )])
    .unwrap_err();
    assert!(
        errors[0].message.contains("INSTALL is about no contact"),
        "{errors:?}"
    );
    // Forwarding sends GHL events to the app, never the app's own.
    let errors = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"a\"\non = [\"user.registered\", \"ContactUpdate\"]\nforward = true\n",
    )])
    .unwrap_err();
    assert!(
        errors[0]
            .message
            .contains("cannot run on the application's own events"),
        "{errors:?}"
    );
}

/// A GHL webhook as the processor hands it to the rules.
fn ghl_input(t: &str, data: Value, changes: &[&str]) -> RuleInput {
    RuleInput {
        trigger: Trigger::ghl(t).unwrap(),
        id: "wh-1".into(),
        subject: "ghl:c1".into(),
        occurred_at: crate::time::parse_rfc3339_ms("2026-11-21T10:00:00Z").unwrap(),
        contact_id: Some("c1".into()),
        data: data.as_object().cloned().unwrap_or_default(),
        changes: changes.iter().map(|c| (*c).to_owned()).collect(),
        bridge: Value::Null,
    }
}

#[test]
fn rules_on_ghl_webhooks_see_the_payload_and_what_changed_and_may_forward() {
    let text = r#"
[[rule]]
name = "vip edited in GHL"
on = "ContactUpdate"
when = "'tag:vip' in event.changes and event.source == 'ghl'"
add_tags = ["vip-{{ data.firstName | lower }}"]
forward = true
"#;
    let rules = RuleSet::load(&[("r.toml", text)]).unwrap();
    assert!(rules.forwards());
    let out = rules
        .evaluate(
            ghl_input("ContactUpdate", json!({"firstName": "Ana"}), &["tag:vip"]),
            &Profile::new("ghl:c1"),
            &[],
        )
        .unwrap();
    assert!(out.forward);
    assert_eq!(out.add_tags, BTreeSet::from(["vip-ana".to_owned()]));
    let out = rules
        .evaluate(
            ghl_input(
                "ContactUpdate",
                json!({"firstName": "Ana"}),
                &["field:city"],
            ),
            &Profile::new("ghl:c1"),
            &[],
        )
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_single_expression_keeps_its_type_and_other_templates_are_text() {
    let text = r#"
[[rule]]
name = "won"
on = "opportunity.won"
set_fields.sale_price = "{{ data.final_price }}"
set_fields.label = "sold for {{ data.final_price }}"
set_fields.missing = "{{ data.nothing }}"
"#;
    let rules = RuleSet::load(&[("r.toml", text)]).unwrap();
    let out = rules
        .evaluate(
            event(
                "opportunity.won",
                "2026-11-21T10:00:00Z",
                json!({"final_price": 425000}),
            ),
            &Profile::new("u1"),
            &[],
        )
        .unwrap();
    assert_eq!(out.custom_fields["sale_price"], json!(425000));
    assert_eq!(out.custom_fields["label"], json!("sold for 425000"));
    assert!(!out.custom_fields.contains_key("missing"));
}

fn lead_scoring() -> RuleSet {
    RuleSet::load(&[("pack:lead-scoring", Pack::LeadScoring.source())]).unwrap()
}

#[test]
fn the_lead_scoring_pack_writes_seed_001s_fields_on_each_event() {
    let rules = lead_scoring();
    let mut profile = Profile::new("ghl:c1");
    let created = ghl_input(
        "ContactCreate",
        json!({"id": "c1", "firstName": "John", "email": "john@example.com",
               "phone": "+15551234567", "source": "website"}),
        &["created"],
    );
    profile.apply_ghl(&created);
    let out = rules.evaluate(created, &profile, &[]).unwrap();
    assert_eq!(out.custom_fields["ai_score"], json!(21.0));
    assert_eq!(out.custom_fields["lead_quality"], json!("cold"));
    assert!(out.custom_fields.contains_key("score_confidence"));
    assert_eq!(
        out.custom_fields["recommended_action"],
        json!("Add to a nurture campaign")
    );
    let scheduled = event(
        "appointment.scheduled",
        "2026-11-21T11:00:00Z",
        json!({"appointment_id": "apt_1", "appointment_type": "property_tour"}),
    );
    profile.apply(&scheduled);
    let out = rules.evaluate(&scheduled, &profile, &[]).unwrap();
    assert_eq!(out.custom_fields["next_action"], json!("Prepare for tour"));
    assert_eq!(out.custom_fields["updated_ai_score"], json!(37.0));
    assert_eq!(out.custom_fields["churn_risk"], json!(0.35));
    assert!(!out.custom_fields.contains_key("ai_score"));
    let won = event(
        "opportunity.won",
        "2026-11-21T12:00:00Z",
        json!({"final_price": 425000, "close_date": "2026-02-15"}),
    );
    profile.apply(&won);
    let out = rules.evaluate(&won, &profile, &[]).unwrap();
    assert_eq!(out.custom_fields["status"], json!("sold"));
    assert_eq!(out.custom_fields["sale_price"], json!(425000));
    assert_eq!(out.custom_fields["close_date"], json!("2026-02-15"));
    assert_eq!(
        out.custom_fields["outcome_type"],
        json!("property_purchased")
    );
    assert_eq!(
        out.custom_fields["recommended_action"],
        json!("Ask for a referral")
    );
    // The won deal is an outcome the next score uses.
    let opened = event("campaign.opened", "2026-11-22T10:00:00Z", json!({}));
    let mut without = profile.clone();
    without.won = 0;
    profile.apply(&opened);
    without.apply(&opened);
    let with_outcome = rules.evaluate(&opened, &profile, &[]).unwrap();
    let no_outcome = rules.evaluate(&opened, &without, &[]).unwrap();
    assert!(with_outcome.lead.as_ref().unwrap().score > no_outcome.lead.as_ref().unwrap().score);
    let shown = with_outcome.to_string();
    assert!(shown.contains("past outcomes"), "{shown}");
}

#[test]
fn an_empresa_registration_gets_its_tags_and_fields() {
    let (tags, fields, out) = run(
        &marketplace(),
        &[event(
            "user.registered",
            "2026-11-21T10:00:00Z",
            json!({"role": "empresa", "email": "ana@acme.es", "source": "linkedin",
                   "company_name": "Acme", "industry": "IA", "cif": "B123"}),
        )],
    );
    assert_eq!(
        tags,
        BTreeSet::from(["emp-nuevo-registro".to_owned(), "src/linkedin".to_owned()])
    );
    assert_eq!(fields["tipo_de_usuario"], "Empresa");
    assert_eq!(fields["companyName"], "Acme");
    assert_eq!(fields["industry"], "IA");
    assert_eq!(fields["cif"], "B123");
    assert_eq!(fields["fuente_del_contacto"], "linkedin");
    assert_eq!(fields["estado_del_contacto"], "Nuevo registro");
    assert!(fields.contains_key("lead_score"));
    assert!(
        !fields.contains_key("main_area"),
        "empty templates set nothing"
    );
    assert_eq!(out.tag_reasons["src/linkedin"], "fuente del contacto");
}

#[test]
fn roles_accumulate_in_either_order() {
    let rules = marketplace();
    let empresa = json!({"role": "empresa", "email": "ana@acme.es"});
    let experto = json!({"role": "experto", "main_area": "Datos"});
    let a = run(
        &rules,
        &[
            event("user.registered", "2026-11-21T10:00:00Z", empresa.clone()),
            event("user.role_added", "2026-11-21T11:00:00Z", experto.clone()),
        ],
    );
    let mut experto_first = experto.clone();
    experto_first["email"] = json!("ana@acme.es");
    let mut empresa_second = empresa.clone();
    empresa_second.as_object_mut().unwrap().remove("email");
    let b = run(
        &rules,
        &[
            event("user.registered", "2026-11-21T10:00:00Z", experto_first),
            event("user.role_added", "2026-11-21T11:00:00Z", empresa_second),
        ],
    );
    for (tags, fields, _) in [&a, &b] {
        assert!(
            tags.contains("emp-nuevo-registro") && tags.contains("exp-solicitud"),
            "{tags:?}"
        );
        assert_eq!(fields["tipo_de_usuario"], "Empresa y Experto");
        assert_eq!(fields["main_area"], "Datos");
    }
}

#[test]
fn deletion_replaces_the_leaving_tags() {
    let (tags, fields, out) = run(
        &marketplace(),
        &[
            event(
                "user.registered",
                "2026-11-21T10:00:00Z",
                json!({"role": "empresa", "email": "a@b.es"}),
            ),
            event(
                "user.role_added",
                "2026-11-21T10:01:00Z",
                json!({"role": "experto"}),
            ),
            event("user.unsubscribed", "2026-11-21T10:02:00Z", json!({})),
            event(
                "user.unsubscribe_confirmed",
                "2026-11-21T10:03:00Z",
                json!({}),
            ),
            event("user.deleted", "2026-11-21T10:04:00Z", json!({})),
        ],
    );
    assert!(
        tags.contains("emp-eliminado") && tags.contains("exp-eliminado"),
        "{tags:?}"
    );
    assert!(
        !tags.contains("emp-baja") && !tags.contains("emp-baja-confirmada"),
        "{tags:?}"
    );
    assert!(out.remove_tags.contains("emp-baja"));
    assert_eq!(fields["estado_del_contacto"], "Eliminado");
}

#[test]
fn verification_and_level_tags_replace_each_other() {
    let (tags, fields, _) = run(
        &marketplace(),
        &[
            event(
                "user.registered",
                "2026-11-21T10:00:00Z",
                json!({"role": "experto", "email": "e@x.es"}),
            ),
            event(
                "expert.verification_changed",
                "2026-11-21T10:01:00Z",
                json!({"status": "pre-evaluación"}),
            ),
            event(
                "expert.verification_changed",
                "2026-11-21T10:02:00Z",
                json!({"status": "verificado"}),
            ),
            event(
                "expert.level_changed",
                "2026-11-21T10:03:00Z",
                json!({"level": "global"}),
            ),
            event(
                "expert.level_changed",
                "2026-11-21T10:04:00Z",
                json!({"level": "pro"}),
            ),
        ],
    );
    let exp: Vec<&String> = tags.iter().filter(|t| t.starts_with("exp-")).collect();
    assert_eq!(exp, ["exp-nivel-pro", "exp-verificado"]);
    assert_eq!(fields["expert_level"], "pro");
}

#[test]
fn project_tags_and_status() {
    let (tags, fields, _) = run(
        &marketplace(),
        &[
            event(
                "user.registered",
                "2026-11-21T10:00:00Z",
                json!({"role": "empresa", "email": "a@b.es"}),
            ),
            event(
                "project.draft_created",
                "2026-11-21T10:01:00Z",
                json!({"project_id": "p1"}),
            ),
            event(
                "project.sent_to_validation",
                "2026-11-21T10:02:00Z",
                json!({"project_id": "p1"}),
            ),
            event(
                "project.published",
                "2026-11-21T10:03:00Z",
                json!({"project_id": "p1"}),
            ),
        ],
    );
    for t in [
        "emp-borrador-creado",
        "emp-proyecto-en-validación",
        "emp-proyecto-publicado",
    ] {
        assert!(tags.contains(t), "{t} missing: {tags:?}");
    }
    assert_eq!(fields["estado_del_contacto"], "Proyecto publicado");
}

#[test]
fn explain_shows_rules_skips_and_the_score_components() {
    let rules = marketplace();
    let e = event(
        "user.registered",
        "2026-11-21T10:00:00Z",
        json!({"role": "experto", "email": "e@x.es"}),
    );
    let mut p = Profile::new("u1");
    p.apply(&e);
    let text = rules.evaluate(&e, &p, &[]).unwrap().to_string();
    assert!(
        text.contains("rule \"experto: solicitud\" (pack:marketplace:"),
        "{text}"
    );
    assert!(text.contains("add tag exp-solicitud"), "{text}");
    assert!(text.contains("skipped \"empresa: registro\""), "{text}");
    assert!(text.contains("lead score 20 → level global"), "{text}");
    assert!(text.contains("profile verification"), "{text}");
}

#[test]
fn a_later_rule_wins_a_tag_conflict() {
    let text = r#"
[[rule]]
name = "add"
on = "user.activity"
add_tags = ["x"]

[[rule]]
name = "remove"
on = "user.activity"
remove_tags = ["X"]
"#;
    let rules = RuleSet::load(&[("r.toml", text)]).unwrap();
    let e = event("user.activity", "2026-11-21T10:00:00Z", json!({}));
    let out = rules.evaluate(&e, &Profile::new("u1"), &[]).unwrap();
    assert!(out.add_tags.is_empty());
    assert_eq!(out.remove_tags, BTreeSet::from(["x".to_owned()]));
}

#[test]
fn a_condition_and_a_template_with_the_same_text_do_not_mix() {
    let text = r#"
[[rule]]
name = "same text"
on = "user.activity"
when = "data.flag"
add_tags = ["data.flag"]
"#;
    let rules = RuleSet::load(&[("r.toml", text)]).unwrap();
    let on = event(
        "user.activity",
        "2026-11-21T10:00:00Z",
        json!({"flag": true}),
    );
    let out = rules.evaluate(&on, &Profile::new("u1"), &[]).unwrap();
    assert_eq!(out.add_tags, BTreeSet::from(["data.flag".to_owned()]));
    let off = event("user.activity", "2026-11-21T10:00:00Z", json!({}));
    assert!(
        rules
            .evaluate(&off, &Profile::new("u1"), &[])
            .unwrap()
            .add_tags
            .is_empty()
    );
}

#[test]
fn a_published_project_creates_its_opportunity_and_an_assignment_moves_it() {
    let rules = marketplace();
    let (_, _, out) = run(
        &rules,
        &[event(
            "project.published",
            "2026-11-21T10:00:00Z",
            json!({"project_id": "p7", "title": "Web nueva", "budget": 1200}),
        )],
    );
    assert_eq!(
        out.opportunities,
        vec![OpportunitySync {
            action: OpportunityAction::Create,
            key: "proyecto:p7".into(),
            pipeline: Some("Proyectos".into()),
            stage: Some("Publicado".into()),
            name: Some("Web nueva".into()),
            value: Some(1200.0),
            status: None,
        }]
    );
    let (_, _, out) = run(
        &rules,
        &[event(
            "expert.assigned",
            "2026-11-21T10:00:00Z",
            json!({"project_id": "p7"}),
        )],
    );
    assert_eq!(out.opportunities[0].action, OpportunityAction::Update);
    assert_eq!(out.opportunities[0].stage.as_deref(), Some("Asignado"));
    assert_eq!(out.opportunities[0].name, None, "an update renames nothing");
    assert!(out.to_string().contains("opportunity update proyecto:p7"));
    let (_, _, out) = run(
        &rules,
        &[event(
            "project.completed",
            "2026-11-21T10:00:00Z",
            json!({"project_id": "p7"}),
        )],
    );
    let statuses: Vec<_> = out.opportunities.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        [None, Some(ghl::opportunities::OpportunityStatus::Won)]
    );
}

#[test]
fn opportunity_actions_are_checked_at_load() {
    let text = r#"
[[rule]]
name = "a"
on = "project.published"
[rule.opportunity]
action = "create"
key = "p:{{ data.project_id }}"
stage = "Publicado"

[[rule]]
name = "b"
on = "opportunity.won"
[rule.opportunity]
action = "status"
key = "deal"
"#;
    let errors = RuleSet::load(&[("r.toml", text)]).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("r.toml:2: ") && e.contains("needs `pipeline`")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|e| e.contains("needs `name`")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|e| e.contains("within `pipeline`")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|e| e.starts_with("r.toml:10: ") && e.contains("needs `status`")),
        "{shown:?}"
    );
    let bad_value = "[[rule]]\nname = \"v\"\non = \"opportunity.won\"\n[rule.opportunity]\naction = \"update\"\nkey = \"deal\"\nvalue = \"{{ data.note }}\"\n";
    let rules = RuleSet::load(&[("v.toml", bad_value)]).unwrap();
    let e = event(
        "opportunity.won",
        "2026-11-21T10:00:00Z",
        json!({"note": "lots"}),
    );
    let err = rules.evaluate(&e, &Profile::new("u1"), &[]).unwrap_err();
    assert!(err.to_string().contains("not a number"), "{err}");
}

fn bridge_pack() -> RuleSet {
    RuleSet::load(&[("pack:cloudtalk-bridge", Pack::CloudTalkBridge.source())]).unwrap()
}

/// A bridge event as the processor hands it to the rules: the view built from the body.
fn bridge_input(trigger: Trigger, body: Value) -> RuleInput {
    let contact = crate::bridge::BridgeContact::read(&body);
    let view = if trigger.is_cloudtalk() {
        let t = cloudtalk::webhooks::Trigger::ALL
            .into_iter()
            .find(|t| crate::bridge::cloudtalk_trigger(*t) == trigger.as_str())
            .unwrap();
        crate::bridge::cloudtalk_view(&cloudtalk::webhooks::Event::read(t, &body))
    } else {
        crate::bridge::ghl_view(&body, &contact, &[])
    };
    RuleInput {
        trigger,
        id: "b-1".into(),
        subject: "ghl:ghl_123456".into(),
        occurred_at: crate::time::parse_rfc3339_ms("2025-09-16T13:37:30Z").unwrap(),
        contact_id: contact.id.map(|c| c.to_string()),
        data: body.as_object().cloned().unwrap_or_default(),
        changes: Vec::new(),
        bridge: view,
    }
}

#[test]
fn the_bridge_pack_writes_seed_003s_cloudtalk_commands() {
    let rules = bridge_pack();
    let profile = Profile::new("ghl:ghl_123456");
    let run = |t: &str, body: Value| {
        let trigger = Trigger::ghl(t).or_else(|| Trigger::bridge(t)).unwrap();
        rules
            .evaluate(bridge_input(trigger, body), &profile, &[])
            .unwrap()
    };
    let created = run(
        "ContactCreate",
        json!({"contact": {"id": "ghl_123456", "name": "Mario Rossi", "phone": "+393501234567"}}),
    );
    assert!(created.cloudtalk.contact);
    assert!(!created.changes_ghl(), "nothing goes back to GHL");
    let tag = run(
        "ContactTagUpdate",
        json!({"contact": {"id": "ghl_123456"}, "tag": {"name": "VIP Cliente"}}),
    );
    assert_eq!(
        tag.cloudtalk.tags,
        ["VIP Cliente"],
        "CloudTalk keeps the case"
    );
    let note = run(
        "NoteCreate",
        json!({"contact": {"id": "ghl_123456"}, "note": {"body": "Cliente interessato al prodotto premium", "userId": "agent_789"}}),
    );
    assert_eq!(
        note.cloudtalk.notes,
        [
            "[GHL Note] Cliente interessato al prodotto premium - Added by User ID: agent_789 - 2025-09-16T13:37:30Z"
        ]
    );
    let stage = run(
        "OpportunityStageUpdate",
        json!({"contact": {"id": "ghl_123456"}, "pipeline": {"name": "Sales Pipeline"},
            "stage": {"name": "Qualified Lead"}, "previous_stage": {"name": "Cold Lead"}}),
    );
    let activity = &stage.cloudtalk.activities[0];
    assert_eq!(activity.name, "Pipeline Stage Change");
    assert_eq!(
        activity.description.as_deref(),
        Some(
            "[GHL Pipeline Change] Contact moved to \"Qualified Lead\" stage in \"Sales Pipeline\" pipeline (from \"Cold Lead\") - 2025-09-16T13:37:30Z"
        )
    );
    let status = run(
        "ghl.status_changed",
        json!({"contact": {"id": "ghl_123456"}, "status": "customer", "previous_status": "lead",
            "status_reason": "Purchase completed"}),
    );
    assert_eq!(status.cloudtalk.tags, ["GHL-CUSTOMER"]);
    assert_eq!(
        status.cloudtalk.notes,
        ["[GHL Status Change] lead → customer (Purchase completed) - 2025-09-16T13:37:30Z"]
    );
}

#[test]
fn the_bridge_pack_writes_calls_to_ghl_notes_and_fields() {
    let rules = bridge_pack();
    let profile = Profile::new("phone:+393513416607");
    let ended = rules
        .evaluate(
            bridge_input(
                Trigger::bridge("cloudtalk.call_ended").unwrap(),
                json!({"call_uuid": "u1", "external_number": 393513416607_u64, "agent_name": "Roberto",
                    "talking_time": 125, "status": "answered", "transcript": "[object Object]"}),
            ),
            &profile,
            &[],
        )
        .unwrap();
    assert_eq!(
        ended.notes,
        ["[CloudTalk] Call ended: answered, 125 s, agent Roberto - 2025-09-16T13:37:30Z"]
    );
    assert_eq!(ended.custom_fields["last_call_duration"], 125);
    assert_eq!(ended.custom_fields["last_call_outcome"], "answered");
    assert!(ended.cloudtalk.is_empty());
    let started = rules
        .evaluate(
            bridge_input(
                Trigger::bridge("cloudtalk.call_started").unwrap(),
                json!({"Call_id": "123456", "Call_uuid": "uuid-123", "Agent_name": "Roberto"}),
            ),
            &profile,
            &[],
        )
        .unwrap();
    assert_eq!(
        started.notes,
        ["[CloudTalk] call started with Roberto - 2025-09-16T13:37:30Z"]
    );
}

#[test]
fn a_cloudtalk_action_runs_on_ghl_events_only() {
    let err = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"loop\"\non = \"cloudtalk.call_ended\"\ncloudtalk.note = \"x\"\n",
    )])
    .unwrap_err();
    assert!(err[0].message.contains("GHL events only"), "{err:?}");
    let err = RuleSet::load(&[(
        "r.toml",
        "[[rule]]\nname = \"typo\"\non = \"cloudtalk.call_ende\"\nnote = \"x\"\n",
    )])
    .unwrap_err();
    assert!(err[0].message.contains("cloudtalk.call_ended"), "{err:?}");
}
