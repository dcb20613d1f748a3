//! The contract, enforced: a query string or a JSON body is checked against the
//! schema the OpenAPI document declares for the type that reads it, before serde
//! reads it. So the document states exactly what the server refuses: a request
//! the document calls valid gets past this check, one it calls invalid does not,
//! and every fault is reported at once, by its path in the contract's names
//! (`certificate.holder.kvkNumber`, `kvkNumbers[3]`, `levelMin`).
//!
//! The check reads the JSON Schema subset that the document uses (utoipa's
//! output and [`crate::schema`]): `type`, `enum`, `$ref`, `oneOf`, `anyOf`,
//! `allOf`, string lengths (in characters), `pattern`, the formats `date` and
//! `date-time`, number bounds, array `items` and item counts, object
//! `properties`, `required` and `additionalProperties`. A keyword it does not
//! know is an error when the rules are built (a test builds them all), never a
//! silent pass.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use chrono::{DateTime, NaiveDate};
use regex::Regex;
use registry_core::FieldError;
use serde_json::{Map, Value};

/// The most faults one refusal lists: an answer stays small whatever was sent.
pub const MAX_FAULTS: usize = 50;

/// One schema, compiled.
#[derive(Debug, Default)]
struct Rule {
    /// The JSON types admitted; `None` admits any.
    types: Option<Vec<Kind>>,
    choices: Option<Vec<Value>>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<Pattern>,
    format: Option<Format>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    items: Option<Box<Rule>>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    properties: Vec<(String, Rule)>,
    required: Vec<String>,
    additional: Additional,
    one_of: Vec<Rule>,
    any_of: Vec<Rule>,
    all_of: Vec<Rule>,
}

#[derive(Debug)]
struct Pattern {
    regex: Regex,
    message: String,
}

#[derive(Debug, Default)]
enum Additional {
    #[default]
    Allowed,
    Refused,
    Checked(Box<Rule>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "string" => Kind::String,
            "array" => Kind::Array,
            "object" => Kind::Object,
            other => return Err(format!("unknown type {other:?}")),
        })
    }

    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    fn admits(self, value: &Value) -> bool {
        let actual = Kind::of(value);
        actual == self || (self == Kind::Number && actual == Kind::Integer)
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Null => "must be null",
            Kind::Boolean => "must be true or false",
            Kind::Integer => "must be a whole number",
            Kind::Number => "must be a number",
            Kind::String => "must be a string",
            Kind::Array => "must be an array",
            Kind::Object => "must be an object",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Date,
    DateTime,
}

impl Format {
    fn holds(self, s: &str) -> bool {
        match self {
            Format::Date => is_date(s),
            Format::DateTime => is_date_time(s),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Format::Date => "a date (YYYY-MM-DD)",
            Format::DateTime => "an RFC 3339 instant, e.g. 2026-05-01T00:00:00Z",
        }
    }
}

/// RFC 3339 `full-date`: `YYYY-MM-DD`, a real day.
fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// RFC 3339 `date-time`: a full date, `T`, a time with optional fraction, and
/// `Z` or an offset; chrono then checks the values.
fn is_date_time(s: &str) -> bool {
    static SHAPE: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$").ok()
    });
    SHAPE.as_ref().is_some_and(|r| r.is_match(s))
        && is_date(&s[..10])
        && DateTime::parse_from_rfc3339(s).is_ok()
}

/// Builds rules from the document's schemas.
struct Compiler<'d> {
    schemas: &'d Map<String, Value>,
    messages: &'d HashMap<&'static str, &'static str>,
}

