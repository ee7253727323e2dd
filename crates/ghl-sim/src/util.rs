//! Ids and timestamps in GHL's formats.

use rand::Rng;
use rand::distr::Alphanumeric;
use time::OffsetDateTime;
use time::format_description::well_known::iso8601::{self, EncodedConfig, Iso8601};

/// A 20-character alphanumeric id, the shape GHL uses for contacts, locations and pipelines.
pub fn new_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// A 20-character id from a given generator (deterministic seeds).
pub fn new_id_from(rng: &mut impl Rng) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// Whether `id` has the shape of a GHL (Firebase-style) id: 20 letters and digits.
pub fn is_ghl_id(id: &str) -> bool {
    id.len() == 20 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A random UUID, the shape GHL uses for pipeline stages and webhook ids.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

const ISO_MILLIS: EncodedConfig = iso8601::Config::DEFAULT
    .set_time_precision(iso8601::TimePrecision::Second {
        decimal_digits: std::num::NonZeroU8::new(3),
    })
    .encode();

/// `2021-07-02T05:18:26.704Z`, the format of GHL's timestamps.
pub fn iso(t: OffsetDateTime) -> String {
    t.format(&Iso8601::<ISO_MILLIS>)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The current time in GHL's format.
pub fn now_iso() -> String {
    iso(OffsetDateTime::now_utc())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A time from milliseconds since the epoch.
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Keeps `+` and digits; numbers without a country code are taken as North American,
/// as a US location would.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return None;
    }
    if raw.trim_start().starts_with('+') {
        Some(format!("+{digits}"))
    } else if digits.len() == 10 {
        Some(format!("+1{digits}"))
    } else {
        Some(format!("+{digits}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_milliseconds_and_z() {
        let s = iso(from_ms(1_625_203_104_328));
        assert_eq!(s, "2021-07-02T05:18:24.328Z");
    }

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(
            normalize_phone("+1 888-888-8888").as_deref(),
            Some("+18888888888")
        );
        assert_eq!(
            normalize_phone("(888) 888-8888").as_deref(),
            Some("+18888888888")
        );
        assert_eq!(
            normalize_phone("+34 612 345 678").as_deref(),
            Some("+34612345678")
        );
        assert_eq!(normalize_phone("12"), None);
    }

    #[test]
    fn ids_are_twenty_alphanumerics() {
        let id = new_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
