//! How dates in the register become instants.
//!
//! A date-only bound means the start of that day in Europe/Amsterdam (API.md,
//! "General"): `valid_from` is inclusive, `valid_until` exclusive.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;

/// The instant at which `date` begins in Europe/Amsterdam.
///
/// Midnight always exists there (daylight saving changes at 02:00/03:00), so the
/// earliest mapping is the only one.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    match Amsterdam.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Unreachable for Amsterdam; fall back to UTC midnight rather than panic.
        None => midnight.and_utc(),
    }
}

/// The instant at which `date` ends in Europe/Amsterdam: the start of the next day.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    start_of_day(
        date.checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX),
    )
}

/// Now, to the microsecond: the precision both backends store, so that what is
/// written reads back equal.
pub fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `t` to the microsecond (see [`now`]).
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The calendar date in Europe/Amsterdam at instant `t`.
pub fn date_at(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Amsterdam).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn day_starts_at_amsterdam_midnight_in_winter_and_summer() {
        assert_eq!(
            start_of_day(date("2026-01-15")).to_rfc3339(),
            "2026-01-14T23:00:00+00:00"
        );
        assert_eq!(
            start_of_day(date("2026-07-01")).to_rfc3339(),
            "2026-06-30T22:00:00+00:00"
        );
        // The day daylight saving starts still begins at 00:00 CET.
        assert_eq!(
            start_of_day(date("2026-03-29")).to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(
            end_of_day(date("2026-03-29")).to_rfc3339(),
            "2026-03-29T22:00:00+00:00"
        );
        assert_eq!(
            date_at(start_of_day(date("2026-07-01"))),
            date("2026-07-01")
        );
    }
}
