//! GHL's OpenAPI files as JSON-schema validators.
//!
//! The files are OpenAPI 3.0: `nullable: true` becomes a `null` type; every file's schemas
//! are namespaced (`contacts:CustomFieldSchema` and `locations:CustomFieldSchema` differ) and
//! the `../common/common-schemas.json` references point at `common:`; every object schema
//! with properties gets `additionalProperties: false`, so a field name the spec does not
//! know (a typo in the simulator or the client) fails validation, except the fields listed
//! in [`OBSERVED_EXTRAS`] that real GHL answers carry without documenting.
//!
//! GHL's generator writes `type: object` for properties typed `number | string` (their
//! examples are scalars: `dateOfBirth` "1990-09-25", numeric custom values 100); such a
//! property accepts any JSON value here.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

pub fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/ghl-openapi")
}

const COMMON_PREFIX: &str = "../common/common-schemas.json#/components/schemas/";

/// Properties GHL returns or accepts beyond its schemas, with the reason.
pub const OBSERVED_EXTRAS: &[(&str, &[&str])] = &[
    // GET answers carry gender (highlevel-api-docs#313).
    ("contacts:GetContectByIdSchema", &["gender"]),
    // Duplicate errors add `meta` (and `code` for opportunities); many errors add `error`.
    (
        "common:BadRequestDTO",
        &["meta", "code", "error", "traceId"],
    ),
    // The opportunity upsert lost `contactId` in the 2026 spec; see validate.rs.
    ("opportunities:UpsertOpportunityDto", &["contactId"]),
    // Undocumented but working custom-field properties (highlevel-api-docs#300).
    (
        "locations:CreateCustomFieldsDTO",
        &["parentId", "fieldKey", "description", "showInForms"],
    ),
    // The location token answer includes a refresh token (highlevel-api-docs#285).
    (
        "oauth:GetLocationAccessTokenSuccessfulResponseDto",
        &["refresh_token"],
    ),
    // PUT /contacts/{id} takes these though the file omits them (highlevel-api-docs#314,
    // every property tried one by one against live GHL).
    (
        "contacts:UpdateContactDto",
        &["companyName", "keyword", "ssn", "type"],
    ),
    // The deprecated GET /contacts/ answers with a `meta` paging block (the same shape as
    // the opportunity search's), and its items carry the contact's fields beyond the
    // trimmed `ContactsSearchSchema`, as its live answers show.
    ("contacts:ContactsSearchSuccessfulResponseDto", &["meta"]),
    (
        "contacts:ContactsSearchSchema",
        &[
            "contactName",
            "firstName",
            "lastName",
            "companyName",
            "phone",
            "dnd",
            "type",
            "assignedTo",
            "city",
            "state",
            "postalCode",
            "address1",
            "dateUpdated",
            "dateOfBirth",
            "website",
        ],
    ),
];

/// Properties whose spec type is wrong, replaced by what GHL really sends.
const TYPE_FIXES: &[(&str, &str, &str)] = &[
    // Custom values are numbers, lists or objects by field type (webhook docs, fact sheet 4.3).
    ("contacts:CustomFieldSchema", "value", "any"),
    // Stages are objects `{id, name, ...}`; the spec says arrays of arrays.
    (
        "opportunities:PipelinesResponseSchema",
        "stages",
        "array of objects",
    ),
    // One object per contact (the schema's own example); the spec says strings.
    (
        "contacts:UpdateTagsResponseDTO",
        "responses",
        "array of objects",
    ),
];

/// The files, in the order names are looked up by [`Spec::schema_named`].
const FILES: &[&str] = &[
    "contacts",
    "opportunities",
    "locations",
    "conversations",
    "oauth",
    "custom-fields",
];

pub struct Spec {
    /// Every file's paths, with the file's components merged into one document.
    files: Vec<Value>,
    root: Value,
    /// Compiled validators by inline schema text.
    cache:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spec")
    }
}

