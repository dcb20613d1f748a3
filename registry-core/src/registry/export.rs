//! The bulk export: every certificate, or every company, read from one
//! snapshot of the database (so the whole export is the register as of one
//! `seq`), a page at a time in key order, handed to a sink that writes it out.
//! Memory stays constant whatever the register's size: one page at a time.

use diesel::prelude::*;

use super::Registry;
use super::queries::{Certificate, certificates_of};
use crate::error::CoreError;
use crate::storage::rows::{CertificateRow, Company, CompanyRow};
use crate::storage::schema::{certificates, companies, coverage};

/// Rows read and handed over at once.
pub const EXPORT_PAGE: i64 = 500;

/// What an export hands its sink: first the `seq` it is as of, then pages.
#[derive(Debug)]
pub enum Exported<T> {
    AsOf(i64),
    Page(Vec<T>),
}

/// A company with the numbers of the certificates that cover it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedCompany {
    pub company: Company,
    pub certificates: Vec<String>,
}

impl Registry {
    /// Every certificate, in the order issued, as of one `seq`. The sink's
    /// error (a reader that went away) ends the export.
    pub fn export_certificates(
        &self,
        mut sink: impl FnMut(Exported<Certificate>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        self.read(|conn| {
            conn.in_snapshot(|conn, seq| {
                sink(Exported::AsOf(seq))?;
                let mut after = 0i64;
                loop {
                    let rows: Vec<CertificateRow> = certificates::table
                        .filter(certificates::id.gt(after))
                        .order(certificates::id.asc())
                        .limit(EXPORT_PAGE)
                        .select(CertificateRow::as_select())
                        .load(conn)?;
                    let Some(last) = rows.last() else {
                        return Ok(());
                    };
                    after = last.id;
                    sink(Exported::Page(certificates_of(conn, rows)?))?;
                }
            })
        })
    }

    /// Every company the register knows, by KvK number, as of one `seq`.
    pub fn export_companies(
        &self,
        mut sink: impl FnMut(Exported<ExportedCompany>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        self.read(|conn| {
            conn.in_snapshot(|conn, seq| {
                sink(Exported::AsOf(seq))?;
                let mut after = String::new();
                loop {
                    let rows: Vec<CompanyRow> = companies::table
                        .filter(companies::kvk_number.gt(&after))
                        .order(companies::kvk_number.asc())
                        .limit(EXPORT_PAGE)
                        .select(CompanyRow::as_select())
                        .load(conn)?;
                    let Some(last) = rows.last() else {
                        return Ok(());
                    };
                    after = last.kvk_number.clone();
                    let kvks: Vec<&str> = rows.iter().map(|r| r.kvk_number.as_str()).collect();
                    let covering: Vec<(String, String)> = coverage::table
                        .inner_join(
                            certificates::table.on(certificates::id.eq(coverage::certificate_id)),
                        )
                        .filter(coverage::kvk_number.eq_any(&kvks))
                        .order((coverage::kvk_number.asc(), certificates::id.asc()))
                        .select((coverage::kvk_number, certificates::number))
                        .load(conn)?;
                    let mut covering = covering.into_iter().peekable();
                    let mut page = Vec::with_capacity(rows.len());
                    for row in rows {
                        let mut numbers = Vec::new();
                        while let Some((_, n)) = covering.next_if(|(k, _)| *k == row.kvk_number) {
                            numbers.push(n);
                        }
                        page.push(ExportedCompany {
                            company: row.into_domain()?,
                            certificates: numbers,
                        });
                    }
                    sink(Exported::Page(page))?;
                }
            })
        })
    }
}
