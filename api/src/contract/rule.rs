//! One schema of the document, compiled into a rule that checks a JSON value
//! and says, for every fault, where and what it must be.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::DateTime;
use regex::Regex;
use registry_core::FieldError;
use serde_json::{Map, Value};

use super::{MAX_FAULTS, suggestion};

/// One schema, compiled.
#[derive(Debug, Default)]
pub(super) struct Rule {
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
    /// The JSON types this rule and those it combines admit (computed once).
    pub(super) kinds: Vec<Kind>,
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
pub(super) enum Kind {
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
    registry_core::time::parse_date(s).is_some()
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
pub(super) struct Compiler<'d> {
    pub(super) schemas: &'d Map<String, Value>,
    pub(super) messages: &'d HashMap<&'static str, &'static str>,
}

impl Compiler<'_> {
    pub(super) fn compile(&self, schema: &Value, depth: usize) -> Result<Rule, String> {
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
        rule.kinds = rule_kinds(&rule);
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

/// Faults found so far: the first [`MAX_FAULTS`], and how many in all (the
/// walk is bounded by the size of what was sent).
#[derive(Debug, Default)]
pub(super) struct Faults(pub(super) Vec<FieldError>, pub(super) usize);

impl Faults {
    pub(super) fn push(&mut self, path: &str, message: impl Into<String>) {
        self.keep(FieldError::new(display_path(path), message));
    }

    fn keep(&mut self, fault: FieldError) {
        self.1 += 1;
        if self.0.len() < MAX_FAULTS {
            self.0.push(fault);
        }
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

impl Rule {
    /// Whether `value` passes, without recording why.
    fn passes(&self, value: &Value) -> bool {
        let mut faults = Faults::default();
        self.check(value, "", &mut faults);
        faults.0.is_empty()
    }

    pub(super) fn check(&self, value: &Value, path: &str, faults: &mut Faults) {
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
            let fits = r.kinds.is_empty() || r.kinds.iter().any(|k| k.admits(value));
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
            let unkept = own.1 - own.0.len();
            for fault in own.0 {
                faults.keep(fault);
            }
            faults.1 += unkept;
        }
        None => faults.push(path, "matches more than one of its alternatives"),
    }
}

fn rule_kinds(rule: &Rule) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = rule.types.clone().unwrap_or_default();
    for inner in rule.all_of.iter().chain(&rule.one_of).chain(&rule.any_of) {
        kinds.extend(&inner.kinds);
    }
    kinds
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
}
