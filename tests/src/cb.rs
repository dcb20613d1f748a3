//! A certification body as a partner would be one: its own key pair, requests
//! signed with a standard JOSE library, sent over HTTP.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pso_api::cb_tool;
use serde_json::{Value, json};

use crate::TestApp;

/// A CB with one key pair.
#[derive(Debug, Clone)]
pub struct TestCb {
    pub id: String,
    pub pem: String,
    /// The public JWK, with `kid`.
    pub jwk: Value,
    pub kid: String,
    pub algorithm: Algorithm,
}

impl TestCb {
    /// A CB with an Ed25519 key (made by `pso-registry cb keygen`'s code).
    pub fn ed25519(id: &str) -> Self {
        let (pem, _) = cb_tool::keygen().expect("keygen");
        Self::from_pem(id, pem)
    }

    /// A CB with a P-256 key (ES256).
    pub fn es256(id: &str) -> Self {
        use p256::pkcs8::EncodePrivateKey;
        use rand::Rng;
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill(&mut bytes);
            if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let pem = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem")
            .to_string();
        Self::from_pem(id, pem)
    }

    pub fn from_pem(id: &str, pem: String) -> Self {
        let (_, jwk, algorithm) = cb_tool::load_key(&pem).expect("load key");
        let kid = jwk["kid"].as_str().expect("kid").to_owned();
        Self {
            id: id.to_owned(),
            pem,
            jwk,
            kid,
            algorithm,
        }
    }

    /// This CB's key set, as the scheme owner registers it.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The standard claims of a request to `app` for `act` on `sub`, fresh.
    pub fn claims(&self, app: &TestApp, act: &str, sub: Option<&str>, payload: Value) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.id, "aud": app.audience, "iat": now, "exp": now + 300,
            "jti": format!("{}-{}", self.id, rand::random::<u64>()), "act": act,
        });
        if let Some(sub) = sub {
            claims["sub"] = json!(sub);
        }
        if let (Value::Object(c), Value::Object(p)) = (&mut claims, payload) {
            c.extend(p);
        }
        claims
    }

    /// Signs `claims` with this CB's key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// Signs with a chosen header (for the attacks a test tries).
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        let key = match self.algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(self.pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(self.pem.as_bytes()),
        }
        .expect("encoding key");
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    }

    /// A signed request for `act`, ready to send.
    pub fn request(&self, app: &TestApp, act: &str, sub: Option<&str>, payload: Value) -> String {
        self.sign(&self.claims(app, act, sub, payload))
    }
}

/// An issuance payload (API.md's example, with the given reference, KvK number,
/// level and start).
pub fn certificate(reference: &str, kvk: &str, level: &str, valid_from: &str) -> Value {
    json!({"certificate": {
        "cbReference": reference,
        "handbookVersion": "2.1",
        "level": level,
        "pso30plus": false,
        "holder": {"kvkNumber": kvk, "name": format!("Bedrijf {kvk} B.V."), "tradeNames": ["Handelsnaam"],
                   "city": "Utrecht", "province": "Utrecht", "sbiCodes": ["4120"]},
        "validFrom": valid_from,
        "auditDate": "2025-12-10",
        "referenceYear": 2025,
        "scorePercent": 9.4,
        "totalFte": 42.5
    }})
}

impl TestApp {
    /// Sends a signed request.
    pub async fn post_jws(&self, path: &str, jws: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/jose")
            .body(jws.to_owned())
            .send()
            .await
            .expect("request")
    }

    /// Sends a scheme-owner request with the configured bearer token.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Accredits `cb` with its key inline; panics unless `201`.
    pub async fn accredit(&self, cb: &TestCb) {
        let body = json!({"id": cb.id, "name": cb.id.to_uppercase(), "jwks": cb.jwks()});
        let response = self
            .admin(
                reqwest::Method::POST,
                "/v1/admin/certification-bodies",
                &body,
            )
            .await;
        assert_eq!(
            response.status(),
            201,
            "accredit {}: {}",
            cb.id,
            response.text().await.unwrap_or_default()
        );
    }

    /// Issues a certificate as `cb`; returns its number (panics unless `201`).
    pub async fn issue(&self, cb: &TestCb, payload: Value) -> String {
        let response = self
            .post_jws(
                "/v1/certificates",
                &cb.request(self, "issue", None, payload),
            )
            .await;
        assert_eq!(
            response.status(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
        crate::json(response).await["number"]
            .as_str()
            .expect("number")
            .to_owned()
    }

    /// The highest `seq` in the feed (0 when empty): a write leaves a trace here.
    pub async fn last_seq(&self) -> i64 {
        let mut after = 0;
        loop {
            let body = crate::json(
                self.get(&format!("/v1/events?after={after}&limit=500"))
                    .await,
            )
            .await;
            let next = body["nextAfter"].as_i64().expect("nextAfter");
            if next == after {
                return after;
            }
            after = next;
        }
    }
}
