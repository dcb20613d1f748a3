//! The transparency log, checked from outside with implementations written
//! elsewhere: `signed_note` and `tlog_tiles` (ports of Go's
//! `golang.org/x/mod/sumdb/note` and `tlog`) open the signed checkpoint and
//! check the inclusion proofs, the consistency proofs and the tiles;
//! `ct-merkle` (another RFC 6962 implementation) rebuilds the tree from the
//! entries and checks the proofs again. A rewritten event stops the register
//! at start-up, naming the entry.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pso_api::startup::{Application, StartupError};
use pso_registry_tests::cb::{TestCb, certificate};
use pso_registry_tests::{Backend, TestApp, configuration, json, on_both_backends};
use serde_json::{Value, json};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{
    Checkpoint, Hash, HashReader, Tile, TileHashReader, TileReader, check_record, check_tree,
    record_hash, stored_hash_index, tree_hash,
};

on_both_backends!(
    the_log_verifies_with_independent_implementations,
    bad_log_requests_are_refused_clearly,
    signed_answers_verify_with_another_jose_library
);

/// The register's checkpoint, opened and checked with its published verifier
/// key: (tree size, root, the note).
async fn checkpoint(app: &TestApp) -> (u64, Hash, String) {
    let vkey = app
        .get("/v1/log/verifier-key")
        .await
        .text()
        .await
        .expect("text");
    let verifier = StandardVerifier::new(vkey.trim_end()).expect("a verifier key");
    let response = app.get("/v1/log/checkpoint").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().contains_key("register-seq"),
        "the checkpoint names the state it reflects"
    );
    let body = response.text().await.expect("text");
    let note = Note::from_bytes(body.as_bytes()).expect("a signed note");
    let (verified, _) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("signed by the register's key");
    let cp = Checkpoint::from_bytes(note.text()).expect("a checkpoint");
    assert_eq!(verified[0].name(), cp.origin());
    assert_eq!(cp.origin(), "register.test/pso");
    (cp.size(), *cp.hash(), body)
}

/// Some history: two certification bodies, issuances, a suspension.
async fn write_history(app: &TestApp, kiwa: &TestCb, from: u32, n: u32) {
    for i in from..from + n {
        let kvk = format!("{:08}", 30_000_000 + i);
        let number = app
            .issue(
                kiwa,
                certificate(&format!("LOG-{i}"), &kvk, "trede_2", "2026-01-01"),
            )
            .await;
        if i % 3 == 0 {
            let jws = kiwa.request(
                app,
                "suspend",
                Some(&number),
                json!({"reason": "audit overdue", "effectiveAt": "2026-06-01T00:00:00Z"}),
            );
            let response = app
                .post_jws(&format!("/v1/certificates/{number}/suspension"), &jws)
                .await;
            assert_eq!(
                response.status(),
                200,
                "{}",
                response.text().await.unwrap_or_default()
            );
        }
    }
}

async fn entries(app: &TestApp, size: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..size {
        let response = app.get(&format!("/v1/log/entries/{i}")).await;
        assert_eq!(response.status(), 200, "entry {i}");
        out.push(response.bytes().await.expect("bytes").to_vec());
    }
    out
}

