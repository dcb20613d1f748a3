//! The OpenAPI 3.1 document, generated from the types the server parses and
//! writes (utoipa): every operation with its parameters, bodies and responses,
//! each problem response with the problem types it can carry, the headers every
//! answer has (`API-Version`, and `ETag`, `Link`, `Location`, `Allow`,
//! `Retry-After` where they come), the problem catalogue and the security
//! scheme. Served at `/v1/openapi.json` (and `/openapi.json`), checked in at
//! `openapi/openapi.json` (`make openapi`), shown at `/docs`.
//!
//! The contract's version is [`CONTRACT_VERSION`]: `info.version` and the
//! `API-Version` header of every answer (NLGov ADR `/core/version-header`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::problem::ProblemType;
use crate::routes;

/// The contract's version (semver): `info.version`, and the `API-Version` header
/// of every answer. See `openapi/CHANGELOG.md`.
pub const CONTRACT_VERSION: &str = "1.4.0";

/// The base path of version 1 of the contract (ADR `/core/uri-version`).
pub const BASE_PATH: &str = "/v1";

/// The parameters of an endpoint that takes none: any parameter is refused.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

crate::contract::query_contract!(NoParams);

/// The problem types one status of one kind of operation can carry.
type Declared = (u16, &'static str, &'static [ProblemType]);

fn problem_response(status: u16, description: &str, kinds: &[ProblemType]) -> RefOr<Response> {
    let slugs: Vec<&str> = kinds.iter().map(|k| k.slug()).collect();
    let listed: Vec<String> = slugs.iter().map(|s| format!("`{s}`")).collect();
    debug_assert!(kinds.iter().all(|k| k.status().as_u16() == status));
    RefOr::T(
        ResponseBuilder::new()
            .description(format!(
                "{description} Problem types: {}.",
                listed.join(", ")
            ))
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            )
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add("x-problem-types", json!(slugs))
                    .build(),
            ))
            .build(),
    )
}

fn problems(list: &[Declared]) -> BTreeMap<String, RefOr<Response>> {
    let mut builder = ResponsesBuilder::new();
    for (status, description, kinds) in list {
        builder = builder.response(
            status.to_string(),
            problem_response(*status, description, kinds),
        );
    }
    builder.build().responses.into_iter().collect()
}

use ProblemType as P;

const PARAMETER: Declared = (
    400,
    "A malformed or unknown parameter, each named in `errors`.",
    &[P::InvalidParameter],
);
const NOT_FOUND: Declared = (404, "No such resource.", &[P::NotFound]);
const INTERNAL: Declared = (
    500,
    "A fault of the register's; no details are given.",
    &[P::Internal],
);
const UNAVAILABLE: Declared = (
    503,
    "The database cannot be reached; `Retry-After` says when to try again.",
    &[P::ServiceUnavailable],
);
const TOO_LARGE: Declared = (413, "The body is too large.", &[P::PayloadTooLarge]);
const MEDIA: Declared = (
    415,
    "The body has another media type.",
    &[P::UnsupportedMediaType],
);
const INVALID: Declared = (
    422,
    "Fields at fault, each named in `errors` by its path. Nothing was written.",
    &[P::ValidationFailed],
);

const BAD_KEY: Declared = (
    401,
    "An API client's key that is not valid (unknown, malformed or revoked); a public read needs none.",
    &[P::Unauthorized],
);
const LIMITED: Declared = (
    429,
    "Past the rate limit (`RateLimit-Policy`, `RateLimit`); `Retry-After` says when to try again.",
    &[P::TooManyRequests],
);

/// The problems of a public read that is never `404` (a search, a status, the feed).
#[derive(Debug)]
pub struct ReadProblems;
impl utoipa::IntoResponses for ReadProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[PARAMETER, BAD_KEY, LIMITED, INTERNAL, UNAVAILABLE])
    }
}

/// The problems of a public read of one resource.
#[derive(Debug)]
pub struct ResourceProblems;
impl utoipa::IntoResponses for ResourceProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            PARAMETER,
            BAD_KEY,
            NOT_FOUND,
            LIMITED,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// The problems of an API client's own resources (subscriptions).
#[derive(Debug)]
pub struct ClientProblems;
impl utoipa::IntoResponses for ClientProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (
                400,
                "A malformed parameter, or a body that is not JSON.",
                &[P::InvalidParameter, P::MalformedBody],
            ),
            (
                401,
                "No API client's key, or one that is not valid.",
                &[P::Unauthorized],
            ),
            (
                404,
                "No such subscription of this client's.",
                &[P::NotFound],
            ),
            TOO_LARGE,
            MEDIA,
            INVALID,
            LIMITED,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// The problems of a batch status check.
