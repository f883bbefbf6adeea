//! The Register and NewPlatform schemas of `openapi.json` against `preauth serve`: every constraint it
//! states is one the server enforces (a value that breaks it is refused, naming the
//! field), and what it allows the server takes (a schema-valid body is never refused as
//! invalid). No platform is contacted: nothing is verified.

mod common;

use std::time::{Duration, SystemTime};

use common::Workspace;
use common::serve::{Keys, Server};
use regex::Regex;
use serde_json::{Map, Value, json};

/// The schema `name` of openapi.json, as published.
fn schema(name: &str) -> Value {
    let text = include_str!("../crates/preauth-serve/openapi.json");
    let doc: Value = serde_json::from_str(text).expect("openapi.json is JSON");
    doc["components"]["schemas"][name].clone()
}

/// A workspace with the three keys, a server over it, and the schema `name`.
fn serve_with_schema(name: &str) -> (Workspace, Keys, Server, Value) {
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let server = Server::start(&ws, &[]);
    (ws, keys, server, schema(name))
}

/// Values of one field: some the schema allows, some it does not. Breaking a length is
/// walked for every field that states one; these add what a pattern or format says.
struct Walk {
    field: &'static str,
    allowed: Vec<String>,
    refused: Vec<String>,
}

fn walks() -> Vec<Walk> {
    let an_hour_ago = common::rfc3339(SystemTime::now() - Duration::from_secs(3600));
    let walk = |field, allowed: &[&str], refused: &[&str]| Walk {
        field,
        allowed: allowed.iter().map(|v| v.to_string()).collect(),
        refused: refused.iter().map(|v| v.to_string()).collect(),
    };
    let fraction = an_hour_ago.replace('Z', ".123456789Z");
    vec![
        walk(
            "name",
            &["a", "Öresund AB", "acme-nl (2)", "x.y", "ÿ_ɏ", "[#1]"],
            &[
                ".hidden",
                "a/b",
                "a\\b",
                "what?",
                "trailing ",
                " leading",
                "dot.",
                "tab\there",
                "zero\u{200b}width",
                "bell\u{7}",
            ],
        ),
        walk("platform", &["exact", "exact-online", "twinfield"], &[]),
        walk("country", &["nl", "co.uk"], &["x", "n l", "NL-"]),
        walk(
            "api_url",
            &[
                "https://start.exactonline.nl",
                "https://start.exactonline.be/",
            ],
            &[
                "ftp://start.exactonline.nl",
                "http://10.0.0.1",
                "https://user:pw@start.exactonline.nl",
                "https://start.exactonline.nl/?q=1",
                "https://start.exactonline.nl/#top",
                "javascript:alert(1)",
                "https://999.1.1.1",
            ],
        ),
        walk(
            "access_token",
            &["a!~z"],
            &["has space", "tëst", "line\nbreak"],
        ),
        walk("refresh_token", &["r!~z"], &["has space", "tëst"]),
        walk(
            "obtained_at",
            &[&an_hour_ago, &fraction],
            &[
                "2026-11-20T10:00:00+01:00",
                "yesterday",
                "2026-13-01T00:00:00Z",
                "1969-12-31T23:59:59Z",
            ],
        ),
    ]
}

/// Whether `value` meets the string constraints `schema` states (lengths in characters,
/// the pattern); the formats are described by the patterns beside them.
fn allows(schema: &Value, value: &str) -> bool {
    let chars = value.chars().count() as u64;
    let min = schema["minLength"].as_u64().unwrap_or(0);
    let max = schema["maxLength"].as_u64().unwrap_or(u64::MAX);
    let pattern = schema["pattern"]
        .as_str()
        .map(|p| Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}")));
    (min..=max).contains(&chars) && pattern.is_none_or(|p| p.is_match(value))
}

/// A body with every field required for a built-in platform and nothing else, unique in
/// name and tokens.
fn minimal(i: usize) -> Map<String, Value> {
    let body = json!({
        "name": format!("minimal-{i}"),
        "platform": "exact",
        "client_id": common::DEMO_CLIENT_ID,
        "client_secret": common::DEMO_CLIENT_SECRET,
        "redirect_url": common::WEB_REDIRECT,
        "access_token": format!("access-{i}"),
        "refresh_token": format!("refresh-{i}"),
    });
    body.as_object().expect("an object").clone()
}

/// `POST /api/v1/connections` of `body` with `key`.
fn register(server: &Server, key: &str, body: Map<String, Value>) -> (u16, Value) {
    server.call(
        "POST",
        "/api/v1/connections",
        Some(key),
        Some(&Value::Object(body).to_string()),
    )
}

