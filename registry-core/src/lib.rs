//! The PSO register's core: what a certificate is, its lifecycle, the rule that
//! decides a company's status on a date, the append-only event log, and their
//! storage on SQLite or PostgreSQL. It knows nothing of HTTP, JSON request shapes
//! or signatures: the api turns requests into the commands and queries here.

pub mod certificate;
pub mod certification_body;
pub mod company;
pub mod error;
pub mod event;
pub mod level;
pub mod log;
pub mod model;
pub mod period;
pub mod registry;
pub mod scheme;
pub mod status;
pub mod storage;
pub mod text;
pub mod time;
pub mod transition;
pub mod validation;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use certificate::{
    CbReference, CertificateHistory, CertificateNumber, CertificateStatus, Standing, StandingChange,
};
pub use certification_body::{
    Accreditation, CbId, CertificationBody, KeyRecord, KeySource, PublicKey,
};
pub use company::{Holder, KvkNumber, Name, Province, SbiCode, Subsidiary};
pub use error::CoreError;
pub use event::{Actor, Event, EventKind, Provenance, RequestId, SignedRequest};
pub use level::Level;
pub use model::{AsOf, Follow, ReadModel};
pub use period::{HandbookVersion, Period, PeriodDraft, Score};
pub use registry::{
    Accredit, Batch, Certificate, CertificationBodyChange, ChangeStanding, CompanyHit, Covered,
    IssueCertificate, Issued, KeyChanges, LogCheck, PoolState, Registry, RenewCertificate,
    SearchCursor, SearchFilter, SearchPage, SearchStatus, Tampering,
};
pub use scheme::{Scheme, SchemeRules};
pub use status::{CompanyStatus, IntervalEnd, StatusAnswer, StatusQuery};
pub use storage::rows::Company;
pub use storage::{Backend, DatabaseUrl, PoolOptions, StorageError};
pub use validation::{FieldError, InvalidValue};
