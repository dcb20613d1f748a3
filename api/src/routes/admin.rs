//! The scheme owner's API (`Authorization: Bearer <REGISTRY_ADMIN_TOKEN>`):
//! accrediting certification bodies, changing them, revoking any certificate.
//! Without a configured token the admin paths do not exist (404), and the log
//! says why at start-up.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use registry_core::{
    Accredit, Accreditation, CbId, CertificationBodyChange, FieldError, InvalidValue, KeySource,
    Name, Provenance, Standing,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::blocking;
use super::certificates::number;
use crate::keys::{check_jwks_uri, parse_jwks};
use crate::payload;
use crate::problem::{Problem, ProblemType};
use crate::state::AppState;
use crate::views::{CertificateView, CertificationBodyView};

/// Checks the bearer token in constant time (comparing digests, so neither the
/// content nor the length of the token leaks through timing). Never logs it.
fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), Problem> {
    let Some(expected) = &state.config.admin_token else {
        return Err(Problem::not_found(format!("no resource at {}", req.path())));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let same: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.expose().as_bytes()))
        .into();
    if same && !presented.is_empty() {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemType::Unauthorized,
            "the scheme owner's API needs Authorization: Bearer <token>",
        ))
    }
}

fn object(body: &Value) -> Result<&Map<String, Value>, Problem> {
    body.as_object()
        .ok_or_else(|| Problem::validation(vec![FieldError::new("body", "must be a JSON object")]))
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str], faults: &mut Vec<FieldError>) {
    for key in body.keys().filter(|k| !allowed.contains(&k.as_str())) {
        faults.push(FieldError::new(
            key.clone(),
            "is not a field of this request",
        ));
    }
}

fn string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    faults: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            faults.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// A string field parsed by `parse`; a fault (not a string, not valid) is
/// recorded under the field's name.
fn parsed<T>(
    body: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str) -> Result<T, InvalidValue>,
    faults: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = string(body, field, faults)?;
    parse(raw).map_err(|e| faults.push(e.at(field))).ok()
}

/// As [`parsed`], and recorded as missing when absent.
fn required<T>(
    body: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str) -> Result<T, InvalidValue>,
    faults: &mut Vec<FieldError>,
) -> Option<T> {
    if body.get(field).is_none_or(Value::is_null) {
        faults.push(FieldError::new(field, "is required"));
        return None;
    }
    parsed(body, field, parse, faults)
}

