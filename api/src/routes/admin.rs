//! The scheme owner's API (`Authorization: Bearer <REGISTRY_ADMIN_TOKEN>`):
//! accrediting certification bodies, changing them, revoking any certificate.
//! Without a configured token the admin paths do not exist (404), and the log
//! says why at start-up.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::registry::subscriptions::ApiClient;
use registry_core::{
    Accredit, Accreditation, CbId, CertificationBodyChange, ChangeStanding, FieldError, KeySource,
    Name, Provenance, Standing,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::blocking;
use super::certificates::number;
use super::certification_bodies::cb_id;
use crate::extract::Json;
use crate::keys::{JwkSet, check_jwks_uri, parse_jwks};
use crate::payload::RevocationRequest;
use crate::problem::{Problem, ProblemType};
use crate::schema::{
    AccreditationSchema, CbIdSchema, CertificateNumberSchema, InstantSchema, JwksUriSchema,
    NameSchema,
};
use crate::state::AppState;
use crate::views::instant;
use crate::views::{CertificateView, CertificationBodyView};

/// The scheme owner, as a request proves to be: the bearer token checked in
/// constant time (comparing digests, so neither the content nor the length of
/// the token leaks through timing), never logged. Extracted first, before any
/// body is read: without the token nothing else is looked at.
#[derive(Debug)]
pub struct SchemeOwner;

impl actix_web::FromRequest for SchemeOwner {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.config.admin_token.clone());
        std::future::ready(authorize(req, expected.as_ref().map(|t| t.expose())))
    }
}

fn authorize(req: &HttpRequest, expected: Option<&str>) -> Result<SchemeOwner, Problem> {
    let Some(expected) = expected else {
        return Err(Problem::not_found(format!("no resource at {}", req.path())));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into();
    if same && !presented.is_empty() {
        Ok(SchemeOwner)
    } else {
        Err(Problem::new(
            ProblemType::Unauthorized,
            "the scheme owner's API needs Authorization: Bearer <token>",
        ))
    }
}

/// Accredit a certification body: its keys inline (`jwks`) or where it
/// publishes them (`jwksUri`), never both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AccreditRequest {
    WithKeys(AccreditWithKeys),
    WithKeysAt(AccreditWithKeysAt),
}

/// Accredit a certification body with its keys.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccreditWithKeys {
    #[schema(value_type = CbIdSchema)]
    pub id: CbId,
    // Read as a `Name` by the handler (`cb_name`): a fault in it is named,
    // which serde cannot do inside an untagged form.
    #[schema(value_type = NameSchema)]
    pub name: String,
    /// Each key public, Ed25519 or P-256, with its own `kid`.
    pub jwks: JwkSet,
}

/// Accredit a certification body that publishes its keys.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccreditWithKeysAt {
    #[schema(value_type = CbIdSchema)]
    pub id: CbId,
    #[schema(value_type = NameSchema)]
    pub name: String,
    /// Fetched at once: a set that cannot be fetched is refused.
    #[schema(value_type = JwksUriSchema)]
    pub jwks_uri: String,
}

/// Change a certification body; what is left out stays. New keys (`jwks`) or a
/// new address (`jwksUri`), not both; keys no longer listed are retired.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CertificationBodyPatch {
    Keys(PatchWithKeys),
    KeysAt(PatchWithKeysAt),
    Other(PatchWithoutKeys),
}

/// Declares a change of a certification body: name and accreditation, and the
/// given key members.
macro_rules! patch {
    ($(#[$doc:meta])* $name:ident { $($members:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            #[schema(value_type = Option<NameSchema>)]
            pub name: Option<String>,
            #[schema(value_type = Option<AccreditationSchema>)]
            pub accreditation: Option<Accreditation>,
            $($members)*
        }
    };
}

patch! {
    /// A change with a new key set.
    PatchWithKeys {
        pub jwks: JwkSet,
    }
}

patch! {
    /// A change with a new key set address (fetched at once).
    PatchWithKeysAt {
        #[schema(value_type = JwksUriSchema)]
        pub jwks_uri: String,
    }
}

patch! {
    /// A change of name or accreditation only.
    PatchWithoutKeys {}
}

crate::contract::body_contract!(AccreditRequest, CertificationBodyPatch);

/// A CB's name as sent, read as a [`Name`] (NFC, no invisible characters, a
/// letter or digit, one script per word), a fault named `name`.
fn cb_name(raw: &str) -> Result<Name, Problem> {
    Name::parse(raw).map_err(|e| Problem::validation(vec![FieldError::new("name", e.0)]))
}

