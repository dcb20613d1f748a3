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

mod rule;

use std::collections::HashMap;
use std::sync::LazyLock;

use registry_core::FieldError;
use serde_json::{Map, Value};

use rule::{Compiler, Faults, Kind, Rule};

/// The most faults one refusal lists (it counts them all): an answer stays
/// small whatever was sent.
pub const MAX_FAULTS: usize = 100;

/// What a check found: the first [`MAX_FAULTS`] faults, and how many in all.
#[derive(Debug, Default)]
pub struct Found {
    pub faults: Vec<FieldError>,
    pub total: usize,
}

impl Found {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl From<Faults> for Found {
    fn from(f: Faults) -> Self {
        Found {
            faults: f.0,
            total: f.1,
        }
    }
}

/// The most parameters one query string may carry (an endpoint takes at most
/// 12): the work of reading one stays small whatever was sent.
pub const MAX_PARAMETERS: usize = 32;

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

/// The rules for one JSON body.
#[derive(Debug)]
pub struct BodyRules(Rule);

impl BodyRules {
    /// The faults of `value`, by path (none when it passes).
    pub fn check(&self, value: &Value) -> Found {
        let mut faults = Faults::default();
        self.0.check(value, "", &mut faults);
        faults.into()
    }
}

/// The rules for one query string: each parameter's schema.
#[derive(Debug)]
pub struct QueryRules {
    parameters: Vec<(String, bool, Rule)>,
}

impl QueryRules {
    /// The parameters as JSON values of their schemas' types (`limit` a number,
    /// `pso30plus` a boolean), to deserialize from; or every fault of `pairs`
    /// (unknown or repeated parameters, missing required ones, values their
    /// schema refuses), by parameter name.
    pub fn read(&self, pairs: Vec<(String, String)>) -> Result<Map<String, Value>, Found> {
        let mut faults = Faults::default();
        if pairs.len() > MAX_PARAMETERS {
            faults.push(
                "query",
                format!(
                    "must have at most {MAX_PARAMETERS} parameters (this endpoint takes: {})",
                    self.names()
                ),
            );
            return Err(faults.into());
        }
        let mut values = Map::new();
        for (name, raw) in pairs {
            let Some((_, _, rule)) = self.parameters.iter().find(|(p, _, _)| *p == name) else {
                let known = self.parameters.iter().map(|(p, _, _)| p.as_str());
                let message = match suggestion(&name, known) {
                    Some(meant) => {
                        format!("is not a parameter of this endpoint; did you mean {meant}?")
                    }
                    None => format!(
                        "is not a parameter of this endpoint (it takes: {})",
                        self.names()
                    ),
                };
                faults.push(&name, message);
                continue;
            };
            if values.contains_key(&name) {
                faults.push(&name, "is given more than once");
                continue;
            }
            let value = query_value(rule, raw);
            rule.check(&value, &name, &mut faults);
            values.insert(name, value);
        }
        for (name, required, _) in &self.parameters {
            if *required && !values.contains_key(name) {
                faults.push(name, "is required");
            }
        }
        if faults.1 == 0 {
            Ok(values)
        } else {
            Err(faults.into())
        }
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
fn query_value(rule: &Rule, raw: String) -> Value {
    let kinds = &rule.kinds;
    let wants = |k: Kind| kinds.contains(&k);
    if !wants(Kind::String) {
        if wants(Kind::Integer) || wants(Kind::Number) {
            let integer = !raw.is_empty()
                && raw
                    .strip_prefix('-')
                    .unwrap_or(&raw)
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
            match raw.as_str() {
                "true" => return Value::Bool(true),
                "false" => return Value::Bool(false),
                _ => {}
            }
        }
    }
    Value::String(raw)
}

/// The document's schemas, from which rules are built.
struct Contract {
    document: Value,
    messages: HashMap<&'static str, &'static str>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract {
    document: crate::openapi::document_value().clone(),
    messages: crate::schema::PATTERN_MESSAGES.into_iter().collect(),
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

/// A body type the contract checks: its rules, built once (`body_contract!`).
pub trait BodyContract: serde::de::DeserializeOwned + utoipa::PartialSchema + 'static {
    fn rules() -> Result<&'static BodyRules, &'static str>;
}

/// A query type the contract checks: its rules, built once (`query_contract!`).
pub trait QueryContract: serde::de::DeserializeOwned + utoipa::IntoParams + 'static {
    fn rules() -> Result<&'static QueryRules, &'static str>;
}

/// Implements `$contract` for each type: its `$rules`, built once by `$build`.
macro_rules! contract_rules {
    ($contract:ident, $rules:ident, $build:ident; $($ty:ty),+) => {$(
        impl $crate::contract::$contract for $ty {
            fn rules() -> Result<&'static $crate::contract::$rules, &'static str> {
                static RULES: std::sync::OnceLock<Result<$crate::contract::$rules, String>> =
                    std::sync::OnceLock::new();
                RULES
                    .get_or_init($crate::contract::$build::<$ty>)
                    .as_ref()
                    .map_err(String::as_str)
            }
        }
    )+};
}
pub(crate) use contract_rules;

/// Makes a request body type one the contract checks (`crate::extract::Json`).
macro_rules! body_contract {
    ($($ty:ty),+ $(,)?) => {
        $crate::contract::contract_rules!(BodyContract, BodyRules, body_rules; $($ty),+);
    };
}
pub(crate) use body_contract;

/// Makes a query type one the contract checks (`crate::extract::Query`).
macro_rules! query_contract {
    ($($ty:ty),+ $(,)?) => {
        $crate::contract::contract_rules!(QueryContract, QueryRules, query_rules; $($ty),+);
    };
}
pub(crate) use query_contract;

/// Builds the rules for a body read as `T`.
pub fn body_rules<T: utoipa::PartialSchema>() -> Result<BodyRules, String> {
    let schema = serde_json::to_value(T::schema()).map_err(|e| e.to_string())?;
    Ok(BodyRules(CONTRACT.compiler()?.compile(&schema, 0)?))
}

/// Builds the rules for a query string read as `T`.
pub fn query_rules<T: utoipa::IntoParams>() -> Result<QueryRules, String> {
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
}

/// The rules for one schema of the document, by name.
#[cfg(test)]
pub(crate) fn schema_rules(name: &str) -> Result<BodyRules, String> {
    rules_for(&serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }))
}

/// The rules for a schema given as JSON (its `$ref`s into the document).
#[cfg(test)]
pub(crate) fn rules_for(schema: &Value) -> Result<BodyRules, String> {
    Ok(BodyRules(CONTRACT.compiler()?.compile(schema, 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

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
    fn query_values_are_read_as_their_schema_types() {
        let integer = Compiler {
            schemas: &Map::new(),
            messages: &HashMap::new(),
        }
        .compile(&json!({"type": "integer", "minimum": 0}), 0)
        .expect("rule");
        assert_eq!(query_value(&integer, "42".into()), json!(42));
        assert_eq!(query_value(&integer, "4.2".into()), json!("4.2"));
        assert_eq!(query_value(&integer, "+1".into()), json!("+1"));
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
