//! The bytes of a log leaf: one event, whole, in a canonical form that is
//! made again from the stored row (and checked so at start-up).
//!
//! A leaf is one line of JSON with its members in this fixed order and no
//! white space: `seq`, `kind`, `certificate` (its number), `certificationBody`,
//! `effectiveAt` and `recordedAt` (UTC, microseconds, `Z`), `detail` (the
//! stored JSON, verbatim) and `evidence` (the certification body's signed
//! request, verbatim); an absent value is `null`. Strings are escaped as JSON
//! requires and no further.

use chrono::{DateTime, Utc};

/// What a leaf is made of: an event as the log stores it.
#[derive(Debug, Clone, Copy)]
pub struct LeafFields<'a> {
    pub seq: i64,
    pub kind: &'a str,
    pub certificate: Option<&'a str>,
    pub certification_body: Option<&'a str>,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The stored detail: JSON text, embedded as it is.
    pub detail: &'a str,
    pub evidence: Option<&'a str>,
}

/// The longest leaf the log takes: a tile's entry bundle gives each entry a
/// 16-bit length.
pub const MAX_LEAF_BYTES: usize = u16::MAX as usize;

/// The canonical bytes of an event's leaf.
pub fn leaf_bytes(f: &LeafFields<'_>) -> Vec<u8> {
    let mut out =
        String::with_capacity(160 + f.detail.len() + f.evidence.map_or(0, str::len) + f.kind.len());
    out.push_str("{\"seq\":");
    out.push_str(&f.seq.to_string());
    out.push_str(",\"kind\":");
    string(&mut out, Some(f.kind));
    out.push_str(",\"certificate\":");
    string(&mut out, f.certificate);
    out.push_str(",\"certificationBody\":");
    string(&mut out, f.certification_body);
    out.push_str(",\"effectiveAt\":");
    instant(&mut out, f.effective_at);
    out.push_str(",\"recordedAt\":");
    instant(&mut out, f.recorded_at);
    out.push_str(",\"detail\":");
    out.push_str(f.detail);
    out.push_str(",\"evidence\":");
    string(&mut out, f.evidence);
    out.push('}');
    out.into_bytes()
}

fn string(out: &mut String, s: Option<&str>) {
    match s {
        // A `&str` always serializes.
        Some(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        None => out.push_str("null"),
    }
}

/// An instant as both backends keep it: to the microsecond.
fn instant(out: &mut String, t: DateTime<Utc>) {
    out.push('"');
    out.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_leaf_is_one_fixed_line_of_json() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .expect("instant")
            + chrono::Duration::nanoseconds(123_456_789);
        let leaf = leaf_bytes(&LeafFields {
            seq: 7,
            kind: "issued",
            certificate: Some("PSO-2026-0001"),
            certification_body: None,
            effective_at: at,
            recorded_at: at,
            detail: r#"{"level":"trede_2"}"#,
            evidence: Some("a.b\"c"),
        });
        assert_eq!(
            String::from_utf8(leaf).expect("utf-8"),
            r#"{"seq":7,"kind":"issued","certificate":"PSO-2026-0001","certificationBody":null,"effectiveAt":"2026-03-01T12:00:00.123456Z","recordedAt":"2026-03-01T12:00:00.123456Z","detail":{"level":"trede_2"},"evidence":"a.b\"c"}"#
        );
    }
}