/// Where a CB's keys come from, as asked; a `jwksUri` is fetched now, so that a
/// wrong address is found at once.
enum Keys {
    Inline(JwkSet),
    At(String),
}

async fn key_source(state: &AppState, id: &CbId, keys: Keys) -> Result<KeySource, Problem> {
    match keys {
        Keys::Inline(jwks) => {
            let value = serde_json::to_value(&jwks).map_err(|_| Problem::internal())?;
            let keys = parse_jwks(&value, "jwks").map_err(Problem::validation)?;
            Ok(KeySource::Inline(keys))
        }
        Keys::At(uri) => {
            let fault =
                |message: String| Problem::validation(vec![FieldError::new("jwksUri", message)]);
            check_jwks_uri(&uri, &state.config.outbound).map_err(fault)?;
            let keys = state
                .keys
                .fetch_for(id, &uri)
                .await
                .map_err(|e| fault(format!("cannot be used: {e}")))?;
            Ok(KeySource::Published { uri, keys })
        }
    }
}

/// `POST /v1/admin/certification-bodies`: accredit a CB with `id`, `name`, and
/// `jwks` or `jwksUri`; `201`.
#[utoipa::path(
    post,
    path = "/admin/certification-bodies",
    tag = "admin",
    operation_id = "accreditCertificationBody",
    security(("schemeOwner" = [])),
    request_body(content = AccreditRequest),
    responses(
        (status = 201, description = "Accredited (`active`); `Location` names it.", body = CertificationBodyView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn accredit(
    _: SchemeOwner,
    state: web::Data<AppState>,
    body: Json<AccreditRequest>,
) -> Result<HttpResponse, Problem> {
    let (id, name, keys) = match body.0 {
        AccreditRequest::WithKeys(b) => (b.id, b.name, Keys::Inline(b.jwks)),
        AccreditRequest::WithKeysAt(b) => (b.id, b.name, Keys::At(b.jwks_uri)),
    };
    let name = cb_name(&name)?;
    let keys = key_source(&state, &id, keys).await?;
    let registry = state.registry.clone();
    let command = Accredit {
        id,
        name: name.into(),
        keys,
    };
    let created = blocking(move || registry.accredit(command)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/certification-bodies/{}", created.id),
        ))
        .json(CertificationBodyView::from(created)))
}

