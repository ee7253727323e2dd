//! Millisecond timestamps and the conversions GHL's ISO strings need.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Millis;

/// An RFC 3339 timestamp as milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// Milliseconds since the epoch as RFC 3339 in UTC (`2026-11-21T10:00:00.5Z`).
pub fn format_rfc3339_ms(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Milliseconds until the next UTC midnight after `now`.
pub fn until_next_utc_midnight(now: Millis) -> Millis {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let next = (t.date() + time::Duration::days(1)).midnight().assume_utc();
    ((next - t).whole_milliseconds() as Millis).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ghl_timestamps() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.500Z"), Some(1_500));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(format_rfc3339_ms(1_500), "1970-01-01T00:00:01.5Z");
        assert_eq!(
            parse_rfc3339_ms(&format_rfc3339_ms(1_763_719_200_123)),
            Some(1_763_719_200_123)
        );
    }

    #[test]
    fn midnight() {
        assert_eq!(until_next_utc_midnight(0), 86_400_000);
        assert_eq!(until_next_utc_midnight(86_399_000), 1_000);
    }
}