fn hashes(body: &Value) -> Vec<Hash> {
    body["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| Hash::parse_hash(h.as_str().expect("text")).expect("a base64 hash"))
        .collect()
}

/// The tiles a client of `tlog-tiles` reads for a tree, fetched.
struct Tiles(std::collections::HashMap<Tile, Vec<u8>>);

impl TileReader for Tiles {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| self.0.get(t).cloned().ok_or(tlog_tiles::Error::InvalidTile))
            .collect()
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// C2SP's path of a tile: Go's without the height.
fn c2sp_path(tile: &Tile) -> String {
    tile.path()
        .replacen("tile/8/data/", "tile/entries/", 1)
        .replacen("tile/8/", "tile/", 1)
}

async fn the_log_verifies_with_independent_implementations(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    write_history(app, &kiwa, 0, 12).await;
    let (size, root, old_note) = checkpoint(app).await;

    // Every event is an entry, in seq order, the whole event with its evidence.
    let feed = json(app.get("/v1/events?limit=500").await).await;
    let events = feed["items"].as_array().expect("items");
    assert_eq!(size as usize, events.len(), "one entry per event");
    let leaves = entries(app, size).await;
    for (index, (leaf, event)) in leaves.iter().zip(events).enumerate() {
        let entry: Value = serde_json::from_slice(leaf).expect("an entry is JSON");
        assert_eq!(entry["seq"], event["seq"]);
        assert_eq!(
            event["logIndex"].as_u64(),
            Some(index as u64),
            "the feed names the entry"
        );
        assert_eq!(entry["kind"], event["kind"]);
        if let Some(evidence) = event["evidence"].as_str() {
            assert_eq!(entry["evidence"], evidence, "the signed request, verbatim");
        }
    }
    assert!(
        leaves
            .iter()
            .any(|l| String::from_utf8_lossy(l).contains("\"evidence\":\"ey")),
        "signed requests are in the log"
    );

    // Another implementation of RFC 6962 builds the same tree from the entries.
    let mut rebuilt =
        ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, Vec<u8>>::new();
    for leaf in &leaves {
        rebuilt.push(leaf.clone());
    }
    assert_eq!(
        rebuilt.root().as_bytes().as_slice(),
        &root.0[..],
        "the same root"
    );
    let ct_root = ct_merkle::RootHash::<sha2_011::Sha256>::new(root.0.into(), size);

    // Inclusion proofs of every entry, checked by tlog and by ct-merkle.
    for (i, leaf) in leaves.iter().enumerate() {
        let i = i as u64;
        let response = app
            .get(&format!(
                "/v1/log/proof/inclusion?index={i}&treeSize={size}"
            ))
            .await;
        assert_eq!(response.status(), 200);
        let proof = hashes(&json(response).await);
        check_record(&proof, size, root, i, record_hash(leaf)).expect("included (tlog)");
        let bytes: Vec<u8> = proof.iter().flat_map(|h| h.0).collect();
        ct_root
            .verify_inclusion(
                leaf,
                i,
                &ct_merkle::InclusionProof::<sha2_011::Sha256>::try_from_bytes(bytes)
                    .expect("a proof"),
            )
            .expect("included (ct-merkle)");
        // A proof for another entry does not hold for this one.
        assert!(check_record(&proof, size, root, i, record_hash(b"forged")).is_err());
    }

    // The log grows; the old tree is a prefix of the new one.
    write_history(app, &kiwa, 100, 5).await;
    let (new_size, new_root, _) = checkpoint(app).await;
    assert!(new_size > size);
    for from in [1, size / 2, size, new_size] {
        let body = json(
            app.get(&format!(
                "/v1/log/proof/consistency?from={from}&to={new_size}"
            ))
            .await,
        )
        .await;
        let proof = hashes(&body);
        let old_root = Hash(ct_merkle_root(&entries_prefix(app, from).await));
        check_tree(&proof, new_size, new_root, from, old_root).expect("consistent (tlog)");
        if from < new_size {
            let bytes: Vec<u8> = proof.iter().flat_map(|h| h.0).collect();
            ct_merkle::RootHash::<sha2_011::Sha256>::new(new_root.0.into(), new_size)
                .verify_consistency(
                    &ct_merkle::RootHash::<sha2_011::Sha256>::new(old_root.0.into(), from),
                    &ct_merkle::ConsistencyProof::<sha2_011::Sha256>::try_from_bytes(bytes)
                        .expect("a proof"),
                )
                .expect("consistent (ct-merkle)");
        }
    }
    // Offline, on the saved checkpoints and proof.
    let vkey = app
        .get("/v1/log/verifier-key")
        .await
        .text()
        .await
        .expect("text");
    let new_note = checkpoint(app).await.2;
    let proof = app
        .get(&format!(
            "/v1/log/proof/consistency?from={size}&to={new_size}"
        ))
        .await
        .text()
        .await
        .expect("text");
    pso_api::verify::consistency(&vkey, &old_note, &new_note, &proof).expect("consistent, offline");
    assert!(pso_api::verify::consistency(&vkey, &new_note, &old_note, &proof).is_err());
    let forged = check_tree(&Vec::new(), new_size, new_root, size, root);
    assert!(
        forged.is_err(),
        "an empty proof does not join different trees"
    );

    // The tiles: every one a client of the new tree reads, checked against
    // its root; the entry bundles hold the entries whose hashes the tiles have.
    let mut tiles = std::collections::HashMap::new();
    for tile in Tile::new_tiles(8, 0, new_size) {
        let response = app.get(&format!("/v1/log/{}", c2sp_path(&tile))).await;
        assert_eq!(response.status(), 200, "{}", c2sp_path(&tile));
        assert!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("immutable"))
        );
        let body = response.bytes().await.expect("bytes").to_vec();
        assert_eq!(body.len(), tile.width() as usize * 32);
        tiles.insert(tile, body);
    }
    let tiles = Tiles(tiles);
    let reader = TileHashReader::new(new_size, new_root, &tiles);
    assert_eq!(tree_hash(new_size, &reader).expect("tree hash"), new_root);
    let leaf_hashes = reader
        .read_hashes(
            &(0..new_size)
                .map(|i| stored_hash_index(0, i))
                .collect::<Vec<_>>(),
        )
        .expect("leaf hashes from the tiles");
    let bundle_path = format!("/v1/log/tile/entries/000.p/{new_size}");
    let bundle = app
        .get(&bundle_path)
        .await
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let mut at = 0;
    let mut n = 0;
    while at < bundle.len() {
        let len = usize::from(u16::from_be_bytes([bundle[at], bundle[at + 1]]));
        let entry = &bundle[at + 2..at + 2 + len];
        assert_eq!(record_hash(entry), leaf_hashes[n], "bundle entry {n}");
        at += 2 + len;
        n += 1;
    }
    assert_eq!(n as u64, new_size);

    // The key set publishes the key that signs the checkpoints.
    let jwks = json(app.get("/.well-known/jwks.json").await).await;
    let vkey = app
        .get("/v1/log/verifier-key")
        .await
        .text()
        .await
        .expect("text");
    let raw = STANDARD
        .decode(vkey.trim_end().splitn(3, '+').nth(2).expect("key"))
        .expect("base64");
    let x = jwks["keys"][0]["x"].as_str().expect("x");
    assert_eq!(URL_SAFE_NO_PAD.decode(x).expect("base64url"), raw[1..]);
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
}

