//! Registered apps from a JSON file, served by a sandbox.

mod common;

use common::*;
use preauth_sandbox::{Login, Sandbox, SandboxConfig, SandboxError, approve, load_apps};

#[tokio::test]
async fn apps_from_a_file_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apps.json");
    std::fs::write(
        &path,
        r#"{"apps": [{"client_id": "acme", "client_secret": "acme-secret",
                      "redirect_uris": ["http://127.0.0.1:9000/cb"], "access_token_seconds": 60}]}"#,
    )
    .unwrap();
    let apps = load_apps(&path).unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].access_token_seconds, 60);
    let app = apps[0].clone();
    let sb = Sandbox::spawn(SandboxConfig {
        apps,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let url = url_with(
        &sb.base_url(),
        "/api/oauth2/auth",
        &[
            ("client_id", "acme"),
            ("redirect_uri", "http://127.0.0.1:9000/cb"),
            ("response_type", "code"),
        ],
    );
    let redirect = approve(&url, &Login::demo()).await.unwrap();
    let code = query_param(&redirect, "code").unwrap();
    let (status, body) = exact_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9000/cb"),
        ],
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], "60");
}

#[test]
fn bad_files_get_clear_errors_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let error = load_apps(&missing).unwrap_err();
    assert!(matches!(error, SandboxError::ReadApps { .. }));
    assert!(error.to_string().contains("missing.json"));

    let path = dir.path().join("apps.json");
    std::fs::write(
        &path,
        r#"{"apps": [{"client_id": "a", "client_secret": "s3cr3t-value", "redirect_uris": []}]}"#,
    )
    .unwrap();
    let error = load_apps(&path).unwrap_err().to_string();
    assert!(error.contains("no redirect_uris"), "{error}");
    assert!(!error.contains("s3cr3t-value"), "{error}");

    std::fs::write(&path, r#"{"apps": [{"client_id": "a", "client_secret": "s", "redirect_uris": ["x"], "colour": 1}]}"#).unwrap();
    let error = load_apps(&path).unwrap_err().to_string();
    assert!(error.contains("colour"), "{error}");
}