#[derive(Debug)]
pub struct BatchProblems;
impl utoipa::IntoResponses for BatchProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[
            (400, "The body is not JSON (or CSV).", &[P::MalformedBody]),
            BAD_KEY,
            TOO_LARGE,
            MEDIA,
            (
                422,
                "A malformed KvK number, date or level, `until` not after `on`, or more than 1,000 numbers, each named in `errors`.",
                &[P::ValidationFailed],
            ),
            LIMITED,
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
                "A malformed certificate number in the path, or a body that cannot be read as text.",
                &[P::InvalidParameter, P::MalformedBody],
            ),
            (
                401,
                "The signed request is not accepted. Nothing was written.",
                &[
                    P::InvalidToken,
                    P::UnsupportedAlgorithm,
                    P::KeyAlgorithmMismatch,
                    P::UnknownIssuer,
                    P::UnknownKey,
                    P::InvalidSignature,
                    P::WrongAudience,
                    P::TokenExpired,
                    P::TokenNotYetValid,
                    P::TokenLifetimeTooLong,
                    P::Replay,
                ],
            ),
            (
                403,
                "Not allowed. Nothing was written.",
                &[
                    P::ActMismatch,
                    P::SubMismatch,
                    P::NotYourCertificate,
                    P::CbNotAccredited,
                ],
            ),
            NOT_FOUND,
            (
                409,
                "In conflict with the register (`conflict`: the same `cbReference` with other content). Nothing was written.",
                &[
                    P::Conflict,
                    P::CertificateInForce,
                    P::CertificateRevoked,
                    P::CertificateSuperseded,
                    P::InvalidTransition,
                ],
            ),
            TOO_LARGE,
            MEDIA,
            INVALID,
            INTERNAL,
            (
                503,
                "The database, or the CB's published key set, cannot be reached.",
                &[P::ServiceUnavailable, P::KeySetUnavailable],
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
                "A malformed id or number in the path, or a body that is not JSON.",
                &[P::InvalidParameter, P::MalformedBody],
            ),
            (401, "No or a wrong bearer token.", &[P::Unauthorized]),
            (
                404,
                "No such certification body or certificate, or the admin API is off (no `REGISTRY_ADMIN_TOKEN`).",
                &[P::NotFound],
            ),
            (
                409,
                "In conflict with the register.",
                &[
                    P::CertificationBodyExists,
                    P::CertificateRevoked,
                    P::CertificateSuperseded,
                    P::InvalidTransition,
                ],
            ),
            TOO_LARGE,
            MEDIA,
            INVALID,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// The problem of a readiness check.
#[derive(Debug)]
pub struct ReadinessProblems;
impl utoipa::IntoResponses for ReadinessProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        problems(&[(
            503,
            "The database does not answer within a second.",
            &[P::ServiceUnavailable],
        )])
    }
}

/// Adds the security scheme, and the problem catalogue to the description.
struct Catalogue;

