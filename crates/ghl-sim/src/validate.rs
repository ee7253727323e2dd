//! Request-body validation the way GHL's NestJS `ValidationPipe` does it: a whitelist of
//! the DTO's properties (anything else is "property X should not exist"), required fields
//! and JSON types, each failure one message in a 422 list.
//!
//! The property lists come from GHL's OpenAPI request schemas; a faithfulness test compares
//! them with the vendored spec files, so a list cannot drift from GHL's documents unnoticed.

use serde_json::Value;

/// The JSON type a property must have.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A string.
    Str,
    /// A string that looks like an email.
    Email,
    /// A boolean.
    Bool,
    /// A number.
    Num,
    /// An array of strings.
    StrArray,
    /// An array.
    Array,
    /// An object.
    Object,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// Anything.
    Any,
}

/// One property of a DTO.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Property name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// Must be present and not empty.
    pub required: bool,
    /// `null` is accepted (`nullable: true` in the spec).
    pub nullable: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: false,
    }
}
const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
    }
}
const fn null(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

/// A request body schema.
#[derive(Debug)]
pub struct Dto {
    /// The spec's schema name.
    pub schema: &'static str,
    /// Its properties.
    pub fields: &'static [Field],
}

const OPPORTUNITY_STATUS: &[&str] = &["open", "won", "lost", "abandoned", "all"];

/// `CreateContactDto`.
pub const CREATE_CONTACT: Dto = Dto {
    schema: "CreateContactDto",
    fields: &[
        null("firstName", Kind::Str),
        null("lastName", Kind::Str),
        null("name", Kind::Str),
        null("email", Kind::Email),
        req("locationId", Kind::Str),
        f("gender", Kind::Str),
        null("phone", Kind::Str),
        null("address1", Kind::Str),
        null("city", Kind::Str),
        null("state", Kind::Str),
        f("postalCode", Kind::Str),
        null("website", Kind::Str),
        null("timezone", Kind::Str),
        f("dnd", Kind::Bool),
        f("dndSettings", Kind::Object),
        f("inboundDndSettings", Kind::Object),
        f("tags", Kind::StrArray),
        f("customFields", Kind::Array),
        f("source", Kind::Str),
        null("dateOfBirth", Kind::Any),
        f("country", Kind::Str),
        null("companyName", Kind::Str),
        f("assignedTo", Kind::Str),
    ],
};

/// `UpsertContactDto`.
pub const UPSERT_CONTACT: Dto = Dto {
    schema: "UpsertContactDto",
    fields: &[
        null("firstName", Kind::Str),
        null("lastName", Kind::Str),
        null("name", Kind::Str),
        null("email", Kind::Email),
        req("locationId", Kind::Str),
        f("gender", Kind::Str),
        null("phone", Kind::Str),
        null("address1", Kind::Str),
        null("city", Kind::Str),
        null("state", Kind::Str),
        f("postalCode", Kind::Str),
        null("website", Kind::Str),
        null("timezone", Kind::Str),
        f("dnd", Kind::Bool),
        f("dndSettings", Kind::Object),
        f("inboundDndSettings", Kind::Object),
        f("tags", Kind::StrArray),
        f("customFields", Kind::Array),
        f("source", Kind::Str),
        null("dateOfBirth", Kind::Any),
        f("country", Kind::Str),
        null("companyName", Kind::Str),
        f("assignedTo", Kind::Str),
        f("createNewIfDuplicateAllowed", Kind::Bool),
    ],
};

/// `UpdateContactDto`: no `locationId` or `gender`; `companyName`, `keyword`, `ssn` and
/// `type` are accepted though GHL's file omits them (highlevel-api-docs#314, which tried
/// every property one by one against live GHL).
pub const UPDATE_CONTACT: Dto = Dto {
    schema: "UpdateContactDto",
    fields: &[
        null("companyName", Kind::Str),
        f("keyword", Kind::Str),
        f("ssn", Kind::Str),
        f("type", Kind::Str),
        null("firstName", Kind::Str),
        null("lastName", Kind::Str),
        null("name", Kind::Str),
        null("email", Kind::Email),
        null("phone", Kind::Str),
        null("address1", Kind::Str),
        null("city", Kind::Str),
        null("state", Kind::Str),
        f("postalCode", Kind::Str),
        null("website", Kind::Str),
        null("timezone", Kind::Str),
        f("dnd", Kind::Bool),
        f("dndSettings", Kind::Object),
        f("inboundDndSettings", Kind::Object),
        f("tags", Kind::StrArray),
        f("customFields", Kind::Array),
        null("source", Kind::Str),
        null("dateOfBirth", Kind::Any),
        f("country", Kind::Str),
        null("assignedTo", Kind::Str),
    ],
};

/// `TagsDTO`.
pub const TAGS: Dto = Dto {
    schema: "TagsDTO",
    fields: &[req("tags", Kind::StrArray)],
};

/// `NotesDTO`.
pub const NOTES: Dto = Dto {
    schema: "NotesDTO",
    fields: &[
        f("userId", Kind::Str),
        req("body", Kind::Str),
        f("title", Kind::Str),
        f("color", Kind::Str),
        f("pinned", Kind::Bool),
    ],
};

/// Body of `POST /contacts/search`. GHL's spec leaves it empty (`SearchBodyV2DTO`); the
/// fields are from its search documentation and issue #31.
pub const SEARCH_CONTACTS: Dto = Dto {
    schema: "SearchBodyV2DTO",
    fields: &[
        req("locationId", Kind::Str),
        req("pageLimit", Kind::Num),
        f("page", Kind::Num),
        f("searchAfter", Kind::Array),
        f("filters", Kind::Array),
        f("sort", Kind::Array),
        f("query", Kind::Str),
    ],
};

/// `CreateCustomFieldsDTO`, plus `parentId`, `fieldKey`, `description` and `showInForms`,
/// which GHL accepts without documenting them (highlevel-api-docs#300).
pub const CREATE_CUSTOM_FIELD: Dto = Dto {
    schema: "CreateCustomFieldsDTO",
    fields: &[
        req("name", Kind::Str),
        req(
            "dataType",
            Kind::Enum(&[
                "TEXT",
                "LARGE_TEXT",
                "NUMERICAL",
                "PHONE",
                "MONETORY",
                "CHECKBOX",
                "SINGLE_OPTIONS",
                "MULTIPLE_OPTIONS",
                "DATE",
                "TEXTBOX_LIST",
                "FILE_UPLOAD",
                "RADIO",
                "EMAIL",
            ]),
        ),
        f("placeholder", Kind::Str),
        f("acceptedFormat", Kind::Array),
        f("isMultipleFile", Kind::Bool),
        f("maxNumberOfFiles", Kind::Num),
        f("textBoxListOptions", Kind::Array),
        f("position", Kind::Num),
        f("model", Kind::Enum(&["contact", "opportunity"])),
        f("parentId", Kind::Str),
        f("fieldKey", Kind::Str),
        f("description", Kind::Str),
        f("showInForms", Kind::Bool),
    ],
};

/// Properties GHL accepts beyond its request schemas, per schema.
pub const UNDOCUMENTED_EXTRAS: &[(&str, &[&str])] = &[
    (
        "CreateCustomFieldsDTO",
        &["parentId", "fieldKey", "description", "showInForms"],
    ),
    // The 2025-08 spec of the opportunity upsert required `contactId`; the current one
    // dropped it without replacement, so it is still accepted.
    ("UpsertOpportunityDto", &["contactId"]),
    // Live GHL's PUT whitelist has them (highlevel-api-docs#314).
    (
        "UpdateContactDto",
        &["companyName", "keyword", "ssn", "type"],
    ),
];

/// `UpdateTagsDTO` (`POST /contacts/bulk/tags/update/{type}`).
pub const UPDATE_TAGS: Dto = Dto {
    schema: "UpdateTagsDTO",
    fields: &[
        req("contacts", Kind::StrArray),
        req("tags", Kind::StrArray),
        req("locationId", Kind::Str),
        f("removeAllTags", Kind::Bool),
    ],
};

/// `UpdateCustomFieldsDTO` (`PUT /locations/{id}/customFields/{id}`).
pub const UPDATE_CUSTOM_FIELD: Dto = Dto {
    schema: "UpdateCustomFieldsDTO",
    fields: &[
        req("name", Kind::Str),
        f("placeholder", Kind::Str),
        f("acceptedFormat", Kind::Array),
        f("isMultipleFile", Kind::Bool),
        f("maxNumberOfFiles", Kind::Num),
        f("textBoxListOptions", Kind::Array),
        f("position", Kind::Num),
        f("model", Kind::Enum(&["contact", "opportunity"])),
    ],
};

/// `CreateDto` (opportunity).
pub const CREATE_OPPORTUNITY: Dto = Dto {
    schema: "CreateDto",
    fields: &[
        req("pipelineId", Kind::Str),
        req("locationId", Kind::Str),
        req("name", Kind::Str),
        f("pipelineStageId", Kind::Str),
        req("status", Kind::Enum(OPPORTUNITY_STATUS)),
        req("contactId", Kind::Str),
        f("monetaryValue", Kind::Num),
        f("assignedTo", Kind::Str),
        f("customFields", Kind::Array),
    ],
};

/// `UpdateOpportunityDto`.
pub const UPDATE_OPPORTUNITY: Dto = Dto {
    schema: "UpdateOpportunityDto",
    fields: &[
        f("pipelineId", Kind::Str),
        f("name", Kind::Str),
        f("pipelineStageId", Kind::Str),
        f("status", Kind::Enum(OPPORTUNITY_STATUS)),
        f("monetaryValue", Kind::Num),
        f("assignedTo", Kind::Str),
        f("customFields", Kind::Array),
    ],
};

/// `UpdateStatusDto`.
pub const UPDATE_OPPORTUNITY_STATUS: Dto = Dto {
    schema: "UpdateStatusDto",
    fields: &[
        req("status", Kind::Enum(OPPORTUNITY_STATUS)),
        f("lostReasonId", Kind::Str),
    ],
};

/// `UpsertOpportunityDto` (current spec) plus `contactId`.
pub const UPSERT_OPPORTUNITY: Dto = Dto {
    schema: "UpsertOpportunityDto",
    fields: &[
        f("id", Kind::Str),
        req("pipelineId", Kind::Str),
        req("locationId", Kind::Str),
        f("contactId", Kind::Str),
        Field {
            name: "followers",
            kind: Kind::StrArray,
            required: true,
            nullable: false,
        },
        Field {
            name: "isRemoveAllFollowers",
            kind: Kind::Bool,
            required: true,
            nullable: false,
        },
        req("followersActionType", Kind::Enum(&["add", "remove"])),
        f("name", Kind::Str),
        f("status", Kind::Enum(OPPORTUNITY_STATUS)),
        f("pipelineStageId", Kind::Str),
        // The spec types it `object` with the example 220; numbers are what callers send.
        f("monetaryValue", Kind::Any),
        f("assignedTo", Kind::Str),
        f("lostReasonId", Kind::Str),
    ],
};

/// Checks `body` against `dto`; the messages are GHL's (class-validator's) wording.
pub fn validate(dto: &Dto, body: &Value) -> Result<(), Vec<String>> {
    let Some(object) = body.as_object() else {
        return Err(vec!["request body must be a JSON object".to_owned()]);
    };
    let mut messages = Vec::new();
    for key in object.keys() {
        if !dto.fields.iter().any(|f| f.name == key) {
            messages.push(format!("property {key} should not exist"));
        }
    }
    for field in dto.fields {
        match object.get(field.name) {
            None => {
                if field.required {
                    messages.push(format!("{} should not be empty", field.name));
                    if let Some(m) = type_message(field) {
                        messages.push(m);
                    }
                }
            }
            Some(Value::Null) if field.nullable && !field.required => {}
            Some(value) => {
                if field.required && is_empty(value) {
                    messages.push(format!("{} should not be empty", field.name));
                } else if !fits(field.kind, value) {
                    messages.extend(type_message(field));
                }
            }
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(messages)
    }
}

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str().is_some_and(|s| s.trim().is_empty())
}

fn fits(kind: Kind, value: &Value) -> bool {
    match kind {
        Kind::Str => value.is_string(),
        Kind::Email => value.as_str().is_some_and(looks_like_email),
        Kind::Bool => value.is_boolean(),
        Kind::Num => value.is_number(),
        Kind::StrArray => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::Array => value.is_array(),
        Kind::Object => value.is_object(),
        Kind::Enum(options) => value.as_str().is_some_and(|s| options.contains(&s)),
        Kind::Any => true,
    }
}

fn type_message(field: &Field) -> Option<String> {
    let name = field.name;
    Some(match field.kind {
        Kind::Str => format!("{name} must be a string"),
        Kind::Email => format!("{name} must be an email"),
        Kind::Bool => format!("{name} must be a boolean value"),
        Kind::Num => format!("{name} must be a number conforming to the specified constraints"),
        Kind::StrArray => format!("each value in {name} must be a string"),
        Kind::Array => format!("{name} must be an array"),
        Kind::Object => format!("{name} must be an object"),
        Kind::Enum(options) => {
            format!(
                "{name} must be one of the following values: {}",
                options.join(", ")
            )
        }
        Kind::Any => return None,
    })
}

/// The shape class-validator's `IsEmail` accepts, closely enough for a simulator.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_property_and_missing_required_are_reported() {
        let err = validate(
            &CREATE_CONTACT,
            &json!({"additionalEmails": [], "email": "nope"}),
        )
        .unwrap_err();
        assert!(err.contains(&"property additionalEmails should not exist".to_owned()));
        assert!(err.contains(&"locationId should not be empty".to_owned()));
        assert!(err.contains(&"email must be an email".to_owned()));
    }

    #[test]
    fn nullable_fields_accept_null() {
        assert!(validate(&CREATE_CONTACT, &json!({"locationId": "l", "email": null})).is_ok());
        assert!(validate(&CREATE_CONTACT, &json!({"locationId": "l", "dnd": null})).is_err());
    }

    #[test]
    fn enums_list_their_values() {
        let err = validate(&UPDATE_OPPORTUNITY_STATUS, &json!({"status": "closed"})).unwrap_err();
        assert_eq!(
            err,
            vec!["status must be one of the following values: open, won, lost, abandoned, all"]
        );
    }

    #[test]
    fn update_contact_rejects_location_and_gender_and_takes_company() {
        let err = validate(
            &UPDATE_CONTACT,
            &json!({"locationId": "l", "gender": "x", "companyName": "x", "ssn": "1"}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![
                "property gender should not exist",
                "property locationId should not exist"
            ]
        );
    }
}
