//! Property-based fuzzing on stable Rust: what a client sends — compact JWSs,
//! their claims and payloads, JSON bodies, query strings, cursors, names and
//! identifiers — is read by the same functions the server reads it with, and
//! no input may panic. Where another implementation exists, the reading is
//! checked against it (serde_json for JSON).
//!
//! `make test` runs a few thousand cases per target; `make fuzz` runs each
//! target for `FUZZ_SECONDS` (default 1800 in all) with fresh seeds and reports
//! how many cases ran.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use pso_api::extract::{json_value, query, value_as};
use serde_json::{Value, json};

/// Runs `property` over `strategy`: a few thousand cases, or — under `make
/// fuzz` — until this target's share of `FUZZ_SECONDS` is spent, seed after
/// seed. Returns how many cases ran.
fn fuzz<S: Strategy>(name: &str, strategy: S, property: impl Fn(S::Value)) -> u64
where
    S::Value: std::fmt::Debug + Clone,
{
    let budget = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|total| Duration::from_secs(total / TARGETS));
    let cases_per_round = 2000;
    let started = Instant::now();
    let mut ran = 0u64;
    let mut round = 0u64;
    loop {
        let seed: [u8; 32] = {
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&round.to_le_bytes());
            if budget.is_some() {
                s[8..16].copy_from_slice(&rand_seed().to_le_bytes());
            }
            s
        };
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: cases_per_round,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        for _ in 0..cases_per_round {
            let tree = strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("{name}: no value: {e}"));
            let value = tree.current();
            let shown = format!("{value:?}");
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| property(value))).is_err() {
                panic!("{name}: panicked on {shown}");
            }
            ran += 1;
        }
        round += 1;
        match budget {
            Some(b) if started.elapsed() < b => {}
            _ => break,
        }
    }
    println!(
        "fuzz {name}: {ran} cases in {:.1} s, no panic",
        started.elapsed().as_secs_f64()
    );
    ran
}

/// The fuzz targets below (each gets an equal share of `FUZZ_SECONDS`).
const TARGETS: u64 = 8;

fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// Any JSON value, nested a few levels, with the names and shapes our bodies use.
fn json_any() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "iss",
        "aud",
        "iat",
        "exp",
        "jti",
        "act",
        "sub",
        "alg",
        "kid",
        "crit",
        "certificate",
        "period",
        "holder",
        "kvkNumber",
        "name",
        "level",
        "validFrom",
        "validUntil",
        "reason",
        "effectiveAt",
        "replaces",
        "kvkNumbers",
        "on",
        "until",
        "levelMin",
        "keys",
        "jwks",
        "jwksUri",
        "kty",
        "crv",
        "x",
        "y",
        "id",
        "accreditation",
        "subsidiaries",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "12345678",
            "trede_2",
            "2026-01-15",
            "9999-12-31",
            "2026-06-01T00:00:00Z",
            "kiwa",
            "EdDSA",
            "issue",
            "PSO-2026-000001",
            "\u{202e}",
            "\u{200b}",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..8).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A valid issuance's claims, with some members replaced by anything.
