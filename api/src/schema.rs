//! The contract's names for the domain's values: one OpenAPI schema for each
//! kind of value the API reads or writes (a KvK number, a level, a name, an
//! instant, …), built from registry-core's own patterns, limits and lists, so
//! that what the document states is what the parsers accept. Request and view
//! types point their fields here (`#[schema(value_type = …)]`); the document
//! lists each once under `components/schemas`, and client generators make one
//! type (an enum for every list) of each.
//!
//! Each text schema carries the message the register gives when a value does
//! not match its pattern ([`PATTERN_MESSAGES`]): a refusal names the rule in
//! words, not as a regular expression.

use std::borrow::Cow;

use registry_core::{
    Accreditation, CbId, CbReference, CertificateNumber, CertificateStatus, ChangeStanding,
    CompanyStatus, EventKind, HandbookVersion, KvkNumber, Level, Name, Province, PublicKey,
    RequestId, SbiCode, SearchStatus, Standing,
};
use serde_json::{Value, json};
use utoipa::openapi::{RefOr, schema::Schema};

/// A schema from its JSON form (every schema here is a literal; a test reads
/// them all back).
fn from_json(value: Value) -> RefOr<Schema> {
    serde_json::from_value(value).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// A text value with a pattern: its schema, and what a refusal says.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    pub description: &'static str,
    pub pattern: &'static str,
    /// What a value that does not match must be, in words.
    pub message: &'static str,
    pub min_length: usize,
    pub max_length: usize,
    pub example: &'static str,
}

impl Text {
    fn schema(&self) -> RefOr<Schema> {
        from_json(json!({
            "type": "string",
            "description": self.description,
            "pattern": self.pattern,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "examples": [self.example],
        }))
    }
}

/// A value from a fixed list: the enum of the contract.
fn one_of_list(description: &str, values: &[&str]) -> RefOr<Schema> {
    from_json(json!({"type": "string", "description": description, "enum": values}))
}

