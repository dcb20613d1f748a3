//! Evidence an officer printed: the register's signed answers, kept under
//! their reference (the answer's `jti`) so that the permalink on the paper
//! leads back to them. Kept as given, never changed or removed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::Registry;
use crate::company::KvkNumber;
use crate::error::CoreError;
use crate::storage::rows::{from_db, to_db};
use crate::storage::schema::evidence;

/// The longest signed answer kept (a status answer is about 1.5 KB).
pub const MAX_EVIDENCE_BYTES: usize = 16 * 1024;

/// A kept signed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptEvidence {
    pub reference: String,
    pub kvk_number: String,
    /// The compact JWS, as the register signed it.
    pub signed_answer: String,
    pub created_at: DateTime<Utc>,
}

/// A reference as the register makes them: `PSO-` and four groups of four
/// of Crockford's base32.
pub fn is_reference(s: &str) -> bool {
    s.len() == 23
        && s.starts_with("PSO-")
        && s[4..].split('-').all(|g| {
            g.len() == 4
                && g.bytes().all(|b| {
                    b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b))
                })
        })
}

impl Registry {
    /// Keeps a signed answer about `kvk` under `reference`.
    pub fn keep_evidence(
        &self,
        reference: &str,
        kvk: &KvkNumber,
        signed_answer: &str,
        at: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        if !is_reference(reference) {
            return Err(CoreError::field("reference", "is not a check reference"));
        }
        if signed_answer.len() > MAX_EVIDENCE_BYTES {
            return Err(CoreError::field("signedAnswer", "is too long to keep"));
        }
        self.write(|conn| {
            diesel::insert_into(evidence::table)
                .values((
                    evidence::reference.eq(reference),
                    evidence::kvk_number.eq(kvk.as_str()),
                    evidence::signed_answer.eq(signed_answer),
                    evidence::created_at.eq(to_db(at)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// The signed answer kept under `reference`, if any.
    pub fn evidence(&self, reference: &str) -> Result<Option<KeptEvidence>, CoreError> {
        if !is_reference(reference) {
            return Ok(None);
        }
        self.read(|conn| {
            let row: Option<(String, String, String, chrono::NaiveDateTime)> = evidence::table
                .find(reference)
                .select((
                    evidence::reference,
                    evidence::kvk_number,
                    evidence::signed_answer,
                    evidence::created_at,
                ))
                .first(conn)
                .optional()?;
            Ok(row.map(
                |(reference, kvk_number, signed_answer, created_at)| KeptEvidence {
                    reference,
                    kvk_number,
                    signed_answer,
                    created_at: from_db(created_at),
                },
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_the_registers_own() {
        assert!(is_reference("PSO-0123-4567-89AB-CDEF"));
        assert!(is_reference("PSO-GHJK-MNPQ-RSTV-WXYZ"));
        assert!(
            !is_reference("PSO-0123-4567-89AB-CDEI"),
            "no I in Crockford's alphabet"
        );
        assert!(!is_reference("PSO-0123-4567-89AB-cdef"));
        assert!(!is_reference("PSO-0123-4567-89AB"));
        assert!(!is_reference("XYZ-0123-4567-89AB-CDEF"));
        assert!(!is_reference("PSO-0123-4567-89AB-CDEF "));
    }
}
