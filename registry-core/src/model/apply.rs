//! Following the log: each event changes the model as its transaction changed
//! the tables — an issuance writes its holder (every public fact) and its
//! subsidiaries (their names) and adds the certificate; a renewal appends a
//! period; a standing change appends itself. Applied in `seq` order, the
//! model is the tables' state after the last event applied.

use smallvec::smallvec;

use super::store::{CbRef, CertRec, CompanyFacts, Store};
use crate::certificate::{Standing, StandingChange};
use crate::company::{KvkNumber, Name, Province, SbiCode};
use crate::error::CoreError;
use crate::event::EventKind;
use crate::registry::details::{IssuedDetail, RenewedDetail};
use crate::registry::event_log::LoggedEvent;

/// Why an event could not be applied from the log alone (one written before
/// the read model, or one the model has no certificate for): the model then
/// reads what it changed from the tables.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotFromLog {
    #[error("event {0} does not carry what it wrote")]
    Incomplete(i64),
    #[error("event {0} names a certificate the model does not hold")]
    UnknownCertificate(i64),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<serde_json::Error> for NotFromLog {
    fn from(e: serde_json::Error) -> Self {
        NotFromLog::Core(CoreError::from(e))
    }
}

/// A company's facts, owned (read before they are changed).
struct Owned {
    name: Name,
    trade_names: Vec<Name>,
    city: Option<Name>,
    province: Option<Province>,
    sbi_codes: Vec<SbiCode>,
}

impl Owned {
    fn facts(&self) -> CompanyFacts<'_> {
        CompanyFacts {
            name: &self.name,
            trade_names: &self.trade_names,
            city: self.city.as_ref(),
            province: self.province,
            sbi_codes: &self.sbi_codes,
        }
    }
}

impl Store {
    /// Extends the model's edge of the transparency log by an event's leaf;
    /// one that does not follow marks the edge for reading again.
    pub(crate) fn extend_log(&mut self, event: &LoggedEvent) {
        match event.leaf {
            Some((index, hash)) if index == self.log.size() => {
                self.log.push(hash);
                self.log_root = self.log.root();
            }
            Some((index, _)) if index < self.log.size() && !self.log_stale => {}
            _ => self.log_stale = true,
        }
    }

    /// Applies one event of the log.
    pub(crate) fn apply(&mut self, event: &LoggedEvent) -> Result<(), NotFromLog> {
        match event.kind {
            EventKind::Issued => self.apply_issued(event),
            EventKind::Renewed => {
                let detail: RenewedDetail = serde_json::from_str(&event.detail)?;
                let period = self.model_period(&detail.period);
                let id = self.event_certificate(event)?;
                if let Some(c) = self.certificate_mut(id) {
                    c.periods.push(period);
                }
                self.summarise(id);
                Ok(())
            }
            EventKind::Suspended
            | EventKind::Reinstated
            | EventKind::Revoked
            | EventKind::Superseded => {
                let standing = event.kind.standing().unwrap_or(Standing::Revoked);
                let id = self.event_certificate(event)?;
                let change = StandingChange {
                    standing,
                    effective_at: event.effective_at,
                };
                let Store {
                    certificates,
                    changes,
                    ..
                } = self;
                if let Some(c) = certificates.get_mut(id as usize).and_then(Option::as_mut) {
                    c.changes = changes.append(c.changes, change);
                }
                self.summarise(id);
                Ok(())
            }
            // Expiry changes nothing the status rule reads; accreditation
            // changes nothing the model holds.
            EventKind::Expired
            | EventKind::CertificationBodyAccredited
            | EventKind::CertificationBodyChanged
            | EventKind::CertificationBodyKeysChanged => Ok(()),
        }
    }

    /// The model's id of the certificate an event concerns.
    fn event_certificate(&self, event: &LoggedEvent) -> Result<u32, NotFromLog> {
        event
            .certificate
            .as_ref()
            .and_then(|(id, _)| u32::try_from(*id).ok())
            .filter(|id| self.certificate(*id).is_some())
            .ok_or(NotFromLog::UnknownCertificate(event.seq))
    }

    fn apply_issued(&mut self, event: &LoggedEvent) -> Result<(), NotFromLog> {
        let detail: IssuedDetail = serde_json::from_str(&event.detail)?;
        let (Some(holder), Some(subsidiaries), Some((id, number)), Some(cb)) = (
            &detail.holder,
            &detail.subsidiaries,
            &event.certificate,
            &event.certification_body,
        ) else {
            return Err(NotFromLog::Incomplete(event.seq));
        };
        let id = u32::try_from(*id).map_err(|_| NotFromLog::Incomplete(event.seq))?;
        let now = event.recorded_at;
        // Every public fact of the holder; a city or province left out keeps
        // the one known (the tables' update leaves a missing value alone).
        let kept = self.owned_facts(&holder.kvk_number);
        let facts = Owned {
            name: holder.name.clone(),
            trade_names: holder.trade_names.clone(),
            city: holder.city.clone().or(kept.city),
            province: holder.province.or(kept.province),
            sbi_codes: holder.sbi_codes.clone(),
        };
        let main = self.put_company(holder.kvk_number.value(), &facts.facts());
        let mut covered = Vec::with_capacity(subsidiaries.len());
        for s in subsidiaries {
            // A subsidiary gets its new name; its other facts stay.
            let kept = self.owned_facts(&s.kvk_number);
            let facts = Owned {
                name: s.name.clone(),
                ..kept
            };
            covered.push(self.put_company(s.kvk_number.value(), &facts.facts()));
        }
        let replaces = detail
            .replaces
            .as_ref()
            .and_then(|n| self.certificate_id(n))
            .unwrap_or(0);
        let period = self.model_period(&detail.period);
        let cb = self.cbs.id(cb);
        let cb_reference = self.texts.push(detail.cb_reference.as_str());
        let subsidiaries = self.covered.push(&covered);
        self.put_certificate(
            id,
            CertRec {
                main,
                subsidiaries,
                cb: CbRef::new(cb),
                scheme: self.rules.scheme,
                cb_reference,
                replaces,
                issued_at: now.timestamp_micros(),
                periods: smallvec![period],
                changes: Default::default(),
            },
            number,
        );
        self.summarise(id);
        Ok(())
    }

    /// A company's facts as the model holds them (empty for a new one).
    fn owned_facts(&self, kvk: &KvkNumber) -> Owned {
        match self.company_id(kvk) {
            Some(c) => {
                let company = self.company(c);
                Owned {
                    name: company.name,
                    trade_names: company.trade_names,
                    city: company.city,
                    province: company.province,
                    sbi_codes: company.sbi_codes,
                }
            }
            None => Owned {
                name: Name::accepted(""),
                trade_names: Vec::new(),
                city: None,
                province: None,
                sbi_codes: Vec::new(),
            },
        }
    }
}