impl Modify for Catalogue {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "schemeOwner",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The scheme owner's token (REGISTRY_ADMIN_TOKEN)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiClient",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API client's key (`pso_…`), issued by the scheme owner. Public reads need none; with one, \
                         they count against the client's (higher) rate limits.",
                    ))
                    .build(),
            ),
        );
        for (name, schema) in crate::schema::components() {
            components.schemas.insert(name, schema);
        }
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
        version = "1.4.0",
        description = "The public register of the Prestatieladder Socialer Ondernemen (PSO): whether a company is \
            certified, at which level, on a date or over a whole contract term; search; the change feed; and the \
            signed writes of accredited certification bodies. The guide beside this document (`openapi/README.md`) \
            explains signing, dates, paging, caching, errors and versioning; `openapi/CHANGELOG.md` lists each \
            revision.\n\n\
            - JSON in and out, UTF-8, names in camelCase. Times are RFC 3339 in UTC; dates are `YYYY-MM-DD`, a day \
            in Europe/Amsterdam: `validFrom` is inclusive, `validUntil` exclusive.\n\
            - Lists are paged with an opaque `cursor` and `limit` (default 50, max 500); the answer carries \
            `nextCursor` (null at the end) and a `Link: <…>; rel=\"next\"` header. A cursor walk sees every row \
            once, even while rows are added. The change feed pages by `after` (a sequence number).\n\
            - Unknown query parameters and body fields are refused, naming them (with the name meant, for a \
            misspelt or an old one), so that a misspelt filter never widens a search; so is a parameter given \
            twice.\n\
            - Every `GET` answer carries an `ETag` and `Cache-Control: public, no-cache`; `If-None-Match` answers \
            `304`. A status answer's tag is weak (`W/…`: the same answer, not the same bytes): it leaves \
            `checkedAt` out, and `on` when it was left to its default (now).\n\
            - Every refusal is an RFC 9457 problem (`application/problem+json`) with a stable `type`; a refused \
            write writes nothing.\n\
            - Certification bodies write with signed requests: a compact JWS (`EdDSA` or `ES256`) as the body, \
            `Content-Type: application/jose`, its claims one of `IssueClaims`, `RenewClaims`, `StandingClaims`, \
            `ReinstateClaims`. Each event keeps the JWS as evidence, verifiable with the keys published at \
            `/v1/certification-bodies/{id}`.",
        contact(
            name = "PSO register",
            url = "https://pso-register.example/",
            email = "register@pso-register.example"
        ),
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    servers((url = "/v1", description = "Version 1 of the contract, in production and in every other environment, on the server that serves this document.")),
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
        routes::export::certificates,
        routes::export::companies,
        routes::log::checkpoint,
        routes::log::verifier_key,
        routes::log::entry,
        routes::log::inclusion,
        routes::log::consistency,
        routes::admin::accredit,
        routes::admin::change,
        routes::admin::revoke,
        routes::admin::create_client,
        routes::admin::clients,
        routes::admin::revoke_client,
        routes::subscriptions::create,
        routes::subscriptions::list,
        routes::subscriptions::get,
        routes::subscriptions::change,
        routes::subscriptions::delete,
        routes::subscriptions::deliveries,
        routes::subscriptions::replay,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    components(schemas(
        crate::problem::ProblemBody,
        crate::payload::IssueClaims,
        crate::payload::RenewClaims,
        crate::payload::StandingClaims,
        crate::payload::ReinstateClaims,
    )),
    modifiers(&Catalogue),
    tags(
        (name = "status", description = "Is a company certified, at which level, on a date or over a term?"),
        (name = "search", description = "Find companies and certificates."),
        (name = "certificates", description = "Certificates, their events and evidence; certification bodies write here with signed requests."),
        (name = "certification-bodies", description = "Who may write, and the keys that verify what they wrote."),
        (name = "feed", description = "Every change, in order."),
        (name = "log", description = "The transparency log: every event a leaf of an RFC 6962 Merkle tree, signed checkpoints (C2SP), inclusion and consistency proofs; the tree as C2SP tiles under `/log/tile/`."),
        (name = "export", description = "The whole register, as of one `seq`, as CSV or JSON Lines, under CC0 1.0."),
        (name = "subscriptions", description = "For API clients (tender platforms): webhooks signed per Standard Webhooks for a watchlist of KvK numbers or every change, delivered at least once, in `seq` order, each message under an id that stays the same across retries."),
        (name = "admin", description = "The scheme owner."),
        (name = "operations", description = "Health, readiness, metrics."),
    )
)]
pub struct ApiDoc;

/// The operational paths, which live beside the contract's versioned base.
pub const OPERATIONAL_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Operations whose `200` answers are pages with a `Link` to the next.
const PAGED: [&str; 3] = ["searchCompanies", "searchCertificates", "events"];

/// Operations answered from the read model: their answers say which register
/// state they reflect (`Register-Seq`).
const FROM_MEMORY: [&str; 6] = [
    "companyStatus",
    "statusBatch",
    "searchCompanies",
    "getCompany",
    "searchCertificates",
    "getCertificate",
];

fn header(description: &str, schema: Value) -> Value {
    json!({"description": description, "schema": schema})
}

