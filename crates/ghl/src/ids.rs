//! Typed identifiers of GHL objects.
//!
//! GHL ids are opaque strings (20-character Firestore-style ids for contacts, locations and
//! pipelines, UUIDs for pipeline stages, 24-hex ObjectIds for some others). Wrapping each kind
//! in its own type stops a contact id from being passed where a location id is expected; the
//! wrappers add no validation because GHL documents no format we could rely on.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id received from GHL or stored earlier.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as GHL spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the id.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A sub-account ("location").
    LocationId
);
id_type!(
    /// An agency ("company").
    CompanyId
);
id_type!(
    /// A contact of a location.
    ContactId
);
id_type!(
    /// A note on a contact.
    NoteId
);
id_type!(
    /// A task on a contact.
    TaskId
);
id_type!(
    /// A custom field definition of a location; ids differ per location.
    CustomFieldId
);
id_type!(
    /// An opportunity.
    OpportunityId
);
id_type!(
    /// A pipeline of a location.
    PipelineId
);
id_type!(
    /// A stage of a pipeline (a UUID in GHL).
    PipelineStageId
);
id_type!(
    /// A conversation (one per contact and channel family).
    ConversationId
);
id_type!(
    /// A message in a conversation (SMS, email, call, ...).
    MessageId
);
id_type!(
    /// A GHL user.
    UserId
);
id_type!(
    /// An appointment.
    AppointmentId
);