fn claims_like() -> impl Strategy<Value = Value> {
    let base = json!({
        "iss": "kiwa", "aud": "https://register.test/pso", "iat": 1_790_000_000, "exp": 1_790_000_300,
        "jti": "kiwa-1", "act": "issue",
        "certificate": {
            "cbReference": "KIWA-1", "handbookVersion": "2.1", "level": "trede_2", "pso30plus": false,
            "holder": {"kvkNumber": "12345678", "name": "Bedrijf B.V.", "tradeNames": [], "city": "Utrecht",
                       "province": "Utrecht", "sbiCodes": ["4120"]},
            "validFrom": "2026-01-15", "auditDate": "2025-12-10", "referenceYear": 2025
        }
    });
    let paths = prop::sample::select(vec![
        vec!["iat"],
        vec!["exp"],
        vec!["certificate"],
        vec!["certificate", "level"],
        vec!["certificate", "validFrom"],
        vec!["certificate", "validUntil"],
        vec!["certificate", "referenceYear"],
        vec!["certificate", "holder"],
        vec!["certificate", "holder", "name"],
        vec!["certificate", "holder", "tradeNames"],
        vec!["certificate", "subsidiaries"],
        vec!["certificate", "replaces"],
        vec!["period"],
        vec!["reason"],
        vec!["effectiveAt"],
    ]);
    prop::collection::vec((paths, json_any()), 0..4).prop_map(move |edits| {
        let mut claims = base.clone();
        for (path, value) in edits {
            let mut at = &mut claims;
            for (i, key) in path.iter().enumerate() {
                if !at.is_object() {
                    *at = json!({});
                }
                if i + 1 == path.len() {
                    at[*key] = value.clone();
                } else {
                    at = &mut at[*key];
                }
            }
        }
        claims
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn fuzz_compact_jws_reading() {
    let headers = prop_oneof![
        json_any().prop_map(|v| v.to_string()),
        Just(r#"{"alg":"EdDSA","kid":"k"}"#.to_owned()),
        Just(r#"{"alg":"none","kid":"k","alg":"EdDSA"}"#.to_owned()),
        ".{0,64}",
    ];
    let bodies = prop_oneof![
        claims_like().prop_map(|v| v.to_string()),
        json_any().prop_map(|v| v.to_string()),
        ".{0,64}",
    ];
    let jws = prop_oneof![
        (headers, bodies, "[A-Za-z0-9_-]{0,90}").prop_map(|(h, c, s)| format!(
            "{}.{}.{s}",
            b64(h.as_bytes()),
            b64(c.as_bytes())
        )),
        "[A-Za-z0-9_.=+/-]{0,200}",
        ".{0,200}",
    ];
    fuzz("jws", jws, |jws| {
        if let Ok(read) = pso_api::signed_request::parse(&jws) {
            // What was read is what was sent.
            assert!(jws.starts_with(read.signing_input));
            assert!(read.claims.contains_key("iss"));
        }
    });
}

#[test]
fn fuzz_claim_times() {
    let t = prop_oneof![any::<i64>(), 1_700_000_000i64..1_900_000_000];
    fuzz(
        "claim times",
        (t.clone(), t.clone(), t),
        |(iat, exp, now)| {
            let ok = pso_api::signed_request::check_times(iat, exp, now).is_ok();
            // The rule, in i128 (no claim can overflow it).
            let (iat, exp, now) = (i128::from(iat), i128::from(exp), i128::from(now));
            let meant = exp + 60 > now && iat - 60 <= now && exp >= iat && exp - iat <= 600;
            assert_eq!(ok, meant);
        },
    );
}

#[test]
fn fuzz_signed_payloads() {
    use pso_api::payload::{IssueClaims, ReinstateClaims, RenewClaims, StandingClaims};
    fuzz("signed payloads", claims_like(), |claims| {
        if let Ok(c) = value_as::<IssueClaims>(claims.clone()) {
            let _ = c.command();
        }
        let number = registry_core::CertificateNumber::assign("PSO", 2026, 1);
        if let Ok(c) = value_as::<RenewClaims>(claims.clone()) {
            let _ = c.command(number);
        }
        let _ = value_as::<StandingClaims>(claims.clone());
        let _ = value_as::<ReinstateClaims>(claims);
    });
}

#[test]
fn fuzz_json_bodies() {
    use pso_api::routes::admin::{AccreditRequest, CertificationBodyPatch};
    use pso_api::routes::status::BatchRequest;
    fuzz("json bodies", json_any(), |value| {
        let _ = value_as::<BatchRequest>(value.clone());
        let _ = value_as::<AccreditRequest>(value.clone());
        let _ = value_as::<CertificationBodyPatch>(value.clone());
        let _ = value_as::<pso_api::payload::RevocationRequest>(value);
    });
}

#[test]
fn fuzz_json_reading_against_serde_json() {
    let texts = prop_oneof![
        json_any().prop_map(|v| v.to_string()),
        json_any().prop_map(|v| {
            // The same member twice.
            let t = v.to_string();
            t.replacen('{', r#"{"a":1,"a":2,"#, 1).replace(",}", "}")
        }),
        ".{0,80}",
    ];
    fuzz("json reading", texts, |text| {
        let ours = json_value(text.as_bytes());
        let reference = serde_json::from_slice::<Value>(text.as_bytes());
        match (&ours, &reference) {
            // One reading: the same value serde_json reads.
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            // Refused by ours only for a member named twice.
            (Err(e), Ok(_)) => assert!(e.to_string().contains("appears twice"), "{e}"),
            (Ok(_), Err(e)) => panic!("we read what serde_json refuses: {e}"),
            (Err(_), Err(_)) => {}
        }
    });
}

#[test]
fn fuzz_query_strings() {
    use pso_api::routes::companies::SearchParams;
    use pso_api::routes::events::FeedParams;
    use pso_api::routes::status::StatusParams;
    let names = prop::sample::select(vec![
        "q",
        "kvk",
        "city",
        "province",
        "sbi",
        "levelMin",
        "pso30plus",
        "status",
        "certificationBody",
        "validOn",
        "cursor",
        "limit",
        "on",
        "until",
        "after",
        "level_min",
        "%00",
        "q[]",
        "",
    ]);
    let values = prop_oneof![
        ".{0,30}",
        prop::sample::select(vec![
            "2026-01-15",
            "9999-12-31",
            "10000-01-01",
            "-1",
            "0",
            "501",
            "9223372036854775808",
            "trede_2",
            "true",
            "%ZZ",
            "%E2%80%AE",
            "+",
            "eyJ4Ijo1fQ",
        ])
        .prop_map(str::to_owned),
    ];
    let query_string = prop_oneof![
        prop::collection::vec((names, values), 0..6).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
        ".{0,120}",
    ];
    fuzz("query strings", query_string, |raw| {
        if let Ok(p) = query::<SearchParams>(&raw) {
            let _ = p.search();
        }
        let _ = query::<StatusParams>(&raw);
        let _ = query::<FeedParams>(&raw);
    });
}

#[test]
fn fuzz_cursors() {
    let cursors = prop_oneof![
        ".{0,64}",
        json_any().prop_map(|v| b64(v.to_string().as_bytes())),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| b64(&b)),
    ];
    fuzz("cursors", cursors, |raw| {
        let _ = pso_api::paging::decode_cursor::<registry_core::SearchCursor>(Some(&raw));
    });
}

#[test]
fn fuzz_names_and_identifiers() {
    let text = prop_oneof![
        ".{0,60}",
        prop::collection::vec(any::<char>(), 0..60).prop_map(|c| c.into_iter().collect()),
    ];
    fuzz("names and identifiers", text, |s: String| {
        if let Ok(name) = registry_core::Name::parse(&s) {
            // A name read is read again as itself.
            assert_eq!(
                registry_core::Name::parse(name.as_str()).map(String::from),
                Ok(name.as_str().to_owned())
            );
        }
        let _ = registry_core::KvkNumber::parse(&s);
        let _ = registry_core::CertificateNumber::parse(&s);
        let _ = registry_core::CbId::parse(&s);
        let _ = registry_core::time::parse_date(&s);
        let _ = registry_core::text::search_words(&s);
    });
}
