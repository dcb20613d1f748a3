//! Certification bodies and their keys through a real database, on both backends:
//! retired keys stay, a kid never changes its key, every change is an event.

mod common;

use registry_core::test_support::TestDatabase;
use registry_core::*;

fn registry(db: &TestDatabase) -> Registry {
    Registry::open(
        &DatabaseUrl::parse(&db.url).expect("url"),
        &PoolOptions::default(),
        SchemeRules::pso(),
    )
    .expect("open")
}

fn key(kid: &str, x: &str) -> PublicKey {
    PublicKey::new(
        kid,
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{kid}"}}"#),
    )
    .expect("key")
}

fn current(body: &CertificationBody) -> Vec<&str> {
    body.keys
        .iter()
        .filter(|k| k.is_current())
        .map(|k| k.kid.as_str())
        .collect()
}

fn keys_rotate_and_retired_keys_stay(db: TestDatabase) {
    let r = registry(&db);
    let id = CbId::parse("kiwa").expect("id");
    let body = r
        .accredit(Accredit {
            id: id.clone(),
            name: "Kiwa".into(),
            keys: KeySource::Inline(vec![key("k1", "AAA")]),
        })
        .expect("accredit");
    assert_eq!(current(&body), ["k1"]);
    assert!(matches!(
        r.accredit(Accredit {
            id: id.clone(),
            name: "Kiwa".into(),
            keys: KeySource::Inline(vec![])
        }),
        Err(CoreError::CertificationBodyExists(_))
    ));

    let change = |keys| CertificationBodyChange {
        keys: Some(KeySource::Inline(keys)),
        ..Default::default()
    };
    let body = r
        .change_certification_body(&id, change(vec![key("k2", "BBB")]))
        .expect("rotate");
    assert_eq!(current(&body), ["k2"]);
    assert_eq!(body.keys.len(), 2, "k1 is kept, retired");
    assert!(body.current_key("k1").is_none() && body.current_key("k2").is_some());

    let events_before = r.events(0, 100).expect("feed").len();
    let same = r
        .change_certification_body(&id, change(vec![key("k2", "BBB")]))
        .expect("no-op");
    assert_eq!(same, body);
    assert_eq!(
        r.events(0, 100).expect("feed").len(),
        events_before,
        "a change that changes nothing records nothing"
    );

    match r.change_certification_body(&id, change(vec![key("k1", "CCC")])) {
        Err(CoreError::Validation(e)) => assert_eq!(e[0].field, "jwks.keys[0].kid"),
        other => panic!("a kid must never change its key: {other:?}"),
    }
    assert_eq!(
        r.certification_body(&id).expect("read"),
        body,
        "refused change wrote nothing"
    );

    let suspended = r
        .change_certification_body(
            &id,
            CertificationBodyChange {
                accreditation: Some(Accreditation::Suspended),
                ..Default::default()
            },
        )
        .expect("suspend");
    assert_eq!(suspended.accreditation, Accreditation::Suspended);
    let kinds: Vec<EventKind> = r
        .events(0, 100)
        .expect("feed")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::CertificationBodyAccredited,
            EventKind::CertificationBodyChanged,
            EventKind::CertificationBodyChanged
        ]
    );
}

fn published_keys_sync_with_an_event(db: TestDatabase) {
    let r = registry(&db);
    let id = CbId::parse("normec").expect("id");
    r.accredit(Accredit {
        id: id.clone(),
        name: "Normec".into(),
        keys: KeySource::Published {
            uri: "https://normec.example/jwks.json".into(),
            keys: vec![],
        },
    })
    .expect("accredit");
    let body = r
        .sync_published_keys(&id, &[key("a", "AAA"), key("b", "BBB")])
        .expect("first fetch");
    assert_eq!(current(&body), ["a", "b"]);
    let body = r
        .sync_published_keys(&id, &[key("b", "BBB"), key("c", "CCC")])
        .expect("rotation");
    assert_eq!(current(&body), ["b", "c"]);
    assert!(body.keys.iter().any(|k| k.kid == "a" && !k.is_current()));
    let changes: Vec<_> = r
        .events(0, 100)
        .expect("feed")
        .into_iter()
        .filter(|e| e.kind == EventKind::CertificationBodyKeysChanged)
        .map(|e| e.detail)
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[1],
        serde_json::json!({"added": ["c"], "retired": ["a"]})
    );
}

on_both_backends!(
    keys_rotate_and_retired_keys_stay,
    published_keys_sync_with_an_event
);
