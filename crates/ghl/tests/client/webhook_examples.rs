//! Every example payload in GHL's webhook event documents parses.

use std::path::PathBuf;

use ghl::webhooks::{Webhook, WebhookEvent};
use serde_json::Value;

fn docs_dir() -> PathBuf {
    ghl_sim::docs::webhook_events_dir()
}

/// The example blocks of a document, as the simulator's reader finds them.
fn examples_of(document: &str) -> Vec<String> {
    ghl_sim::docs::webhook_examples(&docs_dir())
        .unwrap()
        .into_iter()
        .filter(|e| e.document == document)
        .map(|e| e.json)
        .collect()
}

#[test]
fn every_documented_example_parses() {
    let mut files: Vec<_> = std::fs::read_dir(docs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 58,
        "vendored webhook docs are present ({})",
        files.len()
    );
    let mut parsed = 0;
    let mut typed = 0;
    for file in &files {
        let name = file.file_stem().unwrap().to_str().unwrap();
        for (i, example) in examples_of(name).into_iter().enumerate() {
            let Ok(mut value) = serde_json::from_str::<Value>(&example) else {
                // UserCreate's "schema" block is a JSON object of type names, not valid JSON
                // for every doc; anything that is not JSON is not an example.
                continue;
            };
            // Several documents omit `type` in their example (invoices, custom objects) or
            // copy another event's (AppointmentUpdate shows "AppointmentCreate"); GHL sends
            // the event's own name, which the file is named after.
            let Some(object) = value.as_object_mut() else {
                continue;
            };
            let event_type = match object.get("type").and_then(Value::as_str) {
                Some(t) if !name.starts_with("Appointment") => t.to_owned(),
                _ => name.to_owned(),
            };
            object.insert("type".into(), Value::String(event_type.clone()));
            let webhook = Webhook::from_value(value)
                .unwrap_or_else(|e| panic!("{name} example {i} does not parse: {e}"));
            parsed += 1;
            if !matches!(webhook.event, WebhookEvent::Other { .. }) {
                typed += 1;
                assert_eq!(webhook.event_type(), Some(event_type.as_str()));
            }
        }
    }
    assert!(parsed >= 60, "{parsed} examples parsed");
    assert!(typed >= 30, "{typed} examples typed");
}

#[test]
fn every_typed_variant_has_a_documented_example() {
    let all: String = std::fs::read_dir(docs_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for t in WebhookEvent::KNOWN_TYPES {
        let quoted = format!("\"{t}\"");
        let file = docs_dir().join(format!("{t}.md"));
        assert!(
            all.contains(&quoted) || file.exists(),
            "{t} appears in GHL's webhook docs"
        );
    }
}

/// The event each documented example is, read from the example as GHL's document gives it
/// (many carry no `type`): the document's own event, or its family where the fields cannot
/// tell the verb (an invoice created or paid looks the same).
#[test]
fn every_documented_example_is_named() {
    use ghl::webhooks::names::DOCUMENTED;
    let documented_as = |file: &str| match file {
        "AppInstall" => "INSTALL",
        "AppUninstall" => "UNINSTALL",
        "PlanChange" => "PLAN_CHANGE",
        "ConversationUnreadWebhook" => "ConversationUnreadUpdate",
        other => DOCUMENTED
            .iter()
            .find(|d| **d == other)
            .unwrap_or_else(|| panic!("{other} is in names::DOCUMENTED")),
    };
    let mut named = 0;
    for entry in std::fs::read_dir(docs_dir()).unwrap() {
        let file = entry.unwrap().path();
        let doc = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let expected = documented_as(&doc);
        for example in examples_of(&doc) {
            let Ok(value) = serde_json::from_str::<Value>(&example) else {
                continue;
            };
            // UserCreate's first block lists field types ("type": "string"): not an example.
            if value.get("type").and_then(Value::as_str) == Some("string") {
                continue;
            }
            let webhook = Webhook::parse_lenient(example.as_bytes()).unwrap();
            let name = webhook
                .name()
                .unwrap_or_else(|| panic!("{doc}: an example without a name: {example}"));
            let family = expected.starts_with(name) && name.len() >= 5;
            // Two documents reuse another event's example (every Appointment* example says
            // AppointmentCreate; InboundMessage shows an outbound call): that event's name.
            let reused = DOCUMENTED.contains(&name) && value.get("type").is_some();
            assert!(
                name == expected || family || reused,
                "{doc}: named {name:?}, expected {expected:?} or its family"
            );
            named += 1;
        }
    }
    assert!(named >= 60, "{named} examples named");
}

#[test]
fn blank_envelope_fields_are_absent_and_misshapen_known_types_are_kept() {
    let webhook = Webhook::parse_lenient(
        br#"{"type":"ContactUpdate","webhookId":"  ","locationId":"","dnd":"yes","id":"c1"}"#,
    )
    .unwrap();
    assert_eq!(webhook.webhook_id, None, "an empty id is no id");
    assert_eq!(webhook.location_id, None);
    match &webhook.event {
        WebhookEvent::Misshapen {
            event_type,
            payload,
            error,
        } => {
            assert_eq!(event_type, "ContactUpdate");
            assert_eq!(payload["id"], "c1");
            assert!(error.contains("bool"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(webhook.name(), Some("ContactUpdate"));
    assert!(Webhook::parse(br#"{"type":"ContactUpdate","dnd":"yes"}"#).is_err());
    assert!(Webhook::parse_lenient(b"[]").is_err());
    assert!(Webhook::parse_lenient(b"\"x\"").is_err());
}