/// Reads `jwks` or `jwks_uri` (never both); a `jwks_uri` is fetched now, so that
/// a wrong address is found at once.
async fn key_source(
    state: &AppState,
    id: Option<&CbId>,
    body: &Map<String, Value>,
    faults: &mut Vec<FieldError>,
) -> Option<(KeySource, Option<Vec<registry_core::PublicKey>>)> {
    let jwks = body.get("jwks").filter(|v| !v.is_null());
    let uri = string(body, "jwks_uri", faults);
    match (jwks, uri) {
        (Some(_), Some(_)) => {
            faults.push(FieldError::new(
                "jwks_uri",
                "give jwks or jwks_uri, not both",
            ));
            None
        }
        (Some(jwks), None) => match parse_jwks(jwks, "jwks") {
            Ok(keys) => Some((KeySource::Inline(keys), None)),
            Err(errors) => {
                faults.extend(errors);
                None
            }
        },
        (None, Some(uri)) => {
            if let Err(e) = check_jwks_uri(uri) {
                faults.push(FieldError::new("jwks_uri", e));
                return None;
            }
            let fetched = match id {
                Some(id) => state.keys.fetch_for(id, uri).await,
                None => state.keys.fetch(uri).await,
            };
            match fetched {
                Ok(keys) => Some((KeySource::Uri(uri.to_owned()), Some(keys))),
                Err(e) => {
                    faults.push(FieldError::new("jwks_uri", format!("cannot be used: {e}")));
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// `POST /v1/admin/certification-bodies`: accredit a CB with `id`, `name`, and
/// `jwks` or `jwks_uri`; `201`.
#[utoipa::path(
    post,
    path = "/v1/admin/certification-bodies",
    tag = "admin",
    operation_id = "accredit_certification_body",
    security(("scheme_owner" = [])),
    request_body(content = crate::openapi::AccreditRequest),
    responses(
        (status = 201, description = "Accredited (`active`); `Location` names it.", body = CertificationBodyView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn accredit(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    authorize(&req, &state)?;
    let body = object(&body)?;
    let mut faults = Vec::new();
    refuse_unknown(body, &["id", "name", "jwks", "jwks_uri"], &mut faults);
    let id = required(body, "id", CbId::parse, &mut faults);
    let name = required(body, "name", Name::parse, &mut faults);
    let keys = key_source(&state, id.as_ref(), body, &mut faults).await;
    if keys.is_none() && !faults.iter().any(|f| f.field.starts_with("jwks")) {
        faults.push(FieldError::new("jwks", "give jwks (a JWK set) or jwks_uri"));
    }
    let (Some(id), Some(name), Some((keys, fetched)), true) = (id, name, keys, faults.is_empty())
    else {
        return Err(Problem::validation(faults));
    };
    let registry = state.registry.clone();
    let command = Accredit {
        id: id.clone(),
        name: name.into(),
        keys,
    };
    let mut created = blocking(move || registry.accredit(command)).await?;
    if let Some(keys) = fetched {
        let registry = state.registry.clone();
        created = blocking(move || registry.sync_published_keys(&id, &keys)).await?;
    }
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/certification-bodies/{}", created.id),
        ))
        .json(CertificationBodyView::from(created)))
}

/// `PATCH /v1/admin/certification-bodies/{id}`: change `name`, keys (`jwks` or
/// `jwks_uri`) or `accreditation` (`active`, `suspended`, `withdrawn`).
#[utoipa::path(
    patch,
    path = "/v1/admin/certification-bodies/{id}",
    tag = "admin",
    operation_id = "change_certification_body",
    security(("scheme_owner" = [])),
    params(("id" = String, Path, description = "The CB's id.")),
    request_body(content = crate::openapi::CertificationBodyPatch),
    responses(
        (status = 200, description = "Changed (keys no longer listed are retired).", body = CertificationBodyView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn change(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    authorize(&req, &state)?;
    let id = CbId::parse(&path).map_err(|e| Problem::parameter("id", e.0))?;
    let body = object(&body)?;
    let mut faults = Vec::new();
    refuse_unknown(
        body,
        &["name", "jwks", "jwks_uri", "accreditation"],
        &mut faults,
    );
    let name = parsed(body, "name", Name::parse, &mut faults);
    let accreditation = parsed(body, "accreditation", Accreditation::parse, &mut faults);
    let keys = key_source(&state, Some(&id), body, &mut faults).await;
    if !faults.is_empty() {
        return Err(Problem::validation(faults));
    }
    let (keys, fetched) = match keys {
        Some((k, f)) => (Some(k), f),
        None => (None, None),
    };
    let change = CertificationBodyChange {
        name: name.map(String::from),
        keys,
        accreditation,
    };
    let registry = state.registry.clone();
    let target = id.clone();
    let mut changed = blocking(move || registry.change_certification_body(&target, change)).await?;
    if let Some(keys) = fetched {
        let registry = state.registry.clone();
        changed = blocking(move || registry.sync_published_keys(&id, &keys)).await?;
    }
    Ok(HttpResponse::Ok().json(CertificationBodyView::from(changed)))
}

/// `POST /v1/admin/certificates/{number}/revocation`: revoke any certificate,
/// with a `reason` (and an optional `effective_at`).
#[utoipa::path(
    post,
    path = "/v1/admin/certificates/{number}/revocation",
    tag = "admin",
    operation_id = "revoke_any_certificate",
    security(("scheme_owner" = [])),
    params(("number" = String, Path, description = "A certificate number.")),
    request_body(content = crate::openapi::RevocationRequest),
    responses(
        (status = 200, description = "Revoked.", body = CertificateView),
        crate::openapi::AdminProblems,
    )
)]
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    authorize(&req, &state)?;
    let n = number(&path)?;
    let body = object(&body)?;
    let command =
        payload::standing(body, false, n, Standing::Revoked).map_err(Problem::validation)?;
    let registry = state.registry.clone();
    let certificate =
        blocking(move || registry.change_standing(command, &Provenance::scheme_owner())).await?;
    Ok(HttpResponse::Ok().json(CertificateView::new(
        certificate,
        registry_core::time::now(),
    )))
}
