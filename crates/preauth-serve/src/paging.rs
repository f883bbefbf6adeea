//! Pages of the connections listing, for the API (`?limit=&after=&q=`) and the
//! connections page: the query read and checked in one place.

use std::collections::HashMap;

use preauth_core::store::Page;

/// The most connections one page may hold.
pub(crate) const MAX_LIMIT: usize = 1000;

/// The page that the query parameters `limit`, `after` and `q` ask for; `default_limit`
/// when no limit is given. An unknown parameter or a bad limit is an error naming it.
pub(crate) fn page_of(
    params: &HashMap<String, String>,
    default_limit: usize,
) -> Result<Page, String> {
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "after" | "q"))
    {
        return Err(format!(
            "unknown query parameter '{unknown}'; a page takes limit, after and q"
        ));
    }
    let limit = match params.get("limit") {
        None => default_limit,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| format!("limit: a whole number from 1 to {MAX_LIMIT}"))?,
    };
    let given = |key: &str| params.get(key).filter(|v| !v.is_empty()).cloned();
    Ok(Page {
        after: given("after"),
        limit,
        containing: given("q"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_page_is_read_from_the_query_and_bad_values_are_named() {
        let page =
            page_of(&params(&[("limit", "50"), ("after", "b"), ("q", "ac")]), 10).expect("a page");
        assert_eq!(
            page,
            Page {
                after: Some("b".into()),
                limit: 50,
                containing: Some("ac".into())
            }
        );
        assert_eq!(
            page_of(&params(&[("q", "")]), 10).expect("a page").limit,
            10
        );
        for bad in ["0", "1001", "-1", "ten", ""] {
            let e = page_of(&params(&[("limit", bad)]), 10).expect_err(bad);
            assert!(e.starts_with("limit:"), "{e}");
        }
        assert!(page_of(&params(&[("offset", "3")]), 10).is_err());
    }
}
