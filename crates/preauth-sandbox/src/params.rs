//! Query strings and form bodies, decoded once, with duplicates refused (RFC 6749 §3.1).

use std::collections::HashMap;

/// Decoded `application/x-www-form-urlencoded` parameters, each name at most once.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// Decodes `input` once; `Err(name)` names the first parameter that appears twice.
    pub(crate) fn parse(input: &[u8]) -> Result<Params, String> {
        let mut map = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if map.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(name.into_owned());
            }
        }
        Ok(Params(map))
    }

    /// The value of `name` when present and not empty (OAuth treats empty as absent).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` is present at all.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_refuses_duplicates() {
        let p = Params::parse(b"code=a%2521b&state=x+y&empty=").unwrap();
        assert_eq!(p.get("code"), Some("a%21b"));
        assert_eq!(p.get("state"), Some("x y"));
        assert_eq!(p.get("empty"), None);
        assert!(p.contains("empty"));
        assert_eq!(Params::parse(b"a=1&a=2").unwrap_err(), "a");
    }
}
