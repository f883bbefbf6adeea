//! `openapi.json` describes exactly the API routes the router serves (the table also
//! holds the web pages, which it does not describe), with the right security: a route
//! without a key says `security: []`, every other one has the document's bearer key.

use std::collections::BTreeSet;

/// The routes of the API: every route of the table that is not a web page.
fn api_endpoints() -> Vec<preauth_serve::Endpoint> {
    preauth_serve::endpoints()
        .into_iter()
        .filter(|e| !e.page)
        .collect()
}

fn document() -> serde_json::Value {
    let text = include_str!("../openapi.json");
    serde_json::from_str(text).expect("openapi.json is JSON")
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = api_endpoints()
        .into_iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn the_one_table_holds_the_pages_too_and_every_page_goes_without_a_key() {
    let pages: Vec<_> = preauth_serve::endpoints()
        .into_iter()
        .filter(|e| e.page)
        .collect();
    for (method, path) in [
        ("GET", "/connections"),
        ("POST", "/connections/{name}/login"),
    ] {
        assert!(
            pages
                .iter()
                .any(|e| e.method.as_str() == method && e.path == path),
            "{method} {path} is in the table"
        );
    }
    assert!(pages.iter().all(|e| e.scope.is_none()));
}

#[test]
fn routes_without_a_key_are_documented_as_such() {
    let doc = document();
    for endpoint in api_endpoints() {
        let operation = &doc["paths"][endpoint.path][endpoint.method.as_str().to_lowercase()];
        let open = operation["security"] == serde_json::json!([]);
        assert_eq!(
            open,
            endpoint.scope.is_none(),
            "{} {}",
            endpoint.method,
            endpoint.path
        );
    }
}

#[test]
fn every_route_with_a_key_documents_the_403_of_a_key_used_outside_its_networks() {
    let doc = document();
    let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["description"]
        .as_str()
        .expect("the codes");
    assert!(codes.contains("address_not_allowed"), "{codes}");
    for endpoint in api_endpoints().into_iter().filter(|e| e.scope.is_some()) {
        let operation = &doc["paths"][endpoint.path][endpoint.method.as_str().to_lowercase()];
        assert!(
            operation["responses"]["403"].is_object(),
            "{} {}",
            endpoint.method,
            endpoint.path
        );
    }
}