fn ct_merkle_root(leaves: &[Vec<u8>]) -> [u8; 32] {
    let mut tree = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, Vec<u8>>::new();
    for leaf in leaves {
        tree.push(leaf.clone());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(tree.root().as_bytes().as_slice());
    out
}

async fn entries_prefix(app: &TestApp, size: u64) -> Vec<Vec<u8>> {
    entries(app, size).await
}

async fn bad_log_requests_are_refused_clearly(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    write_history(app, &kiwa, 0, 2).await;
    let (size, _, _) = checkpoint(app).await;
    for (path, status) in [
        ("/v1/log/entries/abc".to_owned(), 400),
        ("/v1/log/entries/-1".to_owned(), 400),
        ("/v1/log/entries/007".to_owned(), 400),
        (format!("/v1/log/entries/{size}"), 404),
        (
            format!("/v1/log/proof/inclusion?index={size}&treeSize={size}"),
            400,
        ),
        (
            format!("/v1/log/proof/inclusion?index=0&treeSize={}", size + 1),
            404,
        ),
        ("/v1/log/proof/inclusion?index=0".to_owned(), 400),
        ("/v1/log/proof/inclusion?index=0&treeSize=0".to_owned(), 400),
        (format!("/v1/log/proof/consistency?from=0&to={size}"), 400),
        (format!("/v1/log/proof/consistency?from={size}&to=1"), 400),
        (
            format!("/v1/log/proof/consistency?from=1&to={}", size + 1),
            404,
        ),
        ("/v1/log/tile/0/000".to_owned(), 404),
        ("/v1/log/tile/0/000.p/255".to_owned(), 404),
        ("/v1/log/tile/0/0".to_owned(), 404),
        ("/v1/log/tile/../../etc/passwd".to_owned(), 404),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{path}"
        );
    }
}

