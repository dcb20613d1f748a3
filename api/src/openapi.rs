//! The OpenAPI 3.1 document, generated from the code (utoipa): every operation
//! with its parameters, bodies and responses (problem responses included), the
//! problem-type catalogue, and the security schemes. Served at `/openapi.json`,
//! checked in at `openapi/openapi.json` (`make openapi`), shown at `/docs`.

use std::collections::BTreeMap;

use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::paging::Page;
use crate::problem::ProblemType;
use crate::routes;
use crate::routes::status::{BatchRequest, StatusView};
use crate::views::{
    CertificateView, CertificationBodyView, CompanyDetailView, CompanyHitView, CompanyView,
    CoveredView, EventView, KeyStatusView, PeriodView, StandingChangeView, StandingView,
};

/// An RFC 9457 problem: every refusal of the API.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// A stable URI reference, `/problems/<slug>`; the catalogue is in the
    /// description of this document.
    #[schema(example = "/problems/validation-failed")]
    r#type: String,
    #[schema(example = "Validation failed")]
    title: String,
    #[schema(example = 422)]
    status: u16,
    #[schema(example = "invalid fields: certificate.level")]
    detail: String,
    /// The fields or parameters at fault (validation and parameter problems).
    errors: Option<Vec<FieldFault>>,
}

/// A field or parameter at fault.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FieldFault {
    #[schema(example = "certificate.level")]
    field: String,
    #[schema(example = "must be one of aspirant, basistrede, trede_1, trede_2, trede_3")]
    message: String,
}

/// The claims of a CB's signed request (a compact JWS, `alg` `EdDSA` or
/// `ES256`, `kid` in the header). Sent as the body, `application/jose`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SignedRequestClaims {
    /// The CB's id, as registered.
    #[schema(example = "kiwa")]
    iss: String,
    /// The register's audience (`REGISTRY_AUDIENCE`).
    aud: String,
    /// Issued at, seconds since the epoch.
    iat: i64,
    /// Expires at: after now, at most 600 s after `iat` (60 s clock skew allowed).
    exp: i64,
    /// Unique per request; a second request with the same `jti` is a replay.
    jti: String,
    /// `issue`, `renew`, `suspend`, `reinstate` or `revoke`: must match the path.
    #[schema(example = "issue")]
    act: String,
    /// The certificate number, for every act but `issue`: must match the path.
    sub: Option<String>,
    /// Act `issue`.
    certificate: Option<CertificatePayload>,
    /// Act `renew`.
    period: Option<PeriodPayload>,
    /// Acts `suspend`, `revoke` (required) and `reinstate`.
    reason: Option<String>,
    /// Acts `suspend`, `reinstate`, `revoke`: RFC 3339; default now; never before
    /// the certificate's first period nor its last lifecycle event.
    effective_at: Option<String>,
}

/// The `certificate` claim of an issuance. Unknown fields are refused.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CertificatePayload {
    /// The CB's own reference: issuing it again with the same content returns the
    /// existing certificate (`200`); with other content it is `409`.
    #[schema(example = "KIWA-PSO-2026-0042")]
    cb_reference: String,
    #[schema(example = "2.1")]
    handbook_version: String,
    #[schema(example = "trede_2")]
    level: String,
    /// Only at `trede_3`.
    pso30plus: Option<bool>,
    holder: HolderPayload,
    subsidiaries: Option<Vec<SubsidiaryPayload>>,
    #[schema(example = "2026-01-15")]
    valid_from: chrono::NaiveDate,
    /// Exclusive; left out, the level's validity (two years) applies.
    #[schema(example = "2028-01-15")]
    valid_until: Option<chrono::NaiveDate>,
    audit_date: chrono::NaiveDate,
    #[schema(example = 2025)]
    reference_year: i32,
    score_percent: Option<f64>,
    total_fte: Option<f64>,
    /// The certificate in force for the same main applicant that this one
    /// replaces (it becomes `superseded` from this one's start).
    replaces: Option<String>,
}

/// The main applicant of an issuance.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct HolderPayload {
    #[schema(example = "12345678", pattern = "^[0-9]{8}$")]
    kvk_number: String,
    name: String,
    trade_names: Option<Vec<String>>,
    city: Option<String>,
    province: Option<String>,
    sbi_codes: Option<Vec<String>>,
}

