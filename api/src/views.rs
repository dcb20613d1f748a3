//! What the API shows: JSON views of the core's types. Rows, domain types and
//! views are three things; conversions happen here, explicitly.

use registry_core::Company;
use serde::{Deserialize, Serialize};

/// A company as the register knows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompanyView {
    pub kvk_number: String,
    pub name: String,
    pub trade_names: Vec<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub sbi_codes: Vec<String>,
}

impl From<Company> for CompanyView {
    fn from(c: Company) -> Self {
        Self {
            kvk_number: c.kvk_number.into(),
            name: c.name.into(),
            trade_names: c.trade_names.into_iter().map(String::from).collect(),
            city: c.city.map(String::from),
            province: c.province.map(|p| p.name().to_owned()),
            sbi_codes: c.sbi_codes.into_iter().map(String::from).collect(),
        }
    }
}
