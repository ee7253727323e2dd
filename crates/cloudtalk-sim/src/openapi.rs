//! CloudTalk's OpenAPI document (`vendor/cloudtalk-openapi`) as JSON-schema validators, for
//! the tests of the client and of this simulator.
//!
//! Every object schema that names properties refuses properties it does not name, so a
//! field name the document does not know (a typo in the client or the simulator) fails.
//! For answers, schemas typed `integer` also accept digit strings and `status` either
//! form, because CloudTalk's own examples and live answers send ids that way.
//!
//! One answer schema contradicts the document's own example and is corrected for answers
//! ([`CORRECTIONS`]): `GET /campaigns/index.json`, whose schema names one object `Tag`,
//! `Button`, `Group` and `Agent` per campaign and an integer `is_predictive`, while its
//! example sends lists, the contact tags under `ContactsTag`, and `is_predictive` as a
//! boolean. A campaign has several tags and buttons, which one object cannot hold.

use serde_json::{Value, json};

/// The document, prepared for requests or for answers.
#[derive(Debug, Clone)]
pub struct OpenApi {
    doc: Value,
}

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../vendor/cloudtalk-openapi/cloudtalk-openapi.json"
    );
    let text = std::fs::read_to_string(path).expect("the vendored CloudTalk OpenAPI document");
    serde_json::from_str(&text).expect("the document is JSON")
}

fn close_objects(v: &mut Value, answers: bool) {
    match v {
        Value::Object(map) => {
            // An object documented with no properties (`data` of a bulk result, "more data
            // explaining the error or the new id") is free-form.
            let named = map
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            if map.get("type") == Some(&json!("object")) && named {
                map.entry("additionalProperties").or_insert(json!(false));
            }
            if answers {
                if map.get("type") == Some(&json!("integer")) {
                    map.insert("type".into(), json!(["integer", "string"]));
                }
                if let Some(Value::Object(props)) = map.get_mut("properties")
                    && let Some(status) = props.get_mut("status")
                {
                    *status = json!({"type": ["integer", "string"]});
                }
            }
            for child in map.values_mut() {
                close_objects(child, answers);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| close_objects(i, answers)),
        _ => {}
    }
}

/// Where the answers' schemas are corrected to fit the document's own examples, and why.
pub const CORRECTIONS: &[(&str, &str)] = &[
    (
        "/paths/~1campaigns~1index.json/get/responses/200/content/application~1json/schema/properties/data/items/properties",
        "the example lists a campaign's ContactsTag, Button, Group and Agent; the schema names one Tag, Button, Group and Agent object",
    ),
    (
        "/components/schemas/CampaignList/properties/is_predictive",
        "the example sends a boolean; the schema says integer (0/1)",
    ),
];

fn correct_answers(doc: &mut Value) {
    let one_or_list = |schema: &str| {
        let item = json!({"$ref": format!("#/components/schemas/{schema}")});
        json!({"anyOf": [item.clone(), {"type": "array", "items": item}]})
    };
    if let Some(Value::Object(parts)) = doc.pointer_mut(CORRECTIONS[0].0) {
        for (part, schema) in [
            ("Button", "Button"),
            ("Tag", "Tag"),
            ("ContactsTag", "Tag"),
            ("Group", "Group"),
            ("Agent", "PdAgent"),
        ] {
            parts.insert(part.into(), one_or_list(schema));
        }
    }
    if let Some(flag) = doc.pointer_mut(CORRECTIONS[1].0) {
        flag["type"] = json!(["integer", "boolean"]);
    }
}

/// `/contacts/edit/{contactId}.json` as a JSON pointer segment.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// `{a}/b` matches `1.json/b`-like concrete paths: a `{param}` segment matches any.
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            t == p || (t.starts_with('{') && (t.ends_with('}') || t.ends_with("}.json")))
        })
}

impl OpenApi {
    /// For what clients send: closed objects, types as documented.
    pub fn requests() -> Self {
        let mut doc = load();
        close_objects(&mut doc, false);
        Self { doc }
    }

    /// For what CloudTalk answers: closed objects, ids as strings allowed, and the
    /// [`CORRECTIONS`] where a schema contradicts the document's own example.
    pub fn answers() -> Self {
        let mut doc = load();
        correct_answers(&mut doc);
        close_objects(&mut doc, true);
        Self { doc }
    }

    /// The document.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The pointer of an operation's JSON request body schema.
    pub fn request_body(path: &str, method: &str) -> String {
        format!(
            "/paths/{}/{method}/requestBody/content/application~1json/schema",
            escape(path)
        )
    }

    /// The pointer of the documented JSON answer schema of the operation serving a
    /// concrete `path` (after `/api`), if the document has one.
    pub fn answer(&self, method: &str, path: &str, status: u16) -> Option<String> {
        self.answer_as(method, path, status, "application/json")
    }

    /// The pointer of the documented answer schema of the operation serving a concrete
    /// `path` for `media_type` (`audio/x-wav` for a recording), if the document has one.
    pub fn answer_as(
        &self,
        method: &str,
        path: &str,
        status: u16,
        media_type: &str,
    ) -> Option<String> {
        let method = method.to_lowercase();
        let paths = self.doc["paths"].as_object()?;
        let has = |template: &str| {
            paths
                .get(template)
                .is_some_and(|ops| ops.get(&method).is_some())
        };
        // A path the document names as it is (`/calls/index.json`) before a template that
        // also matches it (`/calls/{callId}`).
        let template = if has(path) {
            path.to_owned()
        } else {
            paths
                .keys()
                .find(|template| has(template) && matches(template, path))?
                .clone()
        };
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}/content/{}/schema",
            escape(&template),
            escape(media_type)
        );
        self.doc.pointer(&pointer).is_some().then_some(pointer)
    }

    /// Validates `instance` against the schema at `pointer`.
    pub fn check(&self, pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        let mut root = self.doc.clone();
        // Braces of path templates are not allowed in a URI reference.
        root["$ref"] = json!(format!(
            "#{}",
            pointer.replace('{', "%7B").replace('}', "%7D")
        ));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| vec![format!("{pointer}: {e}")])?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