/// A legal entity covered besides the main applicant.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SubsidiaryPayload {
    #[schema(example = "87654321", pattern = "^[0-9]{8}$")]
    kvk_number: String,
    name: String,
}

/// The `period` claim of a renewal; its `valid_from` must follow the last one's.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PeriodPayload {
    level: String,
    pso30plus: Option<bool>,
    valid_from: chrono::NaiveDate,
    valid_until: Option<chrono::NaiveDate>,
    audit_date: chrono::NaiveDate,
    reference_year: i32,
    handbook_version: String,
    score_percent: Option<f64>,
    total_fte: Option<f64>,
}

/// Accredit a certification body: `jwks` or `jwks_uri`, not both.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AccreditRequest {
    /// A lower-case slug.
    #[schema(example = "kiwa")]
    id: String,
    #[schema(example = "Kiwa Nederland B.V.")]
    name: String,
    /// `{"keys": [JWK, …]}`, each public, Ed25519 or P-256, with a `kid`.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// https (plain http only to loopback); fetched at once.
    jwks_uri: Option<String>,
}

/// Change a certification body; what is left out stays.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CertificationBodyPatch {
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    /// `active`, `suspended` or `withdrawn`.
    accreditation: Option<String>,
}

/// The scheme owner's revocation.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct RevocationRequest {
    reason: String,
    effective_at: Option<String>,
}

/// The change feed's page.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct EventPage {
    items: Vec<EventView>,
    /// The `after` to ask next (the last `seq` here, or `after` when empty).
    next_after: i64,
}

/// A list without paging.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct EventList {
    items: Vec<EventView>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CertificationBodyList {
    items: Vec<CertificationBodyView>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct StatusList {
    items: Vec<StatusView>,
}

/// The parameters of the searches. Unknown parameters are refused (`400`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Name or trade name, typo-tolerant and by prefix (2–100 characters); ranks
    /// by relevance. Without it, results are ordered by name.
    #[param(min_length = 2, max_length = 100, example = "Drukerij")]
    q: Option<String>,
    /// A covered KvK number (main applicant or subsidiary).
    #[param(pattern = "^[0-9]{8}$")]
    kvk: Option<String>,
    /// City, ignoring case and diacritics.
    city: Option<String>,
    /// One of the 12 provinces (`Noord-Holland`, `Fryslân` or `Friesland`, …).
    province: Option<String>,
    /// An SBI code or its first digits.
    #[param(pattern = "^[0-9]{2,5}$")]
    sbi: Option<String>,
    /// Certified at this level or higher on the day.
    #[param(example = "trede_2")]
    level_min: Option<String>,
    pso30plus: Option<bool>,
    /// `active` (default), `suspended`, `revoked`, `expired`, `not_yet_valid`,
    /// `superseded` (certificates) or `any`.
    status: Option<String>,
    /// A certification body's id.
    certification_body: Option<String>,
    /// The day the standing is judged on (start of that day, Europe/Amsterdam);
    /// default now.
    valid_on: Option<chrono::NaiveDate>,
    /// Opaque: `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
}

/// The question of a status check.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StatusParams {
    /// A date (the start of that day, Europe/Amsterdam) or an RFC 3339 instant;
    /// default now.
    #[param(example = "2026-06-01")]
    on: Option<String>,
    /// The level must hold for the whole interval up to here: a date (to the end
    /// of that day) or an instant (the interval ends just before it). After `on`.
    #[param(example = "2027-05-31")]
    until: Option<String>,
    #[param(example = "trede_2")]
    level_min: Option<String>,
}

/// The feed's position.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FeedParams {
    /// Events after this sequence number (default 0).
    #[param(minimum = 0)]
    after: Option<i64>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    limit: Option<i64>,
}

fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn problems(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    let mut builder = ResponsesBuilder::new();
    for (status, description) in list {
        builder = builder.response(status.to_string(), problem_response(description));
    }
    builder.build().responses.into_iter().collect()
}