impl Compiler<'_> {
    fn compile(&self, schema: &Value, depth: usize) -> Result<Rule, String> {
        if depth > 32 {
            return Err("schemas nest too deep (a cycle?)".into());
        }
        let Some(object) = schema.as_object() else {
            return match schema {
                Value::Bool(true) => Ok(Rule::default()),
                _ => Err(format!("not a schema: {schema}")),
            };
        };
        let mut rule = Rule::default();
        for (keyword, value) in object {
            match keyword.as_str() {
                "$ref" => {
                    let name = value
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .ok_or_else(|| format!("unsupported $ref {value}"))?;
                    let target = self
                        .schemas
                        .get(name)
                        .ok_or_else(|| format!("no schema {name}"))?;
                    rule.all_of.push(self.compile(target, depth + 1)?);
                }
                "type" => {
                    let names: Vec<&str> = match value {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                        _ => return Err(format!("bad type {value}")),
                    };
                    rule.types = Some(
                        names
                            .into_iter()
                            .map(Kind::parse)
                            .collect::<Result<_, _>>()?,
                    );
                }
                "enum" => rule.choices = Some(list(value)?.to_vec()),
                "const" => rule.choices = Some(vec![value.clone()]),
                "minLength" => rule.min_length = Some(count(value)?),
                "maxLength" => rule.max_length = Some(count(value)?),
                "minItems" => rule.min_items = Some(count(value)?),
                "maxItems" => rule.max_items = Some(count(value)?),
                "minimum" => rule.minimum = Some(number(value)?),
                "maximum" => rule.maximum = Some(number(value)?),
                "exclusiveMinimum" => rule.exclusive_minimum = Some(number(value)?),
                "exclusiveMaximum" => rule.exclusive_maximum = Some(number(value)?),
                "pattern" => {
                    let source = value.as_str().ok_or("pattern must be a string")?;
                    let regex = Regex::new(source).map_err(|e| format!("pattern {source}: {e}"))?;
                    let message = self
                        .messages
                        .get(source)
                        .map_or_else(|| format!("must match {source}"), |m| (*m).to_owned());
                    rule.pattern = Some(Pattern { regex, message });
                }
                "format" => {
                    rule.format = match value.as_str() {
                        Some("date") => Some(Format::Date),
                        Some("date-time") => Some(Format::DateTime),
                        // Annotations of a number's width or of what a string
                        // means; the bounds and patterns are what is checked.
                        Some("int32" | "int64" | "double" | "float" | "uri" | "binary") => None,
                        _ => return Err(format!("unsupported format {value}")),
                    }
                }
                "items" => rule.items = Some(Box::new(self.compile(value, depth + 1)?)),
                "properties" => {
                    let properties = value.as_object().ok_or("properties must be an object")?;
                    for (name, schema) in properties {
                        rule.properties
                            .push((name.clone(), self.compile(schema, depth + 1)?));
                    }
                }
                "required" => {
                    rule.required = list(value)?
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                }
                "additionalProperties" => {
                    rule.additional = match value {
                        Value::Bool(false) => Additional::Refused,
                        Value::Bool(true) => Additional::Allowed,
                        schema => Additional::Checked(Box::new(self.compile(schema, depth + 1)?)),
                    }
                }
                "oneOf" | "anyOf" | "allOf" => {
                    let rules = list(value)?
                        .iter()
                        .map(|s| self.compile(s, depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    match keyword.as_str() {
                        "oneOf" => rule.one_of = rules,
                        "anyOf" => rule.any_of = rules,
                        _ => rule.all_of.extend(rules),
                    }
                }
                // Words for people and generators, not rules.
                "description" | "title" | "example" | "examples" | "default" | "deprecated"
                | "readOnly" | "writeOnly" | "discriminator" | "contentMediaType" => {}
                other => return Err(format!("unsupported keyword {other}")),
            }
        }
        Ok(rule)
    }
}

fn list(value: &Value) -> Result<&[Value], String> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("expected a list, got {value}"))
}

fn count(value: &Value) -> Result<usize, String> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("expected a count, got {value}"))
}

fn number(value: &Value) -> Result<f64, String> {
    value
        .as_f64()
        .ok_or_else(|| format!("expected a number, got {value}"))
}

/// Faults found so far, at most [`MAX_FAULTS`].
#[derive(Debug, Default)]
struct Faults(Vec<FieldError>);

impl Faults {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        if self.0.len() < MAX_FAULTS {
            self.0.push(FieldError::new(display_path(path), message));
        }
    }

    fn full(&self) -> bool {
        self.0.len() >= MAX_FAULTS
    }
}

