//! What can go wrong in the core, in domain words. The api maps each variant to
//! one problem type.

use crate::certificate::CertificateNumber;
use crate::certification_body::{Accreditation, CbId};
use crate::storage::rows::CorruptRow;
use crate::storage::{StorageError, is_retryable, is_unavailable};
use crate::validation::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input that breaks a rule; every field at fault is listed.
    #[error("validation failed: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldError>),
    #[error("no certificate {0}")]
    CertificateNotFound(CertificateNumber),
    #[error("no certification body {0}")]
    CertificationBodyNotFound(CbId),
    /// No such thing, or not the asker's to see (an API client's subscription).
    #[error("{0}")]
    NotFound(String),
    #[error("certification body {0} already exists")]
    CertificationBodyExists(CbId),
    /// The CB's accreditation is suspended or withdrawn: it cannot write.
    #[error("certification body {id} is {accreditation:?}, not active")]
    NotAccredited {
        id: CbId,
        accreditation: Accreditation,
    },
    /// The certificate belongs to another CB.
    #[error("certificate {0} belongs to another certification body")]
    NotYourCertificate(CertificateNumber),
    /// A signed request id (`jti`) this CB has used before.
    #[error("request id already used")]
    Replay,
    /// The same `cb_reference` was issued before with other content.
    #[error("the reference {reference} was issued before as {existing} with other content")]
    IdempotencyConflict {
        reference: String,
        existing: CertificateNumber,
    },
    /// The main applicant already has a certificate in force that the issuance
    /// does not name in `replaces`.
    #[error(
        "the main applicant already holds certificate {existing}, in force; name it in replaces"
    )]
    CertificateInForce { existing: CertificateNumber },
    #[error("certificate {0} is revoked")]
    CertificateRevoked(CertificateNumber),
    #[error("certificate {0} is superseded")]
    CertificateSuperseded(CertificateNumber),
    /// A standing change that does not follow from the current one (reinstating
    /// an active certificate, suspending a suspended one).
    #[error("{0}")]
    InvalidTransition(String),
    /// The actor may not give this command (the scheme owner issuing, say).
    #[error("{0}")]
    NotPermitted(String),
    /// A concurrent write won a race; the whole command is tried again (and this
    /// only escapes when it keeps losing).
    #[error("concurrent write: {0}")]
    Contention(String),
    /// The database cannot be reached now; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The read model is still being built from the database; the request may
    /// be retried in a few seconds.
    #[error("the register is still loading")]
    Loading,
    /// A fault in storage that the client cannot fix (logged, never shown).
    #[error("storage fault: {0}")]
    Storage(String),
}

impl CoreError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<diesel::result::Error> for CoreError {
    fn from(e: diesel::result::Error) -> Self {
        if is_unavailable(&e) {
            CoreError::Unavailable(e.to_string())
        } else if is_retryable(&e) {
            CoreError::Contention(e.to_string())
        } else {
            CoreError::Storage(e.to_string())
        }
    }
}

impl From<diesel::r2d2::PoolError> for CoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        CoreError::Unavailable(e.to_string())
    }
}

impl From<CorruptRow> for CoreError {
    fn from(e: CorruptRow) -> Self {
        CoreError::Storage(e.to_string())
    }
}

impl From<StorageError> for CoreError {
    fn from(e: StorageError) -> Self {
        CoreError::Unavailable(e.to_string())
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::Storage(e.to_string())
    }
}
