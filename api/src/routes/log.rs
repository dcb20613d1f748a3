//! The transparency log (RFC 6962 / RFC 9162, C2SP `tlog-checkpoint`,
//! `signed-note` and `tlog-tiles`): the signed checkpoint of the state the
//! register answers from, its verifier key, each entry's bytes, inclusion and
//! consistency proofs, and the tree as tiles; and the register's JWK set.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use registry_core::CoreError;
use registry_core::log::tiles::TileRef;
use serde::{Deserialize, Serialize};

use super::read;
use crate::extract::Query;
use crate::openapi::NoParams;
use crate::problem::Problem;
use crate::schema::{HashSchema, SignedNoteSchema, VerifierKeySchema};
use crate::state::AppState;

/// Entries, proofs and tiles never change once the log holds them.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A core refusal of a proof request is a fault of its parameters.
fn parameters(e: CoreError) -> Problem {
    match e {
        CoreError::Validation(errors) => Problem::parameters(errors),
        e => e.into(),
    }
}

/// A tree the log has not grown to yet: nothing to prove in it (yet).
fn not_reached(size: u64) -> Problem {
    Problem::not_found(format!("the log has not reached {size} entries yet"))
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// `GET /v1/log/checkpoint`: the signed checkpoint of the log as the register
/// answers from it.
#[utoipa::path(
    get,
    path = "/log/checkpoint",
    tag = "log",
    operation_id = "logCheckpoint",
    params(NoParams),
    responses(
        (status = 200, description = "The log's checkpoint (C2SP `tlog-checkpoint`: origin, tree size, base64 root hash, one line each) as a signed note (C2SP `signed-note`, Ed25519) by the register's key: the state the register's answers reflect (`Register-Seq`). Tiles of the tree are under `/log/tile/` (C2SP `tlog-tiles`).", content_type = "text/plain", body = SignedNoteSchema),
        crate::openapi::ReadProblems,
    )
)]
pub async fn checkpoint(
    _: Query<NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let tree = state.registry.model().log_tree()?;
    let (size, root) = tree.value;
    let note = state.checkpoints.note(size, &root);
    Ok(crate::http_cache::as_of(text(note.to_string()), tree.seq))
}

/// `GET /v1/log/verifier-key`: the key that verifies the checkpoints.
#[utoipa::path(
    get,
    path = "/log/verifier-key",
    tag = "log",
    operation_id = "logVerifierKey",
    params(NoParams),
    responses(
        (status = 200, description = "The signed-note verifier key of the register's current key: `<origin>+<key id, 8 hex digits>+<base64 of 0x01 and the Ed25519 public key>`, as Go's `golang.org/x/mod/sumdb/note` reads it.", content_type = "text/plain", body = VerifierKeySchema),
        crate::openapi::ReadProblems,
    )
)]
pub async fn verifier_key(
    _: Query<NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Ok(text(format!("{}\n", state.signing.key().verifier_key())))
}

/// `GET /.well-known/jwks.json`: the keys of the register's signed answers.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .body(state.signing.jwks().to_owned())
}

/// A log index, as the path gives it.
fn index(raw: &str) -> Result<u64, Problem> {
    raw.parse::<u64>()
        .ok()
        .filter(|i| *i < i64::MAX as u64 && (raw == "0" || !raw.starts_with('0')))
        .ok_or_else(|| Problem::parameter("index", "must be a whole number from 0"))
}

