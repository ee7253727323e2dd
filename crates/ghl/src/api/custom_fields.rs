//! Custom field definitions of a location (`apps/locations.json`, `Version: 2021-07-28`).
//!
//! Contacts carry custom values by field id only, and ids differ per location, so a caller
//! maps its field keys to ids per location with [`Client::list_custom_fields`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::de::null_default;
use crate::ids::{CustomFieldId, LocationId};

/// Which object a custom field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomFieldModel {
    /// Contact fields (`contact.<key>`).
    Contact,
    /// Opportunity fields (`opportunity.<key>`).
    Opportunity,
}

impl CustomFieldModel {
    /// GHL's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contact => "contact",
            Self::Opportunity => "opportunity",
        }
    }
}

/// GHL's custom field data types (`MONETORY` is GHL's spelling).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataType {
    /// Single-line text.
    Text,
    /// Multi-line text.
    LargeText,
    /// Number.
    Numerical,
    /// Phone number.
    Phone,
    /// Money.
    #[serde(rename = "MONETORY")]
    Monetary,
    /// Checkboxes (list of strings).
    Checkbox,
    /// Drop-down, one value.
    SingleOptions,
    /// Drop-down, several values.
    MultipleOptions,
    /// Date.
    Date,
    /// List of text boxes.
    TextboxList,
    /// File upload.
    FileUpload,
    /// Radio buttons.
    Radio,
    /// A type this client does not know.
    #[serde(untagged)]
    Other(String),
}

/// A custom field definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    /// Field id, unique to this location.
    pub id: CustomFieldId,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Key such as `contact.lead_score`.
    #[serde(default)]
    pub field_key: Option<String>,
    /// Data type.
    #[serde(default)]
    pub data_type: Option<DataType>,
    /// Placeholder text.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// Position in forms.
    #[serde(default)]
    pub position: Option<f64>,
    /// Options of option-type fields.
    #[serde(default, deserialize_with = "null_default")]
    pub picklist_options: Vec<String>,
    /// Owning location.
    #[serde(default)]
    pub location_id: Option<LocationId>,
    /// Contact or opportunity.
    #[serde(default)]
    pub model: Option<CustomFieldModel>,
    /// Every other field GHL sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl CustomField {
    /// The key without its model prefix: `lead_score` for `contact.lead_score`.
    pub fn short_key(&self) -> Option<&str> {
        let key = self.field_key.as_deref()?;
        Some(key.split_once('.').map_or(key, |(_, rest)| rest))
    }
}

/// Body of `POST /locations/{id}/customFields` (`CreateCustomFieldsDTO`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomField {
    /// Display name (required).
    pub name: String,
    /// Data type (required).
    pub data_type: DataType,
    /// Placeholder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Options of option-type fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_box_list_options: Option<Vec<Value>>,
    /// Position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// Contact or opportunity (GHL's default is contact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<CustomFieldModel>,
    /// The key (`contact.lead_score`). Not in the published schema but accepted by GHL
    /// (marketplace issue #300); without it GHL derives the key from the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_key: Option<String>,
}

/// Body of `PUT /locations/{id}/customFields/{id}` (`UpdateCustomFieldsDTO`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldUpdate {
    /// Display name (required).
    pub name: String,
    /// Placeholder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Options of option-type fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_box_list_options: Option<Vec<Value>>,
    /// Position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// Contact or opportunity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<CustomFieldModel>,
}

impl CustomFieldUpdate {
    /// A rename, changing nothing else.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            placeholder: None,
            text_box_list_options: None,
            position: None,
            model: None,
        }
    }
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use reqwest::Method;

    const V: Option<ApiVersion> = Some(ApiVersion::V2021_07_28);

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FieldsEnvelope {
        #[serde(default, deserialize_with = "null_default")]
        custom_fields: Vec<CustomField>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FieldEnvelope {
        custom_field: CustomField,
    }

    impl Client {
        /// `GET /locations/{id}/customFields`, optionally only one model's fields.
        pub async fn list_custom_fields(
            &self,
            location_id: &LocationId,
            model: Option<CustomFieldModel>,
        ) -> Result<Response<Vec<CustomField>>, Error> {
            let mut rb = self.request(
                Method::GET,
                &["locations", location_id.as_str(), "customFields"],
                V,
            )?;
            if let Some(model) = model {
                rb = rb.query(&[("model", model.as_str())]);
            }
            Ok(self
                .send_json::<FieldsEnvelope>(rb)
                .await?
                .map(|e| e.custom_fields))
        }

        /// `GET /locations/{id}/customFields/{id}`; `id_or_key` is a field id or a key such
        /// as `contact.lead_score`.
        pub async fn get_custom_field(
            &self,
            location_id: &LocationId,
            id_or_key: &str,
        ) -> Result<Response<CustomField>, Error> {
            let rb = self.request(
                Method::GET,
                &["locations", location_id.as_str(), "customFields", id_or_key],
                V,
            )?;
            Ok(self
                .send_json::<FieldEnvelope>(rb)
                .await?
                .map(|e| e.custom_field))
        }

        /// `PUT /locations/{id}/customFields/{id}`.
        pub async fn update_custom_field(
            &self,
            location_id: &LocationId,
            id: &CustomFieldId,
            update: &CustomFieldUpdate,
        ) -> Result<Response<CustomField>, Error> {
            let rb = self
                .request(
                    Method::PUT,
                    &[
                        "locations",
                        location_id.as_str(),
                        "customFields",
                        id.as_str(),
                    ],
                    V,
                )?
                .json(update);
            Ok(self
                .send_json::<FieldEnvelope>(rb)
                .await?
                .map(|e| e.custom_field))
        }

        /// `DELETE /locations/{id}/customFields/{id}`: the field and its values on every
        /// contact. The body is GHL's `{succeded}` flag.
        pub async fn delete_custom_field(
            &self,
            location_id: &LocationId,
            id: &CustomFieldId,
        ) -> Result<Response<bool>, Error> {
            let rb = self.request(
                Method::DELETE,
                &[
                    "locations",
                    location_id.as_str(),
                    "customFields",
                    id.as_str(),
                ],
                V,
            )?;
            Ok(self
                .send_json::<crate::api::Succeeded>(rb)
                .await?
                .map(|s| s.succeded))
        }

        /// `POST /locations/{id}/customFields`.
        pub async fn create_custom_field(
            &self,
            location_id: &LocationId,
            field: &NewCustomField,
        ) -> Result<Response<CustomField>, Error> {
            let rb = self
                .request(
                    Method::POST,
                    &["locations", location_id.as_str(), "customFields"],
                    V,
                )?
                .json(field);
            Ok(self
                .send_json::<FieldEnvelope>(rb)
                .await?
                .map(|e| e.custom_field))
        }
    }
}
