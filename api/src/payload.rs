//! The payloads of signed requests (API.md, "Payloads"), read field by field into
//! the core's commands. Every field at fault is reported at once, by its full
//! name (`certificate.holder.kvk_number`); unknown fields are refused, so that a
//! misspelt optional field cannot pass unnoticed.

use chrono::{DateTime, NaiveDate, Utc};
use registry_core::{
    CbReference, CertificateNumber, ChangeStanding, FieldError, HandbookVersion, Holder,
    InvalidValue, IssueCertificate, KvkNumber, Level, Name, PeriodDraft, Province,
    RenewCertificate, SbiCode, Score, Standing, Subsidiary,
};
use serde_json::{Map, Value};

/// Reads the members of one JSON object, collecting faults under its path.
struct Reader<'o, 'f> {
    object: &'o Map<String, Value>,
    path: String,
    faults: &'f mut Vec<FieldError>,
}

impl<'o> Reader<'o, '_> {
    fn name(&self, member: &str) -> String {
        if self.path.is_empty() {
            member.to_owned()
        } else {
            format!("{}.{member}", self.path)
        }
    }

    fn fault(&mut self, member: &str, message: impl Into<String>) {
        let name = self.name(member);
        self.faults.push(FieldError::new(name, message));
    }

    /// Refuses members not in `allowed`.
    fn only(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for member in unknown {
            self.fault(&member, "is not a field of this payload");
        }
    }

    fn get(&self, member: &str) -> Option<&'o Value> {
        self.object.get(member).filter(|v| !v.is_null())
    }

    fn present(&mut self, member: &str, required: bool) -> Option<&'o Value> {
        let value = self.get(member);
        if value.is_none() && required {
            self.fault(member, "is required");
        }
        value
    }

    /// A string member parsed by `parse`.
    fn text<T>(
        &mut self,
        member: &str,
        required: bool,
        parse: impl Fn(&str) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        match self.present(member, required)? {
            Value::String(s) => match parse(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.fault(member, e.0);
                    None
                }
            },
            _ => {
                self.fault(member, "must be a string");
                None
            }
        }
    }

    fn date(&mut self, member: &str, required: bool) -> Option<NaiveDate> {
        self.text(member, required, |s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|_| s.len() == 10)
                .ok_or_else(|| InvalidValue::new("must be a date: YYYY-MM-DD"))
        })
    }

    fn flag(&mut self, member: &str) -> bool {
        match self.get(member) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.fault(member, "must be true or false");
                false
            }
        }
    }

    fn integer(&mut self, member: &str) -> Option<i64> {
        match self.present(member, true)? {
            Value::Number(n) if n.is_i64() => n.as_i64(),
            _ => {
                self.fault(member, "must be a whole number");
                None
            }
        }
    }

    fn number(&mut self, member: &str) -> Option<f64> {
        match self.get(member)? {
            Value::Number(n) => n.as_f64(),
            _ => {
                self.fault(member, "must be a number");
                None
            }
        }
    }

    /// An optional array of strings, each parsed by `parse`.
    fn texts<T>(
        &mut self,
        member: &str,
        parse: impl Fn(&str) -> Result<T, InvalidValue>,
    ) -> Vec<T> {
        match self.get(member) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().map(&parse) {
                        Some(Ok(v)) => out.push(v),
                        Some(Err(e)) => self.fault(&format!("{member}[{i}]"), e.0),
                        None => self.fault(&format!("{member}[{i}]"), "must be a string"),
                    }
                }
                out
            }
            Some(_) => {
                self.fault(member, "must be an array of strings");
                Vec::new()
            }
        }
    }

    fn object(&mut self, member: &str, required: bool) -> Option<&'o Map<String, Value>> {
        match self.present(member, required)? {
            Value::Object(o) => Some(o),
            _ => {
                self.fault(member, "must be an object");
                None
            }
        }
    }
}

fn reader<'o, 'f>(
    object: &'o Map<String, Value>,
    path: &str,
    faults: &'f mut Vec<FieldError>,
) -> Reader<'o, 'f> {
    Reader {
        object,
        path: path.to_owned(),
        faults,
    }
}

/// The claims that wrap every payload; anything else at the top level is refused.
const ENVELOPE: [&str; 7] = ["iss", "aud", "iat", "exp", "jti", "act", "sub"];

fn check_envelope(claims: &Map<String, Value>, payload: &[&str], faults: &mut Vec<FieldError>) {
    let allowed: Vec<&str> = ENVELOPE.iter().chain(payload).copied().collect();
    reader(claims, "", faults).only(&allowed);
}