const NOT_FOUND: (u16, &str) = (404, "No such resource (`not-found`).");
const METHOD: (u16, &str) = (
    405,
    "The path does not take this method (`method-not-allowed`).",
);
const INTERNAL: (u16, &str) = (
    500,
    "A fault of the register's (`internal`); no details are given.",
);
const UNAVAILABLE: (u16, &str) = (
    503,
    "The database cannot be reached (`service-unavailable`); `Retry-After` says when to try again.",
);
const PARAMETER: (u16, &str) = (
    400,
    "A malformed or unknown parameter, named in `errors` (`invalid-parameter`).",
);
const TOO_LARGE: (u16, &str) = (413, "The body is too large (`payload-too-large`).");
const MEDIA: (u16, &str) = (
    415,
    "The body has another media type (`unsupported-media-type`).",
);
const INVALID: (u16, &str) = (
    422,
    "Fields at fault, each named in `errors` (`validation-failed`). Nothing was written.",
);

/// The problems of a public read.
#[derive(Debug)]
pub struct ReadProblems;
impl utoipa::IntoResponses for ReadProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[PARAMETER, NOT_FOUND, METHOD, INTERNAL, UNAVAILABLE])
    }
}

/// The problems of a batch status check.
#[derive(Debug)]
pub struct BatchProblems;
impl utoipa::IntoResponses for BatchProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            METHOD,
            TOO_LARGE,
            MEDIA,
            (
                422,
                "A malformed KvK number, date or level, or more than 1,000 numbers, named in `errors` (`validation-failed`).",
            ),
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// The problems of a CB's signed write.
#[derive(Debug)]
pub struct SignedWriteProblems;
impl utoipa::IntoResponses for SignedWriteProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (
                400,
                "A malformed certificate number in the path (`invalid-parameter`).",
            ),
            (
                401,
                "The signed request is not accepted: `invalid-token`, `unsupported-algorithm`, `key-algorithm-mismatch`, `unknown-issuer`, `unknown-key`, `invalid-signature`, `wrong-audience`, `token-expired`, `token-not-yet-valid`, `token-lifetime-too-long` or `replay`. Nothing was written.",
            ),
            (
                403,
                "Not allowed: `act-mismatch`, `sub-mismatch`, `not-your-certificate` or `cb-not-accredited`. Nothing was written.",
            ),
            NOT_FOUND,
            METHOD,
            (
                409,
                "In conflict with the register: `conflict` (same `cb_reference`, other content), `certificate-in-force`, `certificate-revoked`, `certificate-superseded` or `invalid-transition`. Nothing was written.",
            ),
            TOO_LARGE,
            MEDIA,
            INVALID,
            INTERNAL,
            (
                503,
                "The database, or the CB's published key set, cannot be reached (`service-unavailable`, `key-set-unavailable`).",
            ),
        ])
    }
}

/// The problems of the scheme owner's API.
#[derive(Debug)]
pub struct AdminProblems;
impl utoipa::IntoResponses for AdminProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (
                400,
                "A malformed id or number in the path (`invalid-parameter`).",
            ),
            (401, "No or a wrong bearer token (`unauthorized`)."),
            (
                404,
                "No such certification body or certificate, or the admin API is off (no `REGISTRY_ADMIN_TOKEN`) (`not-found`).",
            ),
            METHOD,
            (
                409,
                "`certification-body-exists`, `certificate-revoked`, `certificate-superseded` or `invalid-transition`.",
            ),
            TOO_LARGE,
            MEDIA,
            INVALID,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// Adds the security scheme, and the problem catalogue to the description.
struct Catalogue;

