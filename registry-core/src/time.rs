//! How dates in the register become instants.
//!
//! A date-only bound means the start of that day in Europe/Amsterdam (API.md,
//! "General"): `valid_from` is inclusive, `valid_until` exclusive.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;

/// The last day the register knows: dates and instants are four-digit years,
/// and both backends order what they store correctly up to the end of it.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// Whether `t` lies within the days the register knows (up to the end of
/// [`LAST_DAY`], UTC).
pub fn within_range(t: DateTime<Utc>) -> bool {
    t.date_naive() <= LAST_DAY
}

/// The instant at which `date` begins in Europe/Amsterdam.
///
/// Midnight always exists there (daylight saving changes at 02:00/03:00), so the
/// earliest mapping is the only one.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    // The days a register asks about, worked out once: the time zone's rules
    // are a search through its transitions, and the status rule asks often.
    static DAYS: std::sync::OnceLock<Vec<i64>> = std::sync::OnceLock::new();
    let days = DAYS.get_or_init(|| {
        (0..TABLE_DAYS)
            .map(|i| zone_start_of_day(TABLE_FIRST + Days::new(i)).timestamp())
            .collect()
    });
    let index = (date - TABLE_FIRST).num_days();
    usize::try_from(index)
        .ok()
        .and_then(|i| days.get(i))
        .and_then(|s| DateTime::from_timestamp(*s, 0))
        .unwrap_or_else(|| zone_start_of_day(date))
}

/// The first day [`start_of_day`] keeps worked out, and how many follow.
const TABLE_FIRST: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
const TABLE_DAYS: u64 = 366 * 120;

/// [`start_of_day`] from the time zone's rules.
fn zone_start_of_day(date: NaiveDate) -> DateTime<Utc> {
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

/// A calendar date written `YYYY-MM-DD` (RFC 3339 `full-date`: exactly ten
/// characters, a real day), read without a format-string parser (this runs for
/// every status question).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
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

    #[test]
    fn the_day_table_is_the_time_zone() {
        let mut day = NaiveDate::from_ymd_opt(1985, 1, 1).expect("date");
        while day < NaiveDate::from_ymd_opt(2115, 1, 1).expect("date") {
            assert_eq!(start_of_day(day), zone_start_of_day(day), "{day}");
            day = day + Days::new(1);
        }
        let far = NaiveDate::from_ymd_opt(9999, 12, 31).expect("date");
        assert_eq!(start_of_day(far), zone_start_of_day(far));
    }

    #[test]
    fn dates_are_read_as_full_dates_only() {
        for (text, reading) in [
            ("2026-06-01", NaiveDate::from_ymd_opt(2026, 6, 1)),
            ("0000-01-01", NaiveDate::from_ymd_opt(0, 1, 1)),
            ("2028-02-29", NaiveDate::from_ymd_opt(2028, 2, 29)),
            ("2027-02-29", None),
            ("2026-13-01", None),
            ("2026-00-10", None),
            ("2026-6-01", None),
            ("2026-06-1", None),
            ("+026-06-01", None),
            ("2026/06/01", None),
            ("2026-06-01T", None),
            ("２０２６-06-01", None),
        ] {
            assert_eq!(parse_date(text), reading, "{text}");
            // Where the text has the shape, chrono reads the same day (chrono
            // alone also reads `+026-06-01` and other shapes RFC 3339 has not).
            let shaped = text.len() == 10
                && text.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if shaped {
                let chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
                assert_eq!(parse_date(text), chrono, "{text} as chrono reads it");
            }
        }
    }

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
