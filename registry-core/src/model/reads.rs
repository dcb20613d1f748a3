//! Reading the model: status answers, one company, one certificate — the
//! database's queries (see `registry::queries`), answered from memory.

use chrono::{DateTime, Utc};

use super::store::Store;
use crate::certificate::CertificateNumber;
use crate::company::KvkNumber;
use crate::registry::Certificate;
use crate::status::{PeriodFacts, StatusAnswer, StatusQuery, company_status};
use crate::storage::rows::Company;

impl Store {
    /// The status answer for one KvK number; an unknown number is simply not
    /// certified.
    pub fn company_status(&self, kvk: &KvkNumber, query: &StatusQuery) -> StatusAnswer {
        let facts = match self.company_id(kvk) {
            Some(company) => self.facts_of(company),
            None => Default::default(),
        };
        company_status(&facts, query)
    }

    /// One company, its standing at `at`, and every certificate that covers
    /// it: the one that speaks for it first, then the rest, newest first.
    pub fn company_detail(
        &self,
        kvk: &KvkNumber,
        at: DateTime<Utc>,
    ) -> Option<(Company, StatusAnswer, Vec<Certificate>)> {
        let company = self.company_id(kvk)?;
        let standing = company_status(
            &self.facts_of(company),
            &StatusQuery {
                on: at,
                until: None,
                level_min: None,
            },
        );
        let mut certificates: Vec<(Option<DateTime<Utc>>, Certificate)> = self
            .certificates_of(company)
            .filter_map(|id| {
                let first_start = self
                    .certificate(id)?
                    .periods
                    .first()
                    .map(PeriodFacts::starts_at);
                Some((first_start, self.full_certificate(id)?))
            })
            .collect();
        let speaks = |c: &Certificate| Some(c.number()) == standing.certificate_number.as_ref();
        certificates.sort_by(|(a_start, a), (b_start, b)| {
            speaks(b).cmp(&speaks(a)).then_with(|| b_start.cmp(a_start))
        });
        Some((
            self.company(company),
            standing,
            certificates.into_iter().map(|(_, c)| c).collect(),
        ))
    }

    /// One company, if the register knows it.
    pub fn company_by_kvk(&self, kvk: &KvkNumber) -> Option<Company> {
        self.company_id(kvk).map(|c| self.company(c))
    }

    /// One certificate, by number.
    pub fn certificate_by_number(&self, n: &CertificateNumber) -> Option<Certificate> {
        self.full_certificate(self.certificate_id(n)?)
    }
}
