//! CloudTalk's ids and the lenient readers its answers need: ids are integers in the
//! documents and strings in the answers, phone numbers come as numbers without `+`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A number that may arrive as a JSON number or a string of digits.
fn lenient_u64<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(de)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an id"))),
    }
}

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                lenient_u64(de).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id!(
    /// A CloudTalk contact.
    ContactId
);
id!(
    /// A note on a contact.
    NoteId
);
id!(
    /// An activity on a contact's timeline.
    ActivityId
);
id!(
    /// An agent (a CloudTalk user).
    AgentId
);

/// An optional id that may be a number, a string, `null` or empty.
pub(crate) fn opt_id<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<u64>,
{
    let raw = Option::<serde_json::Value>::deserialize(de)?;
    Ok(match raw {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(T::from),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok().map(T::from),
        _ => None,
    })
}

macro_rules! from_u64 {
    ($($name:ident),*) => {
        $(impl From<u64> for $name {
            fn from(n: u64) -> Self {
                Self(n)
            }
        })*
    };
}

from_u64!(ContactId, NoteId, ActivityId, AgentId);

/// A phone number as CloudTalk sent it, in E.164 with its `+` (answers may drop it and send
/// a JSON number).
pub(crate) fn phone<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let raw = serde_json::Value::deserialize(de)?;
    let digits = match raw {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        other => return Err(serde::de::Error::custom(format!("{other} is not a number"))),
    };
    Ok(if digits.starts_with('+') || digits.is_empty() {
        digits
    } else {
        format!("+{digits}")
    })
}

/// Reads `null` or a missing field as `T::default()`.
pub(crate) fn null_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// An optional string that may come as a number (CloudTalk's answers mix them).
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(de)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row {
        id: ContactId,
        #[serde(deserialize_with = "phone")]
        number: String,
    }

    #[test]
    fn ids_and_numbers_are_read_as_answers_send_them() {
        let a: Row = serde_json::from_str(r#"{"id": "1234", "number": 442012345678}"#).unwrap();
        assert_eq!(
            (a.id, a.number.as_str()),
            (ContactId(1234), "+442012345678")
        );
        let b: Row = serde_json::from_str(r#"{"id": 7, "number": "+393513416607"}"#).unwrap();
        assert_eq!((b.id, b.number.as_str()), (ContactId(7), "+393513416607"));
        assert!(serde_json::from_str::<Row>(r#"{"id": "x", "number": "1"}"#).is_err());
        assert_eq!(serde_json::to_string(&ContactId(9)).unwrap(), "9");
    }
}
