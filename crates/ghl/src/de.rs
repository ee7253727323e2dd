//! Lenient deserialisation helpers: GHL sends `null` where its documents promise a list.

use serde::{Deserialize, Deserializer};

/// Reads `null` or a missing field as `T::default()`.
pub(crate) fn null_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}