/// What every answer carries and what some do, added to each response of the
/// document: the headers, and `304` for every `GET`.
fn add_headers(document: &mut Value) {
    let api_version = header(
        "The contract's full version (semver), on every answer.",
        json!({"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$", "maxLength": 32, "examples": [CONTRACT_VERSION]}),
    );
    let etag = header(
        "A tag of the representation (weak, `W/…`, for a status answer); send it as `If-None-Match` to get `304` while it holds.",
        json!({"type": "string", "maxLength": 64}),
    );
    let cache_control = header(
        "`public, no-cache`: keep a copy, but ask again before using it.",
        json!({"type": "string", "maxLength": 64}),
    );
    let link = header(
        "The next page, while there is one: `<…>; rel=\"next\"`.",
        json!({"type": "string", "maxLength": 4096}),
    );
    let location = header(
        "Where the new resource is.",
        json!({"type": "string", "maxLength": 200}),
    );
    let retry_after = header(
        "Seconds to wait before trying again.",
        json!({"type": "string", "pattern": "^[0-9]+$", "maxLength": 5}),
    );
    let challenge = header(
        "`Bearer` (the scheme owner's API) or `Signature` (a signed request).",
        json!({"type": "string", "maxLength": 16}),
    );
    let any_origin = header(
        "`*`: a browser on any origin may read this answer (no credentials).",
        json!({"type": "string", "enum": ["*"]}),
    );
    let register_seq = header(
        "The register state this answer reflects: the `seq` of the last event (see `/events`) applied to the register the answer was read from. Part of the `ETag`.",
        json!({"type": "string", "pattern": "^[0-9]{1,19}$", "maxLength": 19, "examples": ["1042"]}),
    );
    let rate_policy = header(
        "The rate limit this request counts against (IETF httpapi-ratelimit-headers): its name (`read` or `search`), quota `q` and window `w` in seconds.",
        json!({"type": "string", "maxLength": 64, "examples": ["\"read\";q=600;w=60"]}),
    );
    let rate_now = header(
        "Where the caller stands: requests `r` left, and `t` seconds until the quota is whole again.",
        json!({"type": "string", "maxLength": 64, "examples": ["\"read\";r=599;t=1"]}),
    );
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let operation_id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let paged = PAGED.contains(&operation_id.as_str());
            let from_memory = FROM_MEMORY.contains(&operation_id.as_str());
            let cross_origin = crate::transport::cross_origin_allowed(
                &format!("{BASE_PATH}{path}"),
                &method.to_uppercase(),
            );
            let limited = method
                .to_uppercase()
                .parse::<actix_web::http::Method>()
                .ok()
                .and_then(|m| crate::rate_limit::Class::of(&m, &format!("{BASE_PATH}{path}")))
                .is_some();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            if method == "get" {
                responses.insert(
                    "304".into(),
                    json!({"description": "Not modified: the `ETag` sent in `If-None-Match` still holds; no body."}),
                );
            }
            for (status, response) in responses.iter_mut() {
                let headers = response
                    .as_object_mut()
                    .map(|r| r.entry("headers").or_insert_with(|| json!({})));
                let Some(headers) = headers.and_then(Value::as_object_mut) else {
                    continue;
                };
                headers.insert("API-Version".into(), api_version.clone());
                if limited {
                    headers.insert("RateLimit-Policy".into(), rate_policy.clone());
                    headers.insert("RateLimit".into(), rate_now.clone());
                }
                if cross_origin {
                    headers.insert("Access-Control-Allow-Origin".into(), any_origin.clone());
                }
                if from_memory && matches!(status.as_str(), "200" | "304") {
                    headers.insert("Register-Seq".into(), register_seq.clone());
                }
                match status.as_str() {
                    "200" | "304" if method == "get" => {
                        headers.insert("ETag".into(), etag.clone());
                        headers.insert("Cache-Control".into(), cache_control.clone());
                        if paged && status == "200" {
                            headers.insert("Link".into(), link.clone());
                        }
                    }
                    "201" => {
                        headers.insert("Location".into(), location.clone());
                    }
                    "401" => {
                        headers.insert("WWW-Authenticate".into(), challenge.clone());
                    }
                    "429" | "503" => {
                        headers.insert("Retry-After".into(), retry_after.clone());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The operational paths are served beside `/v1`, not under it.
fn add_operational_servers(document: &mut Value) {
    for path in OPERATIONAL_PATHS {
        if let Some(item) = document
            .pointer_mut(&format!("/paths/{}", path.replace('/', "~1")))
            .and_then(Value::as_object_mut)
        {
            item.insert(
                "servers".into(),
                json!([{"url": "/", "description": "The server's root: operations, outside the versioned contract."}]),
            );
        }
    }
}

/// `x-internal: false`: every server of the document is public (OWASP
/// `api9:2023-inventory-access`).
fn mark_servers_public(document: &mut Value) {
    if let Some(servers) = document.get_mut("servers").and_then(Value::as_array_mut) {
        for server in servers.iter_mut().filter_map(Value::as_object_mut) {
            server.insert("x-internal".into(), Value::Bool(false));
        }
    }
}

/// The document as a JSON value, built once.
pub fn document_value() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        add_headers(&mut document);
        add_operational_servers(&mut document);
        mark_servers_public(&mut document);
        document
    });
    &DOCUMENT
}

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

impl From<&Value> for Canonical {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => Canonical::Null,
            Value::Bool(b) => Canonical::Bool(*b),
            Value::Number(n) => Canonical::Number(n.clone()),
            Value::String(s) => Canonical::String(s.clone()),
            Value::Array(a) => Canonical::Array(a.iter().map(Canonical::from).collect()),
            Value::Object(o) => Canonical::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Canonical::from(v)))
                    .collect(),
            ),
        }
    }
}

/// The document as pretty JSON, keys sorted, with a trailing newline: what is
/// served and checked in.
pub fn document() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let mut json =
            serde_json::to_string_pretty(&Canonical::from(document_value())).unwrap_or_default();
        json.push('\n');
        json
    });
    &TEXT
}
