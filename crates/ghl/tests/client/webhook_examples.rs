//! Every example payload in GHL's webhook event documents parses.

use std::path::PathBuf;

use ghl::webhooks::{Webhook, WebhookEvent};
use serde_json::Value;

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/ghl-openapi/webhook-events")
}

/// The JSON blocks of a markdown document that are examples (not `json_schema` blocks).
/// Some documents glue the opening brace to the fence (```` ```json{ ````); that brace is
/// part of the example.
fn examples(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```json") {
        let after = &rest[start + 7..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let tag = &after[..line_end];
        let body_start = if tag.trim_start().starts_with('{') {
            0
        } else {
            line_end + 1
        };
        let body = &after[body_start.min(after.len())..];
        let end = body.find("```").unwrap_or(body.len());
        if !tag.contains("json_schema") {
            out.push(body[..end].to_owned());
        }
        rest = &body[end.min(body.len())..];
        if rest.len() >= 3 {
            rest = &rest[3..];
        }
    }
    out
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
        let text = std::fs::read_to_string(file).unwrap();
        for (i, example) in examples(&text).into_iter().enumerate() {
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