#[test]
fn every_register_constraint_is_one_the_server_enforces_and_nothing_it_allows_is_refused() {
    let (_ws, keys, mut server, schema) = serve_with_schema("Register");
    let properties = schema["properties"].as_object().expect("properties");
    let mut count = 0;
    let mut post = |field: &str, value: &str| {
        count += 1;
        let mut body = minimal(count);
        body.insert(field.into(), json!(value));
        register(&server, &keys.register, body)
    };

    // A minimal schema-valid body is taken.
    let (status, stored) = post("name", "minimal");
    assert_eq!(status, 201, "{stored}");

    let walks = walks();
    for (field, property) in properties {
        // Lengths are walked for every field; a pattern or format needs examples.
        let stated: Vec<&str> = ["pattern", "format"]
            .into_iter()
            .filter(|k| property.get(*k).is_some())
            .collect();
        let walk = walks.iter().find(|w| w.field == field);
        assert!(
            stated.is_empty() || walk.is_some(),
            "'{field}' states {stated:?}, which no walk tries"
        );
        let mut refused = walk.map(|w| w.refused.clone()).unwrap_or_default();
        if let Some(min) = property["minLength"].as_u64().filter(|m| *m > 0) {
            refused.push("a".repeat(min as usize - 1));
        }
        if let Some(max) = property["maxLength"].as_u64() {
            refused.push("a".repeat(max as usize + 1));
        }
        for value in &refused {
            let shown = value.chars().take(40).collect::<String>();
            assert!(
                !allows(property, value),
                "'{field}': the schema allows {shown:?}, which was meant to break it"
            );
            let (status, answer) = post(field, value);
            assert!(
                status == 400 || status == 422,
                "'{field}' = {shown:?}: {status} {answer}"
            );
            assert_eq!(answer["field"], json!(field), "{shown:?}: {answer}");
            assert_ne!(answer["error"], "internal", "{answer}");
        }
        for value in walk.map(|w| w.allowed.as_slice()).unwrap_or_default() {
            assert!(
                allows(property, value),
                "'{field}': the schema refuses {value:?}, which was meant to fit"
            );
            let (status, answer) = post(field, value);
            assert_eq!(status, 201, "'{field}' = {value:?}: {answer}");
        }
    }

    // The client secret the built-in platforms need (`if`/`then`) is named when left out.
    let conditional = &schema["then"]["required"];
    assert_eq!(conditional, &json!(["client_secret"]));
    for platform in schema["if"]["properties"]["platform"]["enum"]
        .as_array()
        .expect("the built-in platforms")
    {
        count += 1;
        let mut body = minimal(count);
        body.remove("client_secret");
        body.insert("platform".into(), platform.clone());
        let (status, answer) = register(&server, &keys.register, body);
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["field"], "client_secret", "{answer}");
    }

    // Each required field left out is named, without serde's line and column.
    for required in schema["required"].as_array().expect("required") {
        let field = required.as_str().expect("a name");
        count += 1;
        let mut body = minimal(count);
        body.remove(field);
        let (status, answer) = register(&server, &keys.register, body);
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "invalid_body", "{answer}");
        assert_eq!(answer["field"], json!(field), "{answer}");
        let message = answer["message"].as_str().expect("a message");
        assert!(!message.contains("line 1"), "{message}");
    }
    server.stop();
}

#[test]
fn every_platform_constraint_is_one_the_server_enforces_and_nothing_it_allows_is_refused() {
    let (_ws, keys, mut server, schema) = serve_with_schema("NewPlatform");
    let properties = schema["properties"].as_object().expect("properties");
    // Endpoints given, so no provider is contacted.
    let host = "https://idp.example.invalid";
    let mut count = 0;
    let mut post = |field: &str, value: &str| {
        count += 1;
        let mut body = json!({
            "id": format!("p{count}"),
            "authorize_url": format!("{host}/authorize"),
            "token_url": format!("{host}/token"),
        });
        body[field] = json!(value);
        server.call(
            "POST",
            "/api/v1/platforms",
            Some(&keys.admin),
            Some(&body.to_string()),
        )
    };
    let walks = [
        Walk {
            field: "id",
            allowed: vec!["a".into(), "Idp-2_x.y".into(), "x".repeat(64)],
            refused: vec!["".into(), "has space".into(), "ïdp".into(), "x".repeat(65)],
        },
        Walk {
            field: "authorize_url",
            allowed: vec![format!("{host}/a/b")],
            refused: vec![
                "http://10.0.0.1/authorize".into(),
                format!("{host}/authorize?x=1"),
                format!("{host}/authorize#top"),
                "https://user:pw@idp.example.invalid/authorize".into(),
                "/authorize".into(),
            ],
        },
        Walk {
            field: "token_url",
            allowed: vec![format!("{host}/oauth/token")],
            refused: vec!["ftp://idp.example.invalid/token".into(), "token".into()],
        },
        Walk {
            field: "issuer",
            allowed: vec![host.into(), format!("{host}/realms/one")],
            refused: vec!["http://192.168.1.1".into(), format!("{host}/?q=1")],
        },
    ];
    for walk in &walks {
        let property = &properties[walk.field];
        for value in &walk.refused {
            assert!(
                !allows(property, value),
                "'{}': the schema allows {value:?}",
                walk.field
            );
            let (status, answer) = post(walk.field, value);
            assert_eq!(status, 422, "'{}' = {value:?}: {answer}", walk.field);
            assert_eq!(answer["field"], json!(walk.field), "{answer}");
        }
        for value in &walk.allowed {
            assert!(
                allows(property, value),
                "'{}': the schema refuses {value:?}",
                walk.field
            );
            let (status, answer) = post(walk.field, value);
            assert_eq!(status, 201, "'{}' = {value:?}: {answer}", walk.field);
        }
    }
    // Every field that states a pattern is walked.
    for (field, property) in properties {
        assert!(
            property.get("pattern").is_none() || walks.iter().any(|w| w.field == field),
            "'{field}' states a pattern no walk tries"
        );
    }
    server.stop();
}