/// Declares a zero-sized type whose schema is the named component `$name`.
macro_rules! component {
    ($(#[$doc:meta])* $ty:ident = $name:literal, $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;

        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

pub const KVK_NUMBER: Text = Text {
    description: "A KvK (Chamber of Commerce) number: exactly 8 digits, leading zeros kept; no 11-check.",
    pattern: KvkNumber::PATTERN,
    message: "must be exactly 8 digits",
    min_length: 8,
    max_length: 8,
    example: "12345678",
};

pub const CERTIFICATE_NUMBER: Text = Text {
    description: "A certificate number, assigned by the register: scheme, year of issuance, serial.",
    pattern: CertificateNumber::PATTERN,
    message: "must be a certificate number like PSO-2026-000042",
    min_length: 14,
    max_length: 34,
    example: "PSO-2026-000042",
};

pub const CB_ID: Text = Text {
    description: "A certification body's id: a lower-case slug of 2 to 64 characters (a-z, 0-9, -), starting and ending with a letter or digit.",
    pattern: CbId::PATTERN,
    message: "must be a lower-case slug of 2 to 64 characters (a-z, 0-9, -), starting and ending with a letter or digit",
    min_length: 2,
    max_length: 64,
    example: "kiwa",
};

pub const SBI_CODE: Text = Text {
    description: "An SBI sector code (SBI 2008 or 2025): 4 or 5 digits.",
    pattern: SbiCode::PATTERN,
    message: "must be an SBI code of 4 or 5 digits",
    min_length: 4,
    max_length: 5,
    example: "4120",
};

pub const SBI_PREFIX: Text = Text {
    description: "An SBI code or its first digits: 2 to 5 digits.",
    pattern: "^[0-9]{2,5}$",
    message: "must be an SBI code or its first digits: 2 to 5 digits",
    min_length: 2,
    max_length: 5,
    example: "41",
};

pub const CB_REFERENCE: Text = Text {
    description: "The certification body's own reference for a certificate: 1 to 100 printable ASCII characters without spaces, unique per certification body.",
    pattern: CbReference::PATTERN,
    message: "must be 1 to 100 printable ASCII characters without spaces",
    min_length: 1,
    max_length: 100,
    example: "KIWA-PSO-2026-0042",
};

pub const REQUEST_ID: Text = Text {
    description: "A signed request's unique id: 1 to 200 printable ASCII characters.",
    pattern: RequestId::PATTERN,
    message: "must be 1 to 200 printable ASCII characters",
    min_length: 1,
    max_length: 200,
    example: "kiwa-3f1c9a77e2b04d6b",
};

pub const HANDBOOK_VERSION: Text = Text {
    description: "The version of the PSO handbook audited against.",
    pattern: HandbookVersion::PATTERN,
    message: "must be a version of at most 16 characters (letters, digits, '.', '-'), e.g. 2.1",
    min_length: 1,
    max_length: 16,
    example: "2.1",
};

pub const KID: Text = Text {
    description: "A key's id (`kid`): 1 to 200 printable ASCII characters.",
    pattern: PublicKey::KID_PATTERN,
    message: "must be 1 to 200 printable ASCII characters",
    min_length: 1,
    max_length: PublicKey::MAX_KID_LEN,
    example: "kiwa-2026",
};

pub const NAME: Text = Text {
    description: "A name, trade name or city: up to 200 characters with at least one letter or digit, each word in one script (no Cyrillic letter in a Latin word), and no control, format or invisible characters (line breaks, bidi overrides and isolates, zero-width characters, byte order marks, fillers, tags). It is kept composed (Unicode NFC), without leading and trailing white space. The pattern states what a regular expression can; the rest is checked as the register reads the name.",
    pattern: Name::PATTERN,
    message: "must be up to 200 characters with a letter or digit, and no control, format or invisible characters",
    min_length: 1,
    max_length: Name::MAX_CHARS,
    example: "Bouwbedrijf De Vries B.V.",
};

pub const REASON: Text = Text {
    description: "Why, in words: up to 2,000 characters, not only white space.",
    pattern: ChangeStanding::REASON_PATTERN,
    message: "must not be only white space",
    min_length: 1,
    max_length: ChangeStanding::MAX_REASON_CHARS,
    example: "corrective action overdue",
};

pub const COMPACT_JWS: Text = Text {
    description: "A compact JWS (RFC 7515): base64url header, payload and signature, joined by dots.",
    pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
    message: "must be a compact JWS: header.payload.signature, each base64url",
    min_length: 5,
    max_length: crate::signed_request::MAX_JWS_BYTES,
    example: "eyJhbGciOiJFZERTQSIsImtpZCI6Imtpd2EtMjAyNiJ9.eyJpc3MiOiJraXdhIn0.c2lnbmF0dXJl",
};

/// An Ed25519 public key or a P-256 coordinate: 32 bytes, base64url without
/// padding (43 characters, the last one carrying 4 bits).
pub const KEY_BYTES: Text = Text {
    description: "32 bytes, base64url without padding.",
    pattern: "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$",
    message: "must be 32 bytes in base64url without padding (43 characters)",
    min_length: 43,
    max_length: 43,
    example: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
};

/// Every text schema's pattern, and what a value that does not match it must be.
pub const PATTERN_MESSAGES: [(&str, &str); 14] = [
    (KVK_NUMBER.pattern, KVK_NUMBER.message),
    (CERTIFICATE_NUMBER.pattern, CERTIFICATE_NUMBER.message),
    (CB_ID.pattern, CB_ID.message),
    (SBI_CODE.pattern, SBI_CODE.message),
    (SBI_PREFIX.pattern, SBI_PREFIX.message),
    (CB_REFERENCE.pattern, CB_REFERENCE.message),
    (REQUEST_ID.pattern, REQUEST_ID.message),
    (HANDBOOK_VERSION.pattern, HANDBOOK_VERSION.message),
    (KID.pattern, KID.message),
    (NAME.pattern, NAME.message),
    (REASON.pattern, REASON.message),
    (COMPACT_JWS.pattern, COMPACT_JWS.message),
    (KEY_BYTES.pattern, KEY_BYTES.message),
    (JWKS_URI_PATTERN, JWKS_URI_MESSAGE),
];

/// Where a certification body publishes its keys: https, or plain http to a
/// loopback address (`crate::keys::check_jwks_uri` decides; this is its shape).
pub const JWKS_URI_PATTERN: &str = "^(https://[^/?#\\s]+|http://(localhost|127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|\\[::1\\])(:[0-9]{1,5})?)(/[^\\s]*)?$";
const JWKS_URI_MESSAGE: &str = "must be an https URL (plain http only to a loopback address)";

component!(
    /// A KvK number.
    KvkNumberSchema = "KvkNumber", KVK_NUMBER.schema()
);
component!(
    /// A certificate number.
    CertificateNumberSchema = "CertificateNumber", CERTIFICATE_NUMBER.schema()
);
component!(
    /// A certification body's id.
    CbIdSchema = "CbId", CB_ID.schema()
);
component!(
    /// An SBI code.
    SbiCodeSchema = "SbiCode", SBI_CODE.schema()
);
component!(
    /// An SBI code or its first digits (a search filter).
    SbiPrefixSchema = "SbiPrefix", SBI_PREFIX.schema()
);
component!(
    /// A CB's own reference.
    CbReferenceSchema = "CbReference", CB_REFERENCE.schema()
);
component!(
    /// A signed request's id (`jti`).
    RequestIdSchema = "RequestId", REQUEST_ID.schema()
);
component!(
    /// A handbook version.
    HandbookVersionSchema = "HandbookVersion", HANDBOOK_VERSION.schema()
);
component!(
    /// A key's id.
    KidSchema = "Kid", KID.schema()
);
component!(
    /// A name, trade name or city.
    NameSchema = "Name", NAME.schema()
);
component!(
    /// A reason for a suspension or revocation.
    ReasonSchema = "Reason", REASON.schema()
);
component!(
    /// A compact JWS.
    CompactJwsSchema = "CompactJws", COMPACT_JWS.schema()
);
component!(
    /// 32 key bytes, base64url.
    KeyBytesSchema = "KeyBytes", KEY_BYTES.schema()
);
component!(
    /// A signed answer: a compact JWS.
    SignedAnswerSchema = "SignedAnswer",
    from_json(json!({
        "type": "string",
        "description": "A compact JWS (RFC 7515): header, claims and signature, base64url, joined by dots. Verify it with the register's key set (`/.well-known/jwks.json`, by `kid`) and any JOSE library.",
        "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
        "maxLength": 2097152
    }))
);
component!(
    /// The form of a bulk export.
    ExportFormatSchema = "ExportFormat",
    one_of_list(
        "`jsonl`: JSON Lines, one object a line; `csv`: for a spreadsheet.",
        &["jsonl", "csv"],
    )
);
component!(
    /// A list of KvK numbers as CSV.
    CsvListSchema = "CsvList",
    from_json(json!({
        "type": "string",
        "description": "CSV, UTF-8 (a byte order mark is passed over): a KvK number a row in the first column, an optional header row, `;` or `,` between columns (other columns are passed over); up to 10,000 rows.",
        "maxLength": 1048576
    }))
);
component!(
    /// Status answers as CSV.
    CsvTableSchema = "CsvTable",
    from_json(json!({
        "type": "string",
        "description": "CSV for a spreadsheet: UTF-8 with a byte order mark, `;` between cells, CRLF line ends, a header row of Dutch column names (kvk_nummer, naam, gecertificeerd, status, trede, pso30plus, geldig_tot_en_met, certificaatnummer, certificerende_instelling), then a row per number asked, in order. No cell starts as a formula would.",
        "maxLength": 4194304
    }))
);
component!(
    /// A signed note (C2SP `signed-note`).
    SignedNoteSchema = "SignedNote",
    from_json(json!({
        "type": "string",
        "description": "A C2SP signed note: its text (for a checkpoint: origin, tree size and base64 root hash, a line each), an empty line, and a signature line per key (`— <name> <base64 key id and signature>`).",
        "maxLength": 4096
    }))
);
component!(
    /// A signed-note verifier key.
    VerifierKeySchema = "VerifierKey",
    from_json(json!({
        "type": "string",
        "description": "`<name>+<key id, 8 hex digits>+<base64 of 0x01 and the Ed25519 public key>`, and a newline.",
        "pattern": "^[!-*,-~]{1,200}\\+[0-9a-f]{8}\\+[A-Za-z0-9+/]{44}\\n$",
        "maxLength": 256
    }))
);
component!(
    /// A SHA-256 hash, base64.
    HashSchema = "Hash",
    from_json(json!({
        "type": "string",
        "description": "A SHA-256 hash, base64 (standard alphabet, padded).",
        "pattern": "^[A-Za-z0-9+/]{43}=$",
        "minLength": 44,
        "maxLength": 44
    }))
);
component!(
    /// A key set's address.
    JwksUriSchema = "JwksUri",
    from_json(json!({
        "type": "string",
        "description": "Where the certification body publishes its key set: https (plain http only to a loopback address); fetched at once, then every 5 minutes and on an unknown kid.",
        "pattern": JWKS_URI_PATTERN,
        "minLength": 9,
        "maxLength": 2000,
        "examples": ["https://keys.kiwa.example/pso/jwks.json"],
    }))
);
component!(
    /// A free text that may be left empty (a reinstatement's note).
    NoteSchema = "Note",
    from_json(json!({
        "type": "string",
        "description": "A note, in words: up to 2,000 characters.",
        "maxLength": ChangeStanding::MAX_REASON_CHARS,
    }))
);
component!(
    /// The audience of a signed request.
    AudienceSchema = "Audience",
    from_json(json!({
        "description": "The register's audience (`REGISTRY_AUDIENCE`): one string, or a list holding it.",
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": 500},
            {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 500}, "minItems": 1, "maxItems": 10},
        ],
    }))
);

component!(
    /// A PSO level.
    LevelSchema = "Level",
    one_of_list(
        "A rung of the ladder, low to high: aspirant < basistrede < trede_1 < trede_2 < trede_3.",
        &Level::ALL.map(Level::as_str),
    )
);
component!(
    /// A company's status on the instant asked about.
    CompanyStatusSchema = "CompanyStatus",
    one_of_list(
        "A company's standing on the instant asked about.",
        &CompanyStatus::ALL.map(CompanyStatus::as_str),
    )
);
component!(
    /// A certificate's own status.
    CertificateStatusSchema = "CertificateStatus",
    one_of_list(
        "A certificate's own standing.",
        &CertificateStatus::ALL.map(CertificateStatus::as_str),
    )
);
component!(
    /// The standing a search asks for.
    SearchStatusSchema = "SearchStatus",
    one_of_list(
        "The standing a search asks for on the day (`superseded` finds certificates only; `any` every standing).",
        &SearchStatus::ALL.map(SearchStatus::as_str),
    )
);
component!(
    /// A certification body's accreditation.
    AccreditationSchema = "Accreditation",
    one_of_list(
        "A certification body's standing with the scheme owner; only an active one may write.",
        &Accreditation::ALL.map(Accreditation::as_str),
    )
);
component!(
    /// A standing change.
    StandingSchema = "Standing",
    one_of_list(
        "A change of a certificate's standing.",
        &Standing::ALL.map(Standing::as_str),
    )
);
component!(
    /// What an event records.
    EventKindSchema = "EventKind",
    one_of_list("What happened.", &EventKind::ALL.map(EventKind::as_str))
);
component!(
    /// What a signed request asks for.
    ActSchema = "Act",
    one_of_list(
        "What a signed request asks for; each act has its own path.",
        &crate::signed_request::Act::ALL.map(crate::signed_request::Act::as_str),
    )
);
component!(
    /// A Dutch province.
    ProvinceSchema = "Province",
    from_json(json!({
        "type": "string",
        "description": "One of the 12 provinces, by its official name; `Friesland` is read as `Fryslân`, and answers always give the official name.",
        "enum": Province::ALL.map(Province::name).into_iter().chain(["Friesland"]).collect::<Vec<_>>(),
    }))
);
component!(
    /// An instant, as the register writes it.
    InstantSchema = "Instant",
    from_json(json!({
        "type": "string",
        "format": "date-time",
        "description": "An instant: RFC 3339, in UTC.",
        "maxLength": 40,
        "examples": ["2026-05-01T00:00:00Z"],
    }))
);
component!(
    /// A calendar date.
    DateSchema = "Date",
    from_json(json!({
        "type": "string",
        "format": "date",
        "description": "A calendar date, `YYYY-MM-DD`; as a bound, the start of that day in Europe/Amsterdam.",
        "maxLength": 10,
        "examples": ["2026-01-15"],
    }))
);
component!(
    /// Prometheus metrics.
    MetricsTextSchema = "MetricsText",
    from_json(json!({
        "type": "string",
        "description": "Prometheus text format 0.0.4.",
        "maxLength": 1_048_576,
    }))
);
component!(
    /// A date or an instant (`on`, `until`).
    DateOrInstantSchema = "DateOrInstant",
    from_json(json!({
        "description": "A date (`YYYY-MM-DD`, a day in Europe/Amsterdam) or an RFC 3339 instant.",
        "anyOf": [
            {"type": "string", "format": "date", "maxLength": 10},
            {"type": "string", "format": "date-time", "maxLength": 40},
        ],
        "examples": ["2026-06-01"],
    }))
);

/// Every component above, for the document.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    use utoipa::{PartialSchema, ToSchema};
    fn entry<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), <T as PartialSchema>::schema())
    }
    vec![
        entry::<KvkNumberSchema>(),
        entry::<CertificateNumberSchema>(),
        entry::<CbIdSchema>(),
        entry::<SbiCodeSchema>(),
        entry::<SbiPrefixSchema>(),
        entry::<CbReferenceSchema>(),
        entry::<RequestIdSchema>(),
        entry::<HandbookVersionSchema>(),
        entry::<KidSchema>(),
        entry::<NameSchema>(),
        entry::<ReasonSchema>(),
        entry::<CompactJwsSchema>(),
        entry::<KeyBytesSchema>(),
        entry::<SignedAnswerSchema>(),
        entry::<SignedNoteSchema>(),
        entry::<CsvListSchema>(),
        entry::<ExportFormatSchema>(),
        entry::<CsvTableSchema>(),
        entry::<VerifierKeySchema>(),
        entry::<HashSchema>(),
        entry::<JwksUriSchema>(),
        entry::<NoteSchema>(),
        entry::<AudienceSchema>(),
        entry::<LevelSchema>(),
        entry::<CompanyStatusSchema>(),
        entry::<CertificateStatusSchema>(),
        entry::<SearchStatusSchema>(),
        entry::<AccreditationSchema>(),
        entry::<StandingSchema>(),
        entry::<EventKindSchema>(),
        entry::<ActSchema>(),
        entry::<ProvinceSchema>(),
        entry::<InstantSchema>(),
        entry::<DateSchema>(),
        entry::<MetricsTextSchema>(),
        entry::<DateOrInstantSchema>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{rules_for, schema_rules};
    use proptest::prelude::*;

    /// Whether the contract (its compiled rules for the component `name`) admits `s`.
    fn admits(name: &str, s: &str) -> bool {
        schema_rules(name)
            .map(|rules| rules.check(&Value::String(s.to_owned())).is_empty())
            .unwrap_or(false)
    }

    /// Text that hits the edges of every pattern: digits, letters of both cases,
    /// the slug's hyphen, punctuation, the certificate number's shape, spaces of
    /// every kind, control characters, letters beyond ASCII.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            "[0-9]{1,10}",
            "[a-z]{1,6}",
            "[A-Z]{1,4}",
            Just("-".to_owned()),
            Just(".".to_owned()),
            Just("PSO-2026-".to_owned()),
            "[!-~]{1,4}",
            prop::sample::select(vec![
                " ",
                "\t",
                "\n",
                "\u{0}",
                "\u{7f}",
                "\u{85}",
                "\u{a0}",
                "\u{1680}",
                "\u{2002}",
                "\u{200b}",
                "\u{2028}",
                "\u{202f}",
                "\u{3000}",
                "\u{feff}",
                "é",
                "ß",
                "日",
                "\u{430}",
                "\u{301}",
                "\u{202e}",
                "\u{3164}",
                "\u{e0041}",
                "\u{fffd}",
                "-",
                "すし",
            ])
            .prop_map(str::to_owned),
        ];
        let composed = prop::collection::vec(pieces, 0..8).prop_map(|p| p.concat());
        // A valid value with one character replaced, inserted or removed: the
        // edges of each pattern.
        let valid = prop::sample::select(vec![
            "12345678",
            "PSO-2026-000042",
            "kiwa",
            "k2",
            "4120",
            "41200",
            "KIWA-PSO-2026-0042",
            "2.1",
            "kiwa-3f1c9a77e2b04d6b",
            "Bouwbedrijf De Vries B.V.",
        ]);
        let odd = prop::sample::select(vec![
            'a', 'Z', '0', '9', '-', '_', '.', ' ', '~', '\u{7f}', '\u{a0}', 'é', '\n', '\u{3000}',
        ]);
        let edited =
            (valid, any::<prop::sample::Index>(), odd, 0..3u8).prop_map(|(v, at, c, how)| {
                let mut chars: Vec<char> = v.chars().collect();
                let i = at.index(chars.len() + 1);
                match how {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.push(c),
                }
                chars.into_iter().collect::<String>()
            });
        prop_oneof![composed, edited]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// What the document states for an identifier is exactly what its parser accepts.
        #[test]
        fn identifier_patterns_are_the_parsers(s in text()) {
            use registry_core::{CbId, CbReference, CertificateNumber, HandbookVersion, KvkNumber, RequestId, SbiCode};
            prop_assert_eq!(admits("KvkNumber", &s), KvkNumber::parse(&s).is_ok(), "KvkNumber {:?}", s);
            prop_assert_eq!(admits("CertificateNumber", &s), CertificateNumber::parse(&s).is_ok(), "CertificateNumber {:?}", s);
            prop_assert_eq!(admits("CbId", &s), CbId::parse(&s).is_ok(), "CbId {:?}", s);
            prop_assert_eq!(admits("SbiCode", &s), SbiCode::parse(&s).is_ok(), "SbiCode {:?}", s);
            prop_assert_eq!(admits("CbReference", &s), CbReference::parse(&s).is_ok(), "CbReference {:?}", s);
            prop_assert_eq!(admits("RequestId", &s), RequestId::parse(&s).is_ok(), "RequestId {:?}", s);
            prop_assert_eq!(admits("HandbookVersion", &s), HandbookVersion::parse(&s).is_ok(), "HandbookVersion {:?}", s);
            prop_assert_eq!(admits("Kid", &s), registry_core::PublicKey::new(&s, String::new()).is_ok(), "Kid {:?}", s);
        }

        /// The name pattern is what its comment says (none of the invisible code
        /// points of the BMP, not only white space), the document never refuses
        /// a name the core takes, and what the core refuses beyond the pattern
        /// is what `Name::parse` names: no letter or digit, an invisible code
        /// point beyond the BMP, mixed scripts in a word.
        #[test]
        fn the_name_pattern_is_what_parse_asks(s in text()) {
            use registry_core::text::{is_invisible, mixed_script_word};
            use unicode_normalization::UnicodeNormalization;
            let admitted = admits("Name", &s);
            let parsed = registry_core::Name::parse(&s).is_ok();
            let fits = !s.is_empty() && s.chars().count() <= registry_core::Name::MAX_CHARS;
            if fits {
                let meant = !s.chars().any(|c| u32::from(c) < 0x10000 && is_invisible(c))
                    && !s.trim().is_empty();
                prop_assert_eq!(admitted, meant, "{:?}", s);
                prop_assert!(!parsed || admitted, "the core takes {:?}, the document refuses it", s);
            }
            if admitted {
                let composed: String = s.nfc().collect();
                let name = composed.trim();
                let expected = name.chars().count() <= registry_core::Name::MAX_CHARS
                    && !composed.chars().any(is_invisible)
                    && name.chars().any(char::is_alphanumeric)
                    && mixed_script_word(name).is_none();
                prop_assert_eq!(parsed, expected, "{:?}", s);
            }
            let reason = !s.is_empty() && !s.trim().is_empty();
            prop_assert_eq!(admits("Reason", &s), reason, "Reason {:?}", s);
        }
    }

    /// The pattern's class is the invisible table, code point by code point,
    /// over the whole Basic Multilingual Plane.
    #[test]
    fn the_name_pattern_refuses_exactly_the_invisible_code_points_of_the_bmp() {
        for c in (0..0x10000u32).filter_map(char::from_u32) {
            let s = format!("a{c}a");
            assert_eq!(
                admits("Name", &s),
                !registry_core::text::is_invisible(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    /// Every example the document gives passes the contract it illustrates.
    #[test]
    fn every_example_passes_its_own_schema() {
        fn visit(value: &Value, at: &str, checked: &mut usize) {
            let Value::Object(object) = value else {
                if let Value::Array(items) = value {
                    for (i, item) in items.iter().enumerate() {
                        visit(item, &format!("{at}/{i}"), checked);
                    }
                }
                return;
            };
            let mut examples: Vec<&Value> = object
                .get("examples")
                .and_then(Value::as_array)
                .map(|e| e.iter().collect())
                .unwrap_or_default();
            examples.extend(object.get("example"));
            let is_schema = ["type", "$ref", "anyOf", "oneOf", "allOf"]
                .iter()
                .any(|k| object.contains_key(*k));
            if is_schema && !examples.is_empty() {
                let rules = rules_for(value).unwrap_or_else(|e| panic!("{at}: {e}"));
                for example in examples {
                    assert!(
                        rules.check(example).is_empty(),
                        "{at}: {example} is refused: {:?}",
                        rules.check(example).faults
                    );
                    *checked += 1;
                }
            }
            for (key, inner) in object {
                if key != "examples" && key != "example" {
                    visit(inner, &format!("{at}/{key}"), checked);
                }
            }
        }
        let mut checked = 0;
        visit(crate::openapi::document_value(), "", &mut checked);
        assert!(checked > 20, "{checked} examples checked");
    }

    #[test]
    fn every_component_is_a_real_schema() {
        for (name, schema) in components() {
            let value = serde_json::to_value(&schema).expect("json");
            let object = value.as_object().expect("object");
            assert!(
                object.contains_key("type") || object.contains_key("anyOf"),
                "{name} parsed back into a schema: {value}"
            );
            assert!(object.contains_key("description"), "{name}: {value}");
        }
    }
}
