//! Locations (sub-accounts) as GHL describes them (`apps/locations.json`,
//! `Version: 2021-07-28`): the business, its time zone and its duplicate settings.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{CompanyId, LocationId};

/// A location (`GetLocationByIdSchema`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Location id.
    pub id: LocationId,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// The agency it belongs to.
    #[serde(default)]
    pub company_id: Option<CompanyId>,
    /// IANA time zone of the business.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Two-letter country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Duplicate handling and similar switches.
    #[serde(default)]
    pub settings: Option<LocationSettings>,
    /// Every other field GHL sent (`business`, `social`, address, ...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `SettingsSchema` of a location.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationSettings {
    /// "Allow Duplicate Contact".
    #[serde(default)]
    pub allow_duplicate_contact: Option<bool>,
    /// "Allow Duplicate Opportunity".
    #[serde(default)]
    pub allow_duplicate_opportunity: Option<bool>,
    /// Merge Facebook names.
    #[serde(default)]
    pub allow_facebook_name_merge: Option<bool>,
    /// Contacts take no time zone of their own.
    #[serde(default)]
    pub disable_contact_timezone: Option<bool>,
}

#[cfg(feature = "client")]
mod calls {
    use super::*;
    use crate::client::{ApiVersion, Client, Response};
    use crate::error::Error;
    use reqwest::Method;

    #[derive(Deserialize)]
    struct LocationEnvelope {
        location: Location,
    }

    impl Client {
        /// `GET /locations/{id}`, with the location's token or its agency's.
        pub async fn get_location(
            &self,
            location_id: &LocationId,
        ) -> Result<Response<Location>, Error> {
            let rb = self.request(
                Method::GET,
                &["locations", location_id.as_str()],
                Some(ApiVersion::V2021_07_28),
            )?;
            Ok(self
                .send_json::<LocationEnvelope>(rb)
                .await?
                .map(|e| e.location))
        }
    }
}
