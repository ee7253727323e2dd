//! GHL operations, one module per API group, each adding methods to [`crate::Client`].
//!
//! Request types serialise exactly the properties GHL's OpenAPI files declare for the
//! operation, because GHL rejects any other property with a 422. Response types accept every
//! documented field and keep unknown ones, because GHL returns more than it documents.

pub mod contacts;
pub mod conversations;
pub mod custom_fields;
pub mod locations;
pub mod oauth;
pub mod opportunities;

#[cfg(feature = "client")]
#[derive(serde::Deserialize)]
pub(crate) struct Succeeded {
    // GHL's own spelling.
    #[serde(default)]
    pub(crate) succeded: bool,
}