/// `GET /v1/log/entries/{index}`: an entry's exact bytes.
#[utoipa::path(
    get,
    path = "/log/entries/{index}",
    tag = "log",
    operation_id = "logEntry",
    params(
        ("index" = u64, Path, minimum = 0, maximum = 9223372036854775806_i64, description = "The entry's index in the log (0 is the first event)."),
        NoParams,
    ),
    responses(
        (status = 200, description = "The leaf's bytes, exactly as hashed (SHA-256 of 0x00 and these bytes): one line of JSON with, in this order, `seq`, `kind`, `certificate`, `certificationBody`, `effectiveAt`, `recordedAt` (UTC, microseconds), `detail` and `evidence` (the certification body's signed request, verbatim).", content_type = "application/json", body = Object),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn entry(
    path: web::Path<String>,
    _: Query<NoParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let i = index(&path)?;
    let registry = state.registry.clone();
    let leaf = read(&state, move || registry.log_entry(i))
        .await?
        .ok_or_else(|| Problem::not_found(format!("the log has no entry {i} yet")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
        .body(leaf))
}

/// `GET /v1/log/proof/inclusion`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    /// The entry's index.
    #[param(minimum = 0, maximum = 9223372036854775806_i64)]
    pub index: u64,
    /// The size of the tree (of a checkpoint) to prove it in.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    pub tree_size: u64,
}

crate::contract::query_contract!(InclusionParams);

/// An audit path (RFC 9162, 2.1.3), from the leaf up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    #[schema(minimum = 0, maximum = 9223372036854775806_i64)]
    index: u64,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    tree_size: u64,
    /// Base64 SHA-256 hashes, from the leaf's sibling up to the root's child.
    #[schema(max_items = 64, value_type = Vec<HashSchema>)]
    hashes: Vec<String>,
}

/// The entry's audit path in the tree of `treeSize` entries.
#[utoipa::path(
    get,
    path = "/log/proof/inclusion",
    tag = "log",
    operation_id = "logInclusionProof",
    params(InclusionParams),
    responses(
        (status = 200, description = "The RFC 6962 audit path of the entry in the tree of `treeSize` entries (the tree of a checkpoint with that size).", body = InclusionProof),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn inclusion(
    Query(params): Query<InclusionParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let InclusionParams { index, tree_size } = params;
    let registry = state.registry.clone();
    let hashes = read(&state, move || {
        Ok(registry.inclusion_proof(index, tree_size))
    })
    .await?
    .map_err(parameters)?
    .ok_or_else(|| not_reached(tree_size))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
        .json(InclusionProof {
            index,
            tree_size,
            hashes: hashes.iter().map(|h| STANDARD.encode(h)).collect(),
        }))
}

/// `GET /v1/log/proof/consistency`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older tree's size.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    pub from: u64,
    /// The newer tree's size (at least `from`).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    pub to: u64,
}

crate::contract::query_contract!(ConsistencyParams);

/// A consistency proof (RFC 9162, 2.1.4).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    from: u64,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    to: u64,
    /// Base64 SHA-256 hashes.
    #[schema(max_items = 128, value_type = Vec<HashSchema>)]
    hashes: Vec<String>,
}

/// That the tree of `from` entries is a prefix of the tree of `to`.
#[utoipa::path(
    get,
    path = "/log/proof/consistency",
    tag = "log",
    operation_id = "logConsistencyProof",
    params(ConsistencyParams),
    responses(
        (status = 200, description = "The RFC 6962 consistency proof between the trees of `from` and `to` entries: that the log only grew in between (empty when they are the same).", body = ConsistencyProof),
        crate::openapi::ResourceProblems,
    )
)]
pub async fn consistency(
    Query(params): Query<ConsistencyParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let ConsistencyParams { from, to } = params;
    let registry = state.registry.clone();
    let hashes = read(&state, move || Ok(registry.consistency_proof(from, to)))
        .await?
        .map_err(parameters)?
        .ok_or_else(|| not_reached(to))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
        .json(ConsistencyProof {
            from,
            to,
            hashes: hashes.iter().map(|h| STANDARD.encode(h)).collect(),
        }))
}

/// `GET /v1/log/tile/{…}`: a hash tile (`tile/<L>/<N>[.p/<W>]`) or an entry
/// bundle (`tile/entries/<N>[.p/<W>]`), C2SP `tlog-tiles`, height 8.
pub async fn tile(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let tile = TileRef::parse(&path)
        .ok_or_else(|| Problem::not_found(format!("no tile at tile/{}", path.as_str())))?;
    let registry = state.registry.clone();
    let bytes = read(&state, move || registry.log_tile(&tile))
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("the log has no tile {} yet", tile.path_suffix()))
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)))
        .body(bytes))
}