const PERIOD_FIELDS: [&str; 9] = [
    "level",
    "pso30plus",
    "valid_from",
    "valid_until",
    "audit_date",
    "reference_year",
    "handbook_version",
    "score_percent",
    "total_fte",
];

/// The period fields of an issuance or renewal.
fn period(r: &mut Reader<'_, '_>) -> Option<PeriodDraft> {
    let level = r.text("level", true, Level::parse);
    let pso30plus = r.flag("pso30plus");
    let valid_from = r.date("valid_from", true);
    let valid_until = r.date("valid_until", false);
    let audit_date = r.date("audit_date", true);
    let reference_year = r
        .integer("reference_year")
        .and_then(|y| i32::try_from(y).ok());
    let handbook_version = r.text("handbook_version", true, HandbookVersion::parse);
    let score = Score {
        percent: r.number("score_percent"),
        total_fte: r.number("total_fte"),
    };
    Some(PeriodDraft {
        level: level?,
        pso30plus,
        valid_from: valid_from?,
        valid_until,
        audit_date: audit_date?,
        reference_year: reference_year?,
        handbook_version: handbook_version?,
        score,
    })
}

/// Prefixes the core's field names (`valid_until`) with the claim they came in.
fn within(prefix: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError::new(format!("{prefix}.{}", e.field), e.message))
        .collect()
}

/// Prefixes validation errors from the core with the claim they belong to.
pub fn prefix_core_error(
    prefix: &str,
    error: registry_core::CoreError,
) -> registry_core::CoreError {
    match error {
        registry_core::CoreError::Validation(errors) => {
            registry_core::CoreError::Validation(within(prefix, errors))
        }
        other => other,
    }
}

/// The `certificate` claim of an issuance.
pub fn issuance(claims: &Map<String, Value>) -> Result<IssueCertificate, Vec<FieldError>> {
    let mut faults = Vec::new();
    check_envelope(claims, &["certificate"], &mut faults);
    let Some(Value::Object(cert)) = claims.get("certificate") else {
        faults.push(FieldError::new(
            "certificate",
            "is required and must be an object",
        ));
        return Err(faults);
    };
    let mut r = reader(cert, "certificate", &mut faults);
    let mut allowed = vec!["cb_reference", "holder", "subsidiaries", "replaces"];
    allowed.extend(PERIOD_FIELDS);
    r.only(&allowed);
    let cb_reference = r.text("cb_reference", true, CbReference::parse);
    let replaces = r.text("replaces", false, CertificateNumber::parse);
    let draft = period(&mut r);
    let holder_object = r.object("holder", true);
    let subsidiaries_value = r.get("subsidiaries");

    let holder = holder_object.and_then(|h| {
        let mut r = reader(h, "certificate.holder", &mut faults);
        r.only(&[
            "kvk_number",
            "name",
            "trade_names",
            "city",
            "province",
            "sbi_codes",
        ]);
        let kvk_number = r.text("kvk_number", true, KvkNumber::parse);
        let name = r.text("name", true, Name::parse);
        let trade_names = r.texts("trade_names", Name::parse);
        let city = r.text("city", false, Name::parse);
        let province = r.text("province", false, Province::parse);
        let sbi_codes = r.texts("sbi_codes", SbiCode::parse);
        Some(Holder {
            kvk_number: kvk_number?,
            name: name?,
            trade_names,
            city,
            province,
            sbi_codes,
        })
    });
    let mut subsidiaries = Vec::new();
    match subsidiaries_value {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("certificate.subsidiaries[{i}]");
                let Some(object) = item.as_object() else {
                    faults.push(FieldError::new(path, "must be an object"));
                    continue;
                };
                let mut r = reader(object, &path, &mut faults);
                r.only(&["kvk_number", "name"]);
                let kvk_number = r.text("kvk_number", true, KvkNumber::parse);
                let name = r.text("name", true, Name::parse);
                if let (Some(kvk_number), Some(name)) = (kvk_number, name) {
                    subsidiaries.push(Subsidiary { kvk_number, name });
                }
            }
        }
        Some(_) => faults.push(FieldError::new(
            "certificate.subsidiaries",
            "must be an array",
        )),
    }
    match (cb_reference, holder, draft) {
        (Some(cb_reference), Some(holder), Some(period)) if faults.is_empty() => {
            Ok(IssueCertificate {
                cb_reference,
                holder,
                subsidiaries,
                period,
                replaces,
            })
        }
        _ => Err(faults),
    }
}