impl Modify for Catalogue {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "scheme_owner",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The scheme owner's token (REGISTRY_ADMIN_TOKEN)."))
                    .build(),
            ),
        );
        let mut table =
            String::from("\n\n## Problem types\n\n| type | status | title |\n|---|---|---|\n");
        for kind in ProblemType::ALL {
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                kind.uri(),
                kind.status().as_u16(),
                kind.title()
            ));
        }
        let description = openapi.info.description.get_or_insert_with(String::new);
        description.push_str(&table);
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "PSO register",
        version = "1.0.0",
        description = "The public register of the Prestatieladder Socialer Ondernemen (PSO).\n\n\
            - JSON in and out, UTF-8. Times are RFC 3339 in UTC; dates are `YYYY-MM-DD`. A date-only validity bound \
            means the start of that day in Europe/Amsterdam: `valid_from` is inclusive, `valid_until` exclusive.\n\
            - Lists are paged with an opaque `cursor` and `limit` (default 50, max 500); the response carries \
            `next_cursor` (null at the end) and a `Link: <…>; rel=\"next\"` header. A cursor walk sees every row \
            once, even while rows are added. The change feed pages by `after` (a sequence number) instead.\n\
            - Unknown query parameters are refused with a `400` problem naming them, so that a misspelt filter never \
            widens a search; so is a parameter given twice.\n\
            - Every `GET` answer carries an `ETag` and `Cache-Control: public, no-cache`; `If-None-Match` answers \
            `304`. A status answer's tag leaves `checked_at` out.\n\
            - Every refusal is an RFC 9457 problem (`application/problem+json`) with a stable `type`; a refused \
            write writes nothing.\n\
            - Certification bodies write with signed requests: a compact JWS (`EdDSA` or `ES256`) as the body, \
            `Content-Type: application/jose`, with the claims of `SignedRequestClaims`. Each event keeps the JWS as \
            evidence, verifiable with the keys published at `/v1/certification-bodies/{id}`.",
        license(name = "EUPL-1.2")
    ),
    paths(
        routes::companies::list,
        routes::companies::get,
        routes::status::one,
        routes::status::batch,
        routes::certificates::list,
        routes::certificates::issue,
        routes::certificates::get,
        routes::certificates::events,
        routes::certificates::renew,
        routes::certificates::suspend,
        routes::certificates::reinstate,
        routes::certificates::revoke,
        routes::certification_bodies::list,
        routes::certification_bodies::get,
        routes::events::feed,
        routes::admin::accredit,
        routes::admin::change,
        routes::admin::revoke,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    components(schemas(
        Problem, FieldFault, SignedRequestClaims, CertificatePayload, HolderPayload, SubsidiaryPayload, PeriodPayload,
        AccreditRequest, CertificationBodyPatch, RevocationRequest, EventPage, EventList, CertificationBodyList,
        StatusList, StatusView, BatchRequest, CompanyView, CompanyHitView, CompanyDetailView, StandingView,
        CertificateView, PeriodView, CoveredView, StandingChangeView, EventView, CertificationBodyView, KeyStatusView,
        Page<CompanyHitView>, Page<CertificateView>,
    )),
    modifiers(&Catalogue),
    tags(
        (name = "status", description = "Is a company certified, at which level, on a date or over a term?"),
        (name = "search", description = "Find companies and certificates."),
        (name = "certificates", description = "Certificates, their events and evidence; certification bodies write here with signed requests."),
        (name = "certification-bodies", description = "Who may write, and the keys that verify what they wrote."),
        (name = "feed", description = "Every change, in order."),
        (name = "admin", description = "The scheme owner."),
        (name = "operations", description = "Health, readiness, metrics."),
    )
)]
pub struct ApiDoc;

/// JSON with every object's keys sorted, whatever serde_json's features in the
/// build at hand (`preserve_order` would otherwise change the text).
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Canonical {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Canonical>),
    Object(BTreeMap<String, Canonical>),
}

impl From<serde_json::Value> for Canonical {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Canonical::Null,
            serde_json::Value::Bool(b) => Canonical::Bool(b),
            serde_json::Value::Number(n) => Canonical::Number(n),
            serde_json::Value::String(s) => Canonical::String(s),
            serde_json::Value::Array(a) => {
                Canonical::Array(a.into_iter().map(Canonical::from).collect())
            }
            serde_json::Value::Object(o) => Canonical::Object(
                o.into_iter()
                    .map(|(k, v)| (k, Canonical::from(v)))
                    .collect(),
            ),
        }
    }
}

/// The document as pretty JSON, keys sorted, with a trailing newline: what is
/// served and checked in.
pub fn document() -> String {
    let value = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let mut json = serde_json::to_string_pretty(&Canonical::from(value)).unwrap_or_default();
    json.push('\n');
    json
}
