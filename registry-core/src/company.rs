//! Companies as the register knows them: the KvK number that identifies a legal
//! entity, and the public facts a certificate records about its holder.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::validation::{Faults, FieldError, InvalidValue};

/// A Chamber of Commerce (KvK) number: exactly eight digits, kept as text so that
/// leading zeros survive. No 11-check: real validators do not apply it and it
/// rejects real numbers (DOMAIN.md, "Company identifiers").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct KvkNumber(String);

impl KvkNumber {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[0-9]{8}$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("must be exactly 8 digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an integer (eight digits fit in 32 bits), for compact
    /// keys.
    pub(crate) fn value(&self) -> u32 {
        self.0
            .bytes()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    }

    /// The number [`KvkNumber::value`] gave (below 10^8).
    pub(crate) fn from_value(n: u32) -> Self {
        Self(format!("{n:08}"))
    }
}

impl TryFrom<String> for KvkNumber {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<KvkNumber> for String {
    fn from(k: KvkNumber) -> Self {
        k.0
    }
}

impl fmt::Display for KvkNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KvkNumber {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The twelve Dutch provinces, by their official names. Parsing ignores case,
/// accepts a space for the hyphen, and the Dutch exonym "Friesland" for Fryslân.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum Province {
    Groningen,
    Fryslan,
    Drenthe,
    Overijssel,
    Flevoland,
    Gelderland,
    Utrecht,
    NoordHolland,
    ZuidHolland,
    Zeeland,
    NoordBrabant,
    Limburg,
}

impl Province {
    pub const ALL: [Province; 12] = [
        Province::Groningen,
        Province::Fryslan,
        Province::Drenthe,
        Province::Overijssel,
        Province::Flevoland,
        Province::Gelderland,
        Province::Utrecht,
        Province::NoordHolland,
        Province::ZuidHolland,
        Province::Zeeland,
        Province::NoordBrabant,
        Province::Limburg,
    ];