/// `""` is the body itself.
fn display_path(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

fn member(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// What an unknown name was probably meant to be: its camelCase spelling when
/// that is known (the names of before the contract's revision), else a known
/// name within two edits.
pub fn suggestion<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let camel = camel_case(unknown);
    known
        .clone()
        .into_iter()
        .find(|k| *k == camel && *k != unknown)
        .or_else(|| {
            known
                .into_iter()
                .map(|k| {
                    (
                        strsim::damerau_levenshtein(&unknown.to_lowercase(), &k.to_lowercase()),
                        k,
                    )
                })
                .filter(|(distance, k)| *distance <= 2 && *distance < k.chars().count())
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, k)| k)
        })
}

/// serde's `rename_all = "camelCase"` of a snake_case name: `level_min` →
/// `levelMin`; other names are left as they are.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field path of the core's (`holder.trade_names`, `subsidiaries[0].kvk_number`)
/// in the contract's names (`holder.tradeNames`, `subsidiaries[0].kvkNumber`).
pub fn camel_path(path: &str) -> String {
    path.split('.')
        .map(|segment| match segment.find('[') {
            Some(i) => format!("{}{}", camel_case(&segment[..i]), &segment[i..]),
            None => camel_case(segment),
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Rule {
    /// Whether `value` passes, without recording why.
    fn passes(&self, value: &Value) -> bool {
        let mut faults = Faults::default();
        self.check(value, "", &mut faults);
        faults.0.is_empty()
    }

    fn check(&self, value: &Value, path: &str, faults: &mut Faults) {
        if faults.full() {
            return;
        }
        for rule in &self.all_of {
            rule.check(value, path, faults);
        }
        if !self.one_of.is_empty() {
            let passing = self.one_of.iter().filter(|r| r.passes(value)).count();
            if passing != 1 {
                alternatives(&self.one_of, value, path, faults);
            }
        }
        if !self.any_of.is_empty() && !self.any_of.iter().any(|r| r.passes(value)) {
            alternatives(&self.any_of, value, path, faults);
        }
        if let Some(types) = &self.types
            && !types.iter().any(|k| k.admits(value))
        {
            let expected = types
                .iter()
                .find(|k| **k != Kind::Null)
                .or(types.first())
                .map_or("has the wrong type", |k| k.expected());
            faults.push(path, expected);
            return;
        }
        if let Some(choices) = &self.choices
            && !choices.contains(value)
        {
            let names: Vec<String> = choices
                .iter()
                .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
                .collect();
            faults.push(path, format!("must be one of {}", names.join(", ")));
            return;
        }
        match value {
            Value::String(s) => self.check_string(s, path, faults),
            Value::Number(n) => self.check_number(n.as_f64().unwrap_or(f64::NAN), path, faults),
            Value::Array(items) => self.check_array(items, path, faults),
            Value::Object(object) => self.check_object(object, path, faults),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn check_string(&self, s: &str, path: &str, faults: &mut Faults) {
        let length = s.chars().count();
        let too_short = self.min_length.is_some_and(|m| length < m);
        let too_long = self.max_length.is_some_and(|m| length > m);
        if too_short || too_long {
            let message = match (self.min_length, self.max_length) {
                (Some(min), Some(max)) if min == max => format!("must be {max} characters"),
                (Some(min), Some(max)) => format!("must be {min} to {max} characters"),
                (Some(min), None) => format!("must be at least {min} characters"),
                (None, Some(max)) => format!("must be at most {max} characters"),
                (None, None) => "has the wrong length".to_owned(),
            };
            faults.push(path, message);
            return;
        }
        if let Some(pattern) = &self.pattern
            && !pattern.regex.is_match(s)
        {
            faults.push(path, pattern.message.clone());
            return;
        }
        if let Some(format) = self.format
            && !format.holds(s)
        {
            faults.push(path, format!("must be {}", format.describe()));
        }
    }

    fn check_number(&self, n: f64, path: &str, faults: &mut Faults) {
        let low =
            self.minimum.is_some_and(|m| n < m) || self.exclusive_minimum.is_some_and(|m| n <= m);
        let high =
            self.maximum.is_some_and(|m| n > m) || self.exclusive_maximum.is_some_and(|m| n >= m);
        if low || high {
            let from = self
                .minimum
                .map(|m| format!("from {m}"))
                .or(self.exclusive_minimum.map(|m| format!("above {m}")));
            let to = self
                .maximum
                .map(|m| format!("to {m}"))
                .or(self.exclusive_maximum.map(|m| format!("below {m}")));
            let range: Vec<String> = [from, to].into_iter().flatten().collect();
            faults.push(path, format!("must be {}", range.join(" ")));
        }
    }

    fn check_array(&self, items: &[Value], path: &str, faults: &mut Faults) {
        if let Some(max) = self.max_items
            && items.len() > max
        {
            // Not item by item: a refusal stays as small as the limit.
            faults.push(path, format!("must list at most {max} items"));
            return;
        }
        if let Some(min) = self.min_items
            && items.len() < min
        {
            faults.push(path, format!("must list at least {min} items"));
        }
        if let Some(rule) = &self.items {
            for (i, item) in items.iter().enumerate() {
                rule.check(item, &format!("{path}[{i}]"), faults);
            }
        }
    }

    /// Unknown members first, then the members of the schema in its order (a
    /// missing required one where it would be).
    fn check_object(&self, object: &Map<String, Value>, path: &str, faults: &mut Faults) {
        for (name, value) in object {
            if self.properties.iter().any(|(p, _)| p == name) {
                continue;
            }
            let at = member(path, name);
            match &self.additional {
                Additional::Allowed => {}
                Additional::Checked(rule) => rule.check(value, &at, faults),
                Additional::Refused => faults.push(&at, unknown_field(name, self)),
            }
        }
        for (name, rule) in &self.properties {
            match object.get(name) {
                Some(value) => rule.check(value, &member(path, name), faults),
                None if self.required.contains(name) => {
                    faults.push(&member(path, name), "is required");
                }
                None => {}
            }
        }
    }

    /// How far an object is from this schema's shape: its unknown members and
    /// the required ones it lacks (0 for any other value).
    fn shape_faults(&self, value: &Value) -> usize {
        let Value::Object(object) = value else {
            return 0;
        };
        let unknown = match self.additional {
            Additional::Refused => object
                .keys()
                .filter(|k| !self.properties.iter().any(|(p, _)| p == *k))
                .count(),
            _ => 0,
        };
        let missing = self
            .required
            .iter()
            .filter(|r| !object.contains_key(*r))
            .count();
        unknown
            + missing
            + self
                .all_of
                .iter()
                .map(|r| r.shape_faults(value))
                .sum::<usize>()
    }

    /// The members of this schema (through `$ref`), for naming its form.
    fn member_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.properties.iter().map(|(p, _)| p.as_str()).collect();
        for inner in &self.all_of {
            names.extend(inner.member_names());
        }
        names
    }
}

fn unknown_field(name: &str, rule: &Rule) -> String {
    let known = rule.properties.iter().map(|(p, _)| p.as_str());
    match suggestion(name, known) {
        Some(meant) => format!("is not a field of this request; did you mean {meant}?"),
        None => "is not a field of this request".to_owned(),
    }
}

/// No alternative (or more than one) passed. For alternatives that are formats
/// of one string, say what the value must be; else report the closest
/// alternative's faults: of those whose type fits the value, the one whose
/// shape (members) fits best, then the one with the fewest faults — so that an
/// optional value is told what it must be, not that it must be null. When
/// objects fit two forms equally badly, name the forms.
fn alternatives(rules: &[Rule], value: &Value, path: &str, faults: &mut Faults) {
    let formats: Vec<&str> = rules
        .iter()
        .filter_map(|r| r.format.map(Format::describe))
        .collect();
    if value.is_string() && formats.len() == rules.len() {
        faults.push(path, format!("must be {}", formats.join(" or ")));
        return;
    }
    let mut ranked: Vec<((bool, usize, usize), Faults, &Rule)> = rules
        .iter()
        .map(|r| {
            let mut own = Faults::default();
            r.check(value, path, &mut own);
            let kinds = rule_kinds(r);
            let fits = kinds.is_empty() || kinds.iter().any(|k| k.admits(value));
            ((!fits, r.shape_faults(value), own.0.len()), own, r)
        })
        .filter(|(_, own, _)| !own.0.is_empty())
        .collect();
    ranked.sort_by_key(|(rank, _, _)| *rank);
    if let [first, second, ..] = ranked.as_slice()
        && first.0.1 > 0
        && (first.0.0, first.0.1) == (second.0.0, second.0.1)
    {
        let forms: Vec<String> = rules
            .iter()
            .map(|r| format!("{{{}}}", r.member_names().join(", ")))
            .collect();
        faults.push(
            path,
            format!(
                "must have the members of one of its forms: {}",
                forms.join(" or ")
            ),
        );
        return;
    }
    let closest = ranked.into_iter().next().map(|(rank, own, _)| (rank, own));
    match closest {
        Some((_, own)) => {
            for fault in own.0 {
                if !faults.full() {
                    faults.0.push(fault);
                }
            }
        }
        None => faults.push(path, "matches more than one of its alternatives"),
    }
}

/// The rules for one JSON body.
#[derive(Debug)]
pub struct BodyRules(Rule);

impl BodyRules {
    /// Every fault of `value`, by path (empty when it passes).
    pub fn check(&self, value: &Value) -> Vec<FieldError> {
        let mut faults = Faults::default();
        self.0.check(value, "", &mut faults);
        faults.0
    }
}

/// The rules for one query string: each parameter's schema.
#[derive(Debug)]
pub struct QueryRules {
    parameters: Vec<(String, bool, Rule)>,
}

impl QueryRules {
    /// Every fault of `pairs` (unknown or repeated parameters, missing required
    /// ones, values their schema refuses), by parameter name.
    pub fn check(&self, pairs: &[(String, String)]) -> Vec<FieldError> {
        let mut faults = Faults::default();
        for (i, (name, raw)) in pairs.iter().enumerate() {
            let Some((_, _, rule)) = self.parameters.iter().find(|(p, _, _)| p == name) else {
                let known = self.parameters.iter().map(|(p, _, _)| p.as_str());
                faults.push(
                    name,
                    match suggestion(name, known) {
                        Some(meant) => {
                            format!("is not a parameter of this endpoint; did you mean {meant}?")
                        }
                        None => format!(
                            "is not a parameter of this endpoint (it takes: {})",
                            self.names()
                        ),
                    },
                );
                continue;
            };
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                faults.push(name, "is given more than once");
                continue;
            }
            rule.check(&query_value(rule, raw), name, &mut faults);
        }
        for (name, required, _) in &self.parameters {
            if *required && !pairs.iter().any(|(p, _)| p == name) {
                faults.push(name, "is required");
            }
        }
        faults.0
    }

    fn names(&self) -> String {
        if self.parameters.is_empty() {
            return "none".to_owned();
        }
        self.parameters
            .iter()
            .map(|(p, _, _)| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A query value as the JSON its schema describes: a whole number, a number or
/// a boolean where the schema asks for one and the text is one, else the text.
fn query_value(rule: &Rule, raw: &str) -> Value {
    let kinds = rule_kinds(rule);
    let wants = |k: Kind| kinds.contains(&k);
    if !wants(Kind::String) {
        if wants(Kind::Integer) || wants(Kind::Number) {
            let integer = !raw.is_empty()
                && raw
                    .strip_prefix('-')
                    .unwrap_or(raw)
                    .bytes()
                    .all(|b| b.is_ascii_digit());
            if integer && let Ok(n) = raw.parse::<i64>() {
                return Value::from(n);
            }
            if wants(Kind::Number)
                && let Some(n) = raw
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(n);
            }
        }
        if wants(Kind::Boolean) {
            match raw {
                "true" => return Value::Bool(true),
                "false" => return Value::Bool(false),
                _ => {}
            }
        }
    }
    Value::String(raw.to_owned())
}

fn rule_kinds(rule: &Rule) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = rule.types.clone().unwrap_or_default();
    for inner in rule.all_of.iter().chain(&rule.one_of).chain(&rule.any_of) {
        kinds.extend(rule_kinds(inner));
    }
    kinds
}

/// The document's schemas, and the rules built from them (once per type).
struct Contract {
    document: Value,
    messages: HashMap<&'static str, &'static str>,
    bodies: RwLock<HashMap<TypeId, Arc<BodyRules>>>,
    queries: RwLock<HashMap<TypeId, Arc<QueryRules>>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract {
    document: crate::openapi::document_value().clone(),
    messages: crate::schema::PATTERN_MESSAGES.into_iter().collect(),
    bodies: RwLock::new(HashMap::new()),
    queries: RwLock::new(HashMap::new()),
});

impl Contract {
    fn compiler(&self) -> Result<Compiler<'_>, String> {
        let schemas = self
            .document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or("the document has no schemas")?;
        Ok(Compiler {
            schemas,
            messages: &self.messages,
        })
    }
}

fn cached<R>(
    cache: &RwLock<HashMap<TypeId, Arc<R>>>,
    id: TypeId,
    build: impl FnOnce() -> Result<R, String>,
) -> Result<Arc<R>, String> {
    if let Some(rules) = cache.read().ok().and_then(|m| m.get(&id).cloned()) {
        return Ok(rules);
    }
    let rules = Arc::new(build()?);
    if let Ok(mut map) = cache.write() {
        map.insert(id, rules.clone());
    }
    Ok(rules)
}

/// The rules for a body read as `T`.
pub fn body_rules<T: utoipa::PartialSchema + 'static>() -> Result<Arc<BodyRules>, String> {
    cached(&CONTRACT.bodies, TypeId::of::<T>(), || {
        let schema = serde_json::to_value(T::schema()).map_err(|e| e.to_string())?;
        Ok(BodyRules(CONTRACT.compiler()?.compile(&schema, 0)?))
    })
}

/// The rules for a query string read as `T`.
pub fn query_rules<T: utoipa::IntoParams + 'static>() -> Result<Arc<QueryRules>, String> {
    cached(&CONTRACT.queries, TypeId::of::<T>(), || {
        let compiler = CONTRACT.compiler()?;
        let mut parameters = Vec::new();
        for parameter in T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query)) {
            let value = serde_json::to_value(&parameter).map_err(|e| e.to_string())?;
            let name = value["name"].as_str().ok_or("a parameter without a name")?;
            let required = value["required"].as_bool().unwrap_or(false);
            let rule = compiler.compile(&value["schema"], 0)?;
            parameters.push((name.to_owned(), required, rule));
        }
        Ok(QueryRules { parameters })
    })
}

