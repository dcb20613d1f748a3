//! Query strings, read strictly: a parameter the endpoint does not know, or one
//! given twice, is a `400` problem naming it — a misspelt filter must not quietly
//! widen a search.

use std::collections::HashMap;

use actix_web::HttpRequest;

use crate::problem::Problem;

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Reads the query string, accepting only `allowed` names, each at most once.
    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Result<Self, Problem> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|_| Problem::parameter("query", "is not a valid query string"))?;
        let mut map = HashMap::new();
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(Problem::parameter(
                    &name,
                    format!(
                        "is not a parameter of this endpoint (it takes: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(Problem::parameter(&name, "is given more than once"));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The parameter parsed by `parse`, its error naming it.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Problem> {
        self.get(name)
            .map(|v| parse(v).map_err(|m| Problem::parameter(name, m)))
            .transpose()
    }
}
