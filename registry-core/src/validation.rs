//! Field-level validation errors, shared by every constructor that checks input.

use serde::Serialize;

/// One field at fault and what is wrong with it, in words a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name, dotted for nested fields (`holder.kvk_number`).
    pub field: String,
    /// What the field must be.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, with `prefix.` put before the field name.
    pub fn nested(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

/// Why a value could not become a domain type; the message says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// This error as the fault of `field`.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError::new(field, self.0)
    }
}

/// Collects field errors while parsing a composite input, so a client hears about
/// every field at fault at once rather than one per round trip.
#[derive(Debug, Default)]
pub struct Faults(Vec<FieldError>);

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the error against `field` and yields `None`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e.at(field));
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, otherwise every recorded error.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            if let Some(v) = value() {
                return Ok(v);
            }
        }
        Err(self.0)
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}