/// The rules for one schema of the document, by name (for tests and tools).
pub fn schema_rules(name: &str) -> Result<BodyRules, String> {
    let schema = json_ref(name);
    Ok(BodyRules(CONTRACT.compiler()?.compile(&schema, 0)?))
}

/// The rules for a schema given as JSON (its `$ref`s into the document).
pub fn rules_for(schema: &Value) -> Result<BodyRules, String> {
    Ok(BodyRules(CONTRACT.compiler()?.compile(schema, 0)?))
}

fn json_ref(name: &str) -> Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn faults(schema: Value, value: Value) -> Vec<(String, String)> {
        let messages = HashMap::new();
        let schemas = Map::new();
        let rule = Compiler {
            schemas: &schemas,
            messages: &messages,
        }
        .compile(&schema, 0)
        .expect("compiles");
        let mut found = Faults::default();
        rule.check(&value, "", &mut found);
        found.0.into_iter().map(|f| (f.field, f.message)).collect()
    }

    #[test]
    fn names_become_camel_case_as_serde_does() {
        assert_eq!(camel_case("level_min"), "levelMin");
        assert_eq!(camel_case("pso30plus"), "pso30plus");
        assert_eq!(camel_case("kvk_numbers"), "kvkNumbers");
        assert_eq!(
            camel_path("subsidiaries[0].kvk_number"),
            "subsidiaries[0].kvkNumber"
        );
        assert_eq!(camel_path("holder.trade_names"), "holder.tradeNames");
    }

    #[test]
    fn old_names_and_typos_get_a_suggestion() {
        let known = ["levelMin", "on", "until"];
        assert_eq!(suggestion("level_min", known), Some("levelMin"));
        assert_eq!(suggestion("levelmin", known), Some("levelMin"));
        assert_eq!(suggestion("untill", known), Some("until"));
        assert_eq!(suggestion("x", known), None);
        assert_eq!(suggestion("zzzzzz", known), None);
    }

    #[test]
    fn every_fault_of_an_object_is_found_at_once() {
        let schema = json!({
            "type": "object",
            "properties": {
                "kvkNumbers": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{8}$"}, "maxItems": 3},
                "levelMin": {"type": ["string", "null"], "enum": ["trede_1", "trede_2", null]},
                "on": {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]},
            },
            "required": ["kvkNumbers"],
            "additionalProperties": false,
        });
        assert_eq!(
            faults(
                schema.clone(),
                json!({"kvk_numbers": [], "levelMin": "gold", "on": "soon"})
            ),
            [
                (
                    "kvk_numbers".into(),
                    "is not a field of this request; did you mean kvkNumbers?".into()
                ),
                ("kvkNumbers".into(), "is required".into()),
                (
                    "levelMin".into(),
                    "must be one of trede_1, trede_2, null".into()
                ),
                (
                    "on".into(),
                    "must be a date (YYYY-MM-DD) or an RFC 3339 instant, e.g. 2026-05-01T00:00:00Z"
                        .into()
                ),
            ]
        );
        assert_eq!(
            faults(
                schema.clone(),
                json!({"kvkNumbers": ["12345678", "1234"], "levelMin": null, "on": "2026-02-30"})
            ),
            [
                ("kvkNumbers[1]".into(), "must match ^[0-9]{8}$".into()),
                (
                    "on".into(),
                    "must be a date (YYYY-MM-DD) or an RFC 3339 instant, e.g. 2026-05-01T00:00:00Z"
                        .into()
                ),
            ]
        );
        assert_eq!(
            faults(schema.clone(), json!({"kvkNumbers": ["", "", "", ""]})),
            [("kvkNumbers".into(), "must list at most 3 items".into())]
        );
        assert!(
            faults(
                schema,
                json!({"kvkNumbers": ["00000001"], "on": "2026-06-01T10:00:00+02:00"})
            )
            .is_empty()
        );
        assert_eq!(
            faults(json!({"type": "object"}), json!([])),
            [("body".into(), "must be an object".into())]
        );
    }

    #[test]
    fn lengths_count_characters_and_bounds_hold() {
        let text = json!({"type": "string", "minLength": 2, "maxLength": 3});
        assert!(faults(text.clone(), json!("ûûû")).is_empty());
        assert_eq!(
            faults(text, json!("ûûûû"))[0].1,
            "must be 2 to 3 characters"
        );
        let limit = json!({"type": "integer", "minimum": 1, "maximum": 500});
        assert_eq!(
            faults(limit.clone(), json!(0))[0].1,
            "must be from 1 to 500"
        );
        assert_eq!(
            faults(limit.clone(), json!(1.5))[0].1,
            "must be a whole number"
        );
        assert!(faults(limit, json!(500)).is_empty());
    }

    #[test]
    fn instants_and_dates_are_rfc_3339() {
        for ok in [
            "2026-06-01T00:00:00Z",
            "2026-06-01t10:00:00.123+02:00",
            "0001-01-01T00:00:00z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2026-06-01 10:00:00Z",
            "2026-06-01T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-06-01T24:00:00Z",
            "2026-06-01",
            "+2026-06-01T00:00:00Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_date("2028-02-29") && !is_date("2027-02-29") && !is_date("2026-6-01"));
    }

    #[test]
    fn query_values_are_read_as_their_schema_types() {
        let integer = Compiler {
            schemas: &Map::new(),
            messages: &HashMap::new(),
        }
        .compile(&json!({"type": "integer", "minimum": 0}), 0)
        .expect("rule");
        assert_eq!(query_value(&integer, "42"), json!(42));
        assert_eq!(query_value(&integer, "4.2"), json!("4.2"));
        assert_eq!(query_value(&integer, "+1"), json!("+1"));
    }

    #[test]
    fn the_document_compiles_into_rules() {
        let document = crate::openapi::document_value();
        for name in document["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
        {
            schema_rules(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