    /// The official name, as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            Province::Groningen => "Groningen",
            Province::Fryslan => "Fryslân",
            Province::Drenthe => "Drenthe",
            Province::Overijssel => "Overijssel",
            Province::Flevoland => "Flevoland",
            Province::Gelderland => "Gelderland",
            Province::Utrecht => "Utrecht",
            Province::NoordHolland => "Noord-Holland",
            Province::ZuidHolland => "Zuid-Holland",
            Province::Zeeland => "Zeeland",
            Province::NoordBrabant => "Noord-Brabant",
            Province::Limburg => "Limburg",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let wanted = s.trim().to_lowercase().replace(' ', "-");
        if wanted == "friesland" || wanted == "fryslan" {
            return Ok(Province::Fryslan);
        }
        Province::ALL
            .into_iter()
            .find(|p| p.name().to_lowercase() == wanted)
            .ok_or_else(|| {
                InvalidValue::new(
                    "must be one of the 12 provinces: Groningen, Fryslân, Drenthe, Overijssel, \
                     Flevoland, Gelderland, Utrecht, Noord-Holland, Zuid-Holland, Zeeland, \
                     Noord-Brabant, Limburg",
                )
            })
    }
}

impl TryFrom<String> for Province {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// Written as its official name (`Fryslân`), without a copy.
impl Serialize for Province {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl From<Province> for String {
    fn from(p: Province) -> Self {
        p.name().to_owned()
    }
}

impl fmt::Display for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A sector code of the Standaard Bedrijfsindeling: 4 or 5 digits (SBI 2008 and
/// SBI 2025 both use this shape; the registry records the code as the CB gives it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct SbiCode(String);

impl SbiCode {
    /// What `parse` accepts, as a regular expression (for the API's contract).
    pub const PATTERN: &'static str = "^[0-9]{4,5}$";

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if (4..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new("must be an SBI code of 4 or 5 digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SbiCode {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SbiCode> for String {
    fn from(c: SbiCode) -> Self {
        c.0
    }
}

/// A short, non-empty, single-line text: a company name, trade name or city.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct Name(String);

/// The code points of the Basic Multilingual Plane that a name may not hold,
/// as the body of a regular expression class: [`crate::text::is_invisible`]'s
/// table below U+10000 (a unit test holds the two together).
macro_rules! refused_in_names {
    () => {
        "\\x00-\\x1f\\x7f-\\x9f\\xad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u3164\\ufdd0-\\ufdef\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\uffff"
    };
}

impl Name {
    /// Longest name accepted; the Handelsregister allows 200 characters.
    pub const MAX_CHARS: usize = 200;

    /// A necessary condition of `parse`, as a regular expression over the text
    /// as given (for the API's contract; with at most `MAX_CHARS` characters):
    /// none of the invisible code points of the Basic Multilingual Plane
    /// ([`crate::text::is_invisible`]: controls, format characters, separators,
    /// fillers), and at least one character that is not white space (Unicode
    /// White_Space), spelt out by code point so that every regular expression
    /// engine reads it alike. `parse` also asks for a letter or digit, one
    /// script per word, and refuses the invisible code points beyond the BMP,
    /// which no portable expression can say.
    pub const PATTERN: &'static str = concat!(
        "^[^",
        refused_in_names!(),
        "]*[^",
        refused_in_names!(),
        "\\x20\\xa0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000][^",
        refused_in_names!(),
        "]*$"
    );

    /// A name, composed (NFC) and trimmed of white space: none of the invisible
    /// code points anywhere, at most `MAX_CHARS` characters, with a letter or
    /// digit, each word in one script (UTS #39's single-script rule, so that a
    /// Cyrillic `а` cannot pass for a Latin `a`).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let composed: String = s.nfc().collect();
        if let Some(c) = composed.chars().find(|c| crate::text::is_invisible(*c)) {
            return Err(InvalidValue::new(format!(
                "must not contain control, format or invisible characters (U+{:04X})",
                u32::from(c)
            )));
        }
        let trimmed = composed.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if !trimmed.chars().any(char::is_alphanumeric) {
            return Err(InvalidValue::new("must contain a letter or digit"));
        }
        if let Some(word) = crate::text::mixed_script_word(trimmed) {
            return Err(InvalidValue::new(format!(
                "mixes scripts in one word ({word:?}), as a look-alike of another name would"
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name the register accepted before (kept by the read model as text).
    pub(crate) fn accepted(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl TryFrom<String> for Name {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The main applicant of a certificate, with the public facts the register shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub kvk_number: KvkNumber,
    pub name: Name,
    pub trade_names: Vec<Name>,
    pub city: Option<Name>,
    pub province: Option<Province>,
    pub sbi_codes: Vec<SbiCode>,
}

/// A legal entity covered by a certificate besides its main applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subsidiary {
    pub kvk_number: KvkNumber,
    pub name: Name,
}

/// How many trade names, SBI codes or subsidiaries one certificate may list.
pub const MAX_LIST_ITEMS: usize = 50;

/// Checks the cross-field rules of a certificate's coverage: no KvK number twice,
/// the main applicant not also a subsidiary, lists of sane length.
pub fn check_coverage(holder: &Holder, subsidiaries: &[Subsidiary]) -> Vec<FieldError> {
    let mut faults = Faults::new();
    if holder.trade_names.len() > MAX_LIST_ITEMS {
        faults.push(FieldError::new(
            "holder.trade_names",
            format!("must list at most {MAX_LIST_ITEMS} names"),
        ));
    }
    if holder.sbi_codes.len() > MAX_LIST_ITEMS {
        faults.push(FieldError::new(
            "holder.sbi_codes",
            format!("must list at most {MAX_LIST_ITEMS} codes"),
        ));
    }
    if subsidiaries.len() > MAX_LIST_ITEMS {
        faults.push(FieldError::new(
            "subsidiaries",
            format!("must list at most {MAX_LIST_ITEMS} subsidiaries"),
        ));
    }
    let mut seen = std::collections::BTreeSet::from([holder.kvk_number.clone()]);
    for (i, s) in subsidiaries.iter().enumerate() {
        if !seen.insert(s.kvk_number.clone()) {
            faults.push(FieldError::new(
                format!("subsidiaries[{i}].kvk_number"),
                "must differ from the main applicant's and the other subsidiaries' KvK numbers",
            ));
        }
    }
    faults.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_their_text() {
        // Stored histories and the API write each value as the text it parses from.
        let kvk = KvkNumber::parse("01234567").expect("kvk");
        let json = serde_json::to_string(&(
            kvk.clone(),
            Province::Fryslan,
            Name::parse("De Vries").expect("name"),
        ));
        assert_eq!(
            json.ok().as_deref(),
            Some(r#"["01234567","Fryslân","De Vries"]"#)
        );
        assert_eq!(
            serde_json::from_str::<KvkNumber>(r#""01234567""#).ok(),
            Some(kvk)
        );
        assert!(serde_json::from_str::<KvkNumber>(r#""1234567""#).is_err());
    }

    #[test]
    fn kvk_number_is_exactly_eight_digits_without_eleven_check() {
        for ok in ["12345678", "00000001", "69599084"] {
            assert!(KvkNumber::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1234567",
            "123456789",
            "1234567a",
            "",
            " 12345678",
            "１２３４５６７８",
        ] {
            assert!(KvkNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn province_parses_official_names_and_friesland() {
        assert_eq!(Province::parse("noord holland"), Ok(Province::NoordHolland));
        assert_eq!(Province::parse("Friesland"), Ok(Province::Fryslan));
        assert_eq!(Province::parse("Fryslân"), Ok(Province::Fryslan));
        assert!(Province::parse("Vlaanderen").is_err());
        for p in Province::ALL {
            assert_eq!(Province::parse(p.name()), Ok(p));
        }
    }

    #[test]
    fn sbi_codes_have_four_or_five_digits() {
        assert!(SbiCode::parse("4120").is_ok());
        assert!(SbiCode::parse("41201").is_ok());
        assert!(SbiCode::parse("412").is_err());
        assert!(SbiCode::parse("41.20").is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Jansen B.V. ").map(String::from),
            Ok("Jansen B.V.".into())
        );
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Name::parse("a\nb").is_err());
    }
}