/// The `period` claim of a renewal.
pub fn renewal(
    claims: &Map<String, Value>,
    number: CertificateNumber,
) -> Result<RenewCertificate, Vec<FieldError>> {
    let mut faults = Vec::new();
    check_envelope(claims, &["period"], &mut faults);
    let Some(Value::Object(p)) = claims.get("period") else {
        faults.push(FieldError::new(
            "period",
            "is required and must be an object",
        ));
        return Err(faults);
    };
    let mut r = reader(p, "period", &mut faults);
    r.only(&PERIOD_FIELDS);
    let draft = period(&mut r);
    match draft {
        Some(period) if faults.is_empty() => Ok(RenewCertificate { number, period }),
        _ => Err(faults),
    }
}

/// `reason` and `effective_at` of a suspension, reinstatement or revocation
/// (the scheme owner's revocation body has the same two fields).
pub fn standing(
    claims: &Map<String, Value>,
    envelope: bool,
    number: CertificateNumber,
    standing: Standing,
) -> Result<ChangeStanding, Vec<FieldError>> {
    let mut faults = Vec::new();
    if envelope {
        check_envelope(claims, &["reason", "effective_at"], &mut faults);
    } else {
        reader(claims, "", &mut faults).only(&["reason", "effective_at"]);
    }
    let mut r = reader(claims, "", &mut faults);
    let reason = r.text("reason", false, |s| Ok(s.to_owned()));
    let effective_at = r.text("effective_at", false, |s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                InvalidValue::new("must be an RFC 3339 instant, e.g. 2026-05-01T00:00:00Z")
            })
    });
    if faults.is_empty() {
        Ok(ChangeStanding {
            number,
            standing,
            reason,
            effective_at,
        })
    } else {
        Err(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn fields(r: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn the_api_md_example_issuance_reads() {
        let c = claims(json!({"iss": "kiwa", "act": "issue", "certificate": {
            "cb_reference": "KIWA-PSO-2026-0042", "handbook_version": "2.1", "level": "trede_2", "pso30plus": false,
            "holder": {"kvk_number": "12345678", "name": "Bouwbedrijf De Vries B.V.", "trade_names": ["De Vries Bouw"],
                       "city": "Utrecht", "province": "Utrecht", "sbi_codes": ["4120"]},
            "subsidiaries": [{"kvk_number": "87654321", "name": "De Vries Infra B.V."}],
            "valid_from": "2026-01-15", "valid_until": "2028-01-15", "audit_date": "2025-12-10",
            "reference_year": 2025, "score_percent": 9.4, "total_fte": 42.5, "replaces": null}}));
        let issue = issuance(&c).expect("valid");
        assert_eq!(issue.holder.kvk_number.as_str(), "12345678");
        assert_eq!(issue.subsidiaries.len(), 1);
        assert_eq!(issue.period.level, Level::Trede2);
    }

    #[test]
    fn every_field_at_fault_is_named() {
        let c = claims(json!({"extra": 1, "certificate": {
            "cb_reference": "", "level": "trede_4", "valid_from": "15-01-2026", "audit_date": "2025-12-10",
            "reference_year": "2025", "handbook_version": "2.1", "valid_untill": "2028-01-15",
            "holder": {"kvk_number": "1234567", "name": "X", "province": "Vlaanderen", "sbi_codes": ["41"]},
            "subsidiaries": [{"kvk_number": "abc"}]}}));
        assert_eq!(
            fields(issuance(&c)),
            [
                "extra",
                "certificate.valid_untill",
                "certificate.cb_reference",
                "certificate.level",
                "certificate.valid_from",
                "certificate.reference_year",
                "certificate.holder.kvk_number",
                "certificate.holder.province",
                "certificate.holder.sbi_codes[0]",
                "certificate.subsidiaries[0].kvk_number",
                "certificate.subsidiaries[0].name",
            ]
        );
        assert_eq!(fields(issuance(&claims(json!({})))), ["certificate"]);
    }

    #[test]
    fn standing_changes_read_reason_and_instant() {
        let n = CertificateNumber::parse("PSO-2026-000001").expect("number");
        let ok = standing(
            &claims(json!({"reason": "audit", "effective_at": "2026-05-01T10:00:00Z"})),
            true,
            n.clone(),
            Standing::Suspended,
        );
        assert!(ok.is_ok_and(|c| c.effective_at.is_some()));
        let bad = standing(
            &claims(json!({"reason": 5, "effective_at": "yesterday"})),
            true,
            n,
            Standing::Suspended,
        );
        assert_eq!(fields(bad), ["reason", "effective_at"]);
    }
}
