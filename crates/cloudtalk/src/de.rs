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
id!(
    /// A call (its CDR id; the `call_id` of workflow bodies).
    CallId
);
id!(
    /// A dialer campaign.
    CampaignId
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

from_u64!(ContactId, NoteId, ActivityId, AgentId, CallId, CampaignId);

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

/// A string that may come as a number, `null` or be missing (read as empty).
pub(crate) fn text<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(opt_text(de)?.unwrap_or_default())
}

/// An optional count or id that may be a number (a whole float is read too), a string of
/// digits, `null` or empty.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(de)? {
        Some(serde_json::Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// An optional flag that may be a boolean, `0`/`1` or `"0"`/`"1"`/`"true"`/`"false"`
/// (CloudTalk's answers mix them).
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(de: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(de)? {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::Number(n)) => n.as_f64().map(|f| f != 0.0),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(true),
            "0" | "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A phone number as [`phone`] reads it, or nothing for `null` or an empty string.
pub(crate) fn opt_phone<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(de)? {
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::String(_))) => {
            Some(phone(v).map_err(serde::de::Error::custom)?).filter(|p| !p.is_empty())
        }
        _ => None,
    })
}

/// A list of phone numbers (each as [`phone`] reads it); `null` is empty.
pub(crate) fn phones<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let raw = Option::<Vec<serde_json::Value>>::deserialize(de)?.unwrap_or_default();
    raw.into_iter()
        .map(|v| phone(v).map_err(serde::de::Error::custom))
        .filter(|p| !matches!(p, Ok(p) if p.is_empty()))
        .collect()
}

/// One object, or each of a list, or nothing: CloudTalk's documents describe some parts of
/// a listing as one object and its examples send a list.
pub(crate) fn one_or_many<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(de)? {
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(t)) => vec![t],
        _ => Vec::new(),
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