impl Spec {
    pub fn load() -> Self {
        let dir = spec_dir();
        let common: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("common-schemas.json")).unwrap(),
        )
        .unwrap();
        let mut schemas = Map::new();
        for (k, v) in common["components"]["schemas"].as_object().unwrap() {
            schemas.insert(format!("common:{k}"), v.clone());
        }
        let mut files = Vec::new();
        for name in FILES {
            let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
            let text = text
                .replace(
                    "\"#/components/schemas/",
                    &format!("\"#/components/schemas/{name}:"),
                )
                .replace(COMMON_PREFIX, "#/components/schemas/common:");
            let doc: Value = serde_json::from_str(&text).unwrap();
            for (k, v) in doc["components"]["schemas"].as_object().unwrap() {
                schemas.insert(format!("{name}:{k}"), v.clone());
            }
            files.push(doc);
        }
        let mut schemas = Value::Object(schemas);
        for (name, props) in OBSERVED_EXTRAS {
            if let Some(p) = schemas[*name]["properties"].as_object_mut() {
                for prop in *props {
                    p.entry(prop.to_string()).or_insert(json!({}));
                }
            }
        }
        for (name, prop, fix) in TYPE_FIXES {
            let target = &mut schemas[*name]["properties"][*prop];
            assert!(target.is_object(), "{name}.{prop} exists");
            *target = match *fix {
                "any" => json!({}),
                "array of objects" => json!({"type": "array", "items": {"type": "object"}}),
                other => json!({"type": other}),
            };
        }
        normalise(&mut schemas);
        Self {
            files,
            root: json!({"components": {"schemas": schemas}}),
            cache: Default::default(),
        }
    }

    /// The schema named `name` in the first file that has one (after fixes).
    pub fn schema_named(&self, name: &str) -> &Value {
        FILES
            .iter()
            .map(|f| &self.root["components"]["schemas"][format!("{f}:{name}")])
            .find(|s| s.is_object())
            .unwrap_or_else(|| panic!("schema {name} exists"))
    }

    /// The operation for a method and a concrete path.
    pub fn operation(&self, method: &str, path: &str) -> Option<(&Value, String)> {
        let method = method.to_ascii_lowercase();
        for file in &self.files {
            for (template, ops) in file["paths"].as_object().unwrap() {
                if matches(template, path)
                    && let Some(op) = ops.get(&method)
                {
                    return Some((op, template.clone()));
                }
            }
        }
        None
    }

    /// Validates `instance` against a schema given inline (usually a `$ref`).
    pub fn validate(&self, schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
        let key = schema.to_string();
        let cached = self.cache.lock().unwrap().get(&key).cloned();
        let validator = match cached {
            Some(v) => v,
            None => {
                let mut inline = schema.clone();
                normalise(&mut inline);
                let mut doc = self.root.clone();
                if let (Some(d), Some(s)) = (doc.as_object_mut(), inline.as_object()) {
                    for (k, v) in s {
                        d.insert(k.clone(), v.clone());
                    }
                }
                let v = std::sync::Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft7)
                        .should_validate_formats(false)
                        .build(&doc)
                        .expect("schema compiles"),
                );
                self.cache
                    .lock()
                    .unwrap()
                    .insert(key, std::sync::Arc::clone(&v));
                v
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// `/contacts/{contactId}` matches `/contacts/abc`; trailing slashes are ignored.
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
}

fn normalise(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let scalar_example = map
                .get("example")
                .is_some_and(|e| !e.is_object() && !e.is_array());
            if map.get("type") == Some(&json!("object"))
                && !map.contains_key("properties")
                && scalar_example
            {
                map.remove("type");
            }
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = map.get("type").cloned()
            {
                map.insert("type".into(), json!([t, "null"]));
            }
            map.remove("nullable");
            let is_object_schema =
                map.get("type") == Some(&json!("object")) && map.contains_key("properties");
            if is_object_schema && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (k, child) in map.iter_mut() {
                // Example values are data, not schemas.
                if k != "example" && k != "examples" && k != "enum" {
                    normalise(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[test]
fn templates_match_concrete_paths() {
    assert!(matches("/contacts/{contactId}", "/contacts/abc"));
    assert!(matches("/contacts/", "/contacts"));
    assert!(!matches("/contacts/{contactId}/tags", "/contacts/abc"));
}

#[test]
fn a_misspelled_or_mistyped_field_fails_validation() {
    let spec = Spec::load();
    let get_contact =
        json!({"$ref": "#/components/schemas/contacts:ContactsByIdSuccessfulResponseDto"});
    assert!(
        spec.validate(
            &get_contact,
            &json!({"contact": {"id": "c1", "emailLowerCase": "a@b.co"}})
        )
        .is_ok()
    );
    assert!(
        spec.validate(
            &get_contact,
            &json!({"contact": {"id": "c1", "emailLowercase": "a@b.co"}})
        )
        .is_err()
    );
    assert!(
        spec.validate(
            &get_contact,
            &json!({"contact": {"id": "c1", "dnd": "yes"}})
        )
        .is_err()
    );
    let create = json!({"$ref": "#/components/schemas/contacts:CreateContactDto"});
    assert!(
        spec.validate(
            &create,
            &json!({"locationId": "l", "dateOfBirth": "1990-09-25"})
        )
        .is_ok()
    );
    assert!(
        spec.validate(&create, &json!({"email": "a@b.co"})).is_err(),
        "locationId is required"
    );
}