/// `PATCH /v1/admin/certification-bodies/{id}`: change `name`, keys (`jwks` or
/// `jwksUri`) or `accreditation` (`active`, `suspended`, `withdrawn`).
#[utoipa::path(
    patch,
    path = "/admin/certification-bodies/{id}",
    tag = "admin",
    operation_id = "changeCertificationBody",
    security(("schemeOwner" = [])),
    params(("id" = CbIdSchema, Path, description = "The CB's id.")),
    request_body(content = CertificationBodyPatch),
    responses(
        (status = 200, description = "Changed (keys no longer listed are retired).", body = CertificationBodyView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn change(
    _: SchemeOwner,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: Json<CertificationBodyPatch>,
) -> Result<HttpResponse, Problem> {
    let id = cb_id(&path)?;
    let (name, accreditation, keys) = match body.0 {
        CertificationBodyPatch::Keys(b) => (b.name, b.accreditation, Some(Keys::Inline(b.jwks))),
        CertificationBodyPatch::KeysAt(b) => (b.name, b.accreditation, Some(Keys::At(b.jwks_uri))),
        CertificationBodyPatch::Other(b) => (b.name, b.accreditation, None),
    };
    let name = name.as_deref().map(cb_name).transpose()?;
    let keys = match keys {
        Some(keys) => Some(key_source(&state, &id, keys).await?),
        None => None,
    };
    let change = CertificationBodyChange {
        name: name.map(String::from),
        keys,
        accreditation,
    };
    let registry = state.registry.clone();
    let changed = blocking(move || registry.change_certification_body(&id, change)).await?;
    Ok(HttpResponse::Ok().json(CertificationBodyView::from(changed)))
}

/// `POST /v1/admin/certificates/{number}/revocation`: revoke any certificate,
/// with a `reason` (and an optional `effective_at`).
#[utoipa::path(
    post,
    path = "/admin/certificates/{number}/revocation",
    tag = "admin",
    operation_id = "revokeAnyCertificate",
    security(("schemeOwner" = [])),
    params(("number" = CertificateNumberSchema, Path, description = "A certificate number.")),
    request_body(content = RevocationRequest),
    responses(
        (status = 200, description = "Revoked.", body = CertificateView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn revoke(
    _: SchemeOwner,
    path: web::Path<String>,
    state: web::Data<AppState>,
    body: Json<RevocationRequest>,
) -> Result<HttpResponse, Problem> {
    let n = number(&path)?;
    let command = ChangeStanding {
        number: n,
        standing: Standing::Revoked,
        reason: Some(body.0.reason),
        effective_at: body.0.effective_at,
    };
    let registry = state.registry.clone();
    let certificate =
        blocking(move || registry.change_standing(command, &Provenance::scheme_owner())).await?;
    Ok(HttpResponse::Ok().json(CertificateView::new(
        certificate,
        registry_core::time::now(),
    )))
}

/// A new API client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewClient {
    /// Who the key is for (a tender platform's name).
    #[schema(value_type = NameSchema)]
    pub name: String,
}

crate::contract::body_contract!(NewClient);

/// An API client.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientView {
    #[schema(pattern = "^cl_[0-9a-z]{16}$", max_length = 19)]
    id: String,
    #[schema(value_type = NameSchema)]
    name: String,
    #[schema(value_type = InstantSchema)]
    created_at: String,
    #[schema(value_type = Option<InstantSchema>)]
    revoked_at: Option<String>,
    /// The key (`Authorization: Bearer <key>`): only in the answer that made
    /// it; the register keeps only its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^pso_cl_[0-9a-z]{16}_[0-9a-f]{64}$", max_length = 88)]
    key: Option<String>,
}

impl ClientView {
    fn new(c: ApiClient, key: Option<String>) -> Self {
        Self {
            id: c.id,
            name: c.name,
            created_at: instant(c.created_at),
            revoked_at: c.revoked_at.map(instant),
            key,
        }
    }
}

/// The API clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    #[schema(max_items = 100000)]
    items: Vec<ClientView>,
}

/// `POST /v1/admin/clients`: issue a key to a platform; shown this once.
#[utoipa::path(
    post,
    path = "/admin/clients",
    tag = "admin",
    operation_id = "createClient",
    security(("schemeOwner" = [])),
    request_body(content = NewClient),
    responses(
        (status = 201, description = "Issued; `key` is shown this once.", body = ClientView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn create_client(
    _: SchemeOwner,
    state: web::Data<AppState>,
    body: Json<NewClient>,
) -> Result<HttpResponse, Problem> {
    let name = cb_name(&body.0.name)?;
    let issued = crate::clients::issue_key()?;
    let registry = state.registry.clone();
    let (id, hash) = (issued.id.clone(), issued.key_hash.clone());
    let name = String::from(name);
    let client =
        blocking(move || registry.create_client(&id, &name, &hash, registry_core::time::now()))
            .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientView::new(client, Some(issued.key))))
}

/// `GET /v1/admin/clients`: every API client (never a key).
#[utoipa::path(
    get,
    path = "/admin/clients",
    tag = "admin",
    operation_id = "clients",
    security(("schemeOwner" = [])),
    responses(
        (status = 200, description = "The clients, oldest first.", body = ClientList),
        crate::openapi::AdminProblems,
    )
)]
pub async fn clients(_: SchemeOwner, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let registry = state.registry.clone();
    let all = blocking(move || registry.clients()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(ClientList {
            items: all.into_iter().map(|c| ClientView::new(c, None)).collect(),
        }))
}

/// `DELETE /v1/admin/clients/{id}`: revoke a client's key (within seconds on
/// every replica); its subscriptions are no longer delivered to.
#[utoipa::path(
    delete,
    path = "/admin/clients/{id}",
    tag = "admin",
    operation_id = "revokeClient",
    security(("schemeOwner" = [])),
    params(("id" = String, Path, description = "The client's id.", max_length = 64)),
    responses(
        (status = 200, description = "Revoked.", body = ClientView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn revoke_client(
    _: SchemeOwner,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let id: String = path.chars().take(64).collect();
    let registry = state.registry.clone();
    let forget = id.clone();
    let client = blocking(move || registry.revoke_client(&id, registry_core::time::now())).await?;
    state.clients.forget(&forget);
    Ok(HttpResponse::Ok().json(ClientView::new(client, None)))
}