/// An event rewritten in the database (its append-only trigger dropped) stops
/// the register at its next start, which names the entry.
async fn a_rewritten_event_stops_the_register(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    write_history(&app, &kiwa, 0, 6).await;
    let (size, _, _) = checkpoint(&app).await;
    let victim = size - 3;
    let leaf: Value = json(app.get(&format!("/v1/log/entries/{victim}")).await).await;
    let seq = leaf["seq"].as_i64().expect("seq");
    let (db, url) = app.stop_keeping_database().await;
    let config = configuration(backend, &url, None);

    // Untouched, it starts again.
    let untouched = Application::build(configuration(backend, &url, None))
        .await
        .expect("an untouched log verifies");
    let handle = untouched.handle();
    let serving = tokio::spawn(untouched.run_until_stopped());
    handle.stop(true).await;
    let _ = serving.await;

    let drop_trigger = match backend {
        Backend::Sqlite => "DROP TRIGGER events_no_update",
        Backend::Postgres => "DROP TRIGGER events_no_update_or_delete ON events",
    };
    registry_core::test_support::execute_sql(&url, drop_trigger).expect("dropped");
    registry_core::test_support::execute_sql(
        &url,
        &format!("UPDATE events SET effective_at = '2025-01-01 00:00:00' WHERE seq = {seq}"),
    )
    .expect("rewritten");
    match Application::build(config).await {
        Err(StartupError::Tampered(registry_core::Tampering::Entry { index, .. })) => {
            assert_eq!(index, victim, "the rewritten entry is named");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a rewritten history was served"),
    }
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_event_stops_the_register_on_sqlite() {
    a_rewritten_event_stops_the_register(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_event_stops_the_register_on_postgres() {
    a_rewritten_event_stops_the_register(Backend::Postgres).await;
}

/// A signed answer, verified with jwt-simple and the published key set:
/// its claims, their reference, and the checkpoint it names.
async fn verify_answer(app: &TestApp, jws: &str) -> serde_json::Map<String, Value> {
    use jwt_simple::prelude::{Ed25519PublicKey, EdDSAPublicKeyLike, Token, VerificationOptions};
    let meta = Token::decode_metadata(jws).expect("a JWS");
    assert_eq!(meta.algorithm(), "EdDSA");
    let kid = meta.key_id().expect("kid").to_owned();
    let jwks = json(app.get("/.well-known/jwks.json").await).await;
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the kid is published");
    let key = Ed25519PublicKey::from_jwk(&jwk.to_string()).expect("an Ed25519 JWK");
    let claims = key
        .verify_token::<serde_json::Map<String, Value>>(
            jws,
            Some(VerificationOptions {
                required_key_id: Some(kid),
                required_signature_type: Some("pso-status+jwt".into()),
                ..Default::default()
            }),
        )
        .expect("verifies with the published key");
    assert_eq!(claims.issuer.as_deref(), Some("register.test/pso"));
    let jti = claims.jwt_id.clone().expect("jti");
    assert!(
        jti.len() == 23 && jti.starts_with("PSO-") && jti.matches('-').count() == 4,
        "{jti}"
    );
    assert!(claims.issued_at.is_some());
    // The checkpoint it names is the register's, signed by its key.
    let note = claims.custom["checkpoint"].as_str().expect("checkpoint");
    let vkey = app
        .get("/v1/log/verifier-key")
        .await
        .text()
        .await
        .expect("text");
    let verifier = StandardVerifier::new(vkey.trim_end()).expect("a verifier key");
    Note::from_bytes(note.as_bytes())
        .expect("a note")
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("the checkpoint is signed by the register");
    let mut custom = claims.custom;
    custom.insert("jti".into(), Value::String(jti));
    custom
}

async fn signed_answers_verify_with_another_jose_library(app: &TestApp) {
    let kiwa = TestCb::ed25519("kiwa");
    app.accredit(&kiwa).await;
    write_history(app, &kiwa, 1, 4).await;
    let kvk = "30000001";
    let path = format!("/v1/companies/{kvk}/status?on=2026-03-01");
    let signed = app
        .client
        .get(app.url(&path))
        .header("accept", "application/jose")
        .send()
        .await
        .expect("request");
    assert_eq!(signed.status(), 200);
    assert_eq!(
        signed
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/jose")
    );
    assert!(signed.headers().contains_key("register-seq"));
    // Each is a check of its own: never stored, so never tagged for revalidation.
    assert_eq!(
        signed
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(!signed.headers().contains_key("etag"));
    let jws = signed.text().await.expect("text");
    let claims = verify_answer(app, &jws).await;
    // The claims are the JSON answer's, and the register's own.
    let plain = json(app.get(&path).await).await;
    for (field, value) in plain.as_object().expect("object") {
        if field != "checkedAt" {
            assert_eq!(&claims[field], value, "{field}");
        }
    }
    assert_eq!(claims["certified"], true);
    // The answer's certificate was issued in the tree the checkpoint names.
    let note = claims["checkpoint"].as_str().expect("checkpoint");
    let cp = Checkpoint::from_bytes(Note::from_bytes(note.as_bytes()).expect("note").text())
        .expect("a checkpoint");
    let number = claims["certificateNumber"].as_str().expect("number");
    let mut found = None;
    for i in 0..cp.size() {
        let entry = app
            .get(&format!("/v1/log/entries/{i}"))
            .await
            .bytes()
            .await
            .expect("bytes");
        let v: Value = serde_json::from_slice(&entry).expect("JSON");
        if v["certificate"] == number && v["kind"] == "issued" {
            found = Some((i, entry.to_vec()));
            break;
        }
    }
    let (index, entry) = found.expect("its issuance is in the log");
    let proof = json(
        app.get(&format!(
            "/v1/log/proof/inclusion?index={index}&treeSize={}",
            cp.size()
        ))
        .await,
    )
    .await;
    check_record(
        &hashes(&proof),
        cp.size(),
        *cp.hash(),
        index,
        record_hash(&entry),
    )
    .expect("the issuance is in the checkpoint's tree");

    // What an officer runs years later (`pso-registry verify`), on the files
    // kept: it accepts what the register gave and refuses what it did not.
    let jwks_text = app
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .expect("text");
    let vkey = app
        .get("/v1/log/verifier-key")
        .await
        .text()
        .await
        .expect("text");
    let offline = pso_api::verify::answer(&jws, &jwks_text, Some(&vkey)).expect("verifies offline");
    assert_eq!(offline.claims["kvkNumber"], kvk);
    assert_eq!(offline.checkpoint.expect("checkpoint").size, cp.size());
    let proof_text = proof.to_string();
    pso_api::verify::inclusion(&vkey, note, &entry, &proof_text).expect("included, offline");
    assert!(pso_api::verify::inclusion(&vkey, note, b"{}", &proof_text).is_err());
    // Each answer is a check of its own.
    let again = app
        .client
        .get(app.url(&path))
        .header("accept", "application/jose")
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert_ne!(verify_answer(app, &again).await["jti"], claims["jti"]);
    // A changed claim breaks the signature.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64")).expect("JSON");
    payload["certified"] = Value::Bool(false);
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = parts.join(".");
    let key_set = json(app.get("/.well-known/jwks.json").await).await;
    let key = jwt_simple::prelude::Ed25519PublicKey::from_jwk(&key_set["keys"][0].to_string())
        .expect("key");
    assert!(
        jwt_simple::prelude::EdDSAPublicKeyLike::verify_token::<Value>(&key, &forged, None)
            .is_err(),
        "a forged answer does not verify"
    );
    assert!(pso_api::verify::answer(&forged, &jwks_text, None).is_err());
    assert!(pso_api::verify::answer(&jws, r#"{"keys":[]}"#, None).is_err());

    // A batch: one JWS for all, in request order.
    let numbers = ["30000002", "99999999", "30000001"];
    let batch = app
        .client
        .post(app.url("/v1/status/batch"))
        .header("accept", "application/jose")
        .json(&json!({"kvkNumbers": numbers, "on": "2026-03-01"}))
        .send()
        .await
        .expect("request");
    assert_eq!(batch.status(), 200);
    let claims = verify_answer(app, &batch.text().await.expect("text")).await;
    let items = claims["items"].as_array().expect("items");
    let asked: Vec<&str> = items
        .iter()
        .map(|i| i["kvkNumber"].as_str().expect("kvk"))
        .collect();
    assert_eq!(asked, numbers);
    assert_eq!(items[1]["certified"], false);
}
