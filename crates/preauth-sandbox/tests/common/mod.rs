//! Helpers shared by the integration tests: a sandbox, a client that never follows
//! redirects, and the steps of the code flow over real HTTP.
#![allow(dead_code)]

use std::time::Duration;

use preauth_sandbox::{App, Limits, Login, Sandbox, SandboxConfig, approve};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:53682/callback";

/// The demo app with a 30 s access token, so refreshes are always allowed.
pub fn quick_app() -> App {
    App {
        client_id: "quick".to_owned(),
        client_secret: "quick-secret".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        access_token_seconds: 30,
    }
}

pub async fn sandbox_with(limits: Limits) -> Sandbox {
    Sandbox::spawn(SandboxConfig {
        apps: vec![App::demo(), quick_app()],
        limits,
        ..SandboxConfig::default()
    })
    .await
    .expect("binding 127.0.0.1:0 works in tests")
}

pub async fn sandbox() -> Sandbox {
    sandbox_with(Limits::default()).await
}

pub fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub fn url_with(base: &str, path: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{base}{path}")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

pub fn exact_authorize(sb: &Sandbox, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "st@te 1"),
    ];
    params.extend_from_slice(extra);
    url_with(&sb.base_url(), "/api/oauth2/auth", &params)
}

/// A query parameter of a redirect, decoded once.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a redirect carries Location")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Logs in and consents through the pages; returns the code from the redirect.
pub async fn exact_code(sb: &Sandbox, app: &App) -> String {
    let redirect = approve(&exact_authorize(sb, &app.client_id, &[]), &Login::demo())
        .await
        .unwrap();
    query_param(&redirect, "code").expect("the redirect carries a code")
}

/// Status and JSON (or `Value::Null` when the body is not JSON) of a response.
pub async fn status_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn exact_token_raw(
    sb: &Sandbox,
    form: &[(&str, &str)],
) -> Result<reqwest::Response, reqwest::Error> {
    client()
        .post(format!("{}/api/oauth2/token", sb.base_url()))
        .form(form)
        .send()
        .await
}

pub async fn exact_token(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    status_json(exact_token_raw(sb, form).await.unwrap()).await
}

pub async fn exchange(sb: &Sandbox, app: &App, code: &str) -> (StatusCode, Value) {
    exact_token(
        sb,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

/// A refresh request whose answer may be cut off by a fault.
pub async fn refresh_raw(
    sb: &Sandbox,
    app: &App,
    refresh_token: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    exact_token_raw(
        sb,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

pub async fn refresh(sb: &Sandbox, app: &App, refresh_token: &str) -> (StatusCode, Value) {
    status_json(refresh_raw(sb, app, refresh_token).await.unwrap()).await
}

/// Advances the virtual clock to the next midnight UTC, where every limit window starts.
pub fn to_next_utc_midnight(sb: &Sandbox) {
    let now = sb
        .clock()
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    sb.clock()
        .advance(Duration::from_secs(86_400 - now % 86_400));
}

/// Code flow through the pages and exchange: the token response.
pub async fn exact_tokens(sb: &Sandbox, app: &App) -> Value {
    let code = exact_code(sb, app).await;
    let (status, body) = exchange(sb, app, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A fresh refresh token of [`quick_app`], obtained through the pages.
pub async fn quick_refresh_token(sb: &Sandbox) -> String {
    let tokens = exact_tokens(sb, &quick_app()).await;
    str_of(&tokens, "refresh_token").to_owned()
}

pub fn str_of<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {body}"))
}

pub fn assert_oauth_error(status: StatusCode, body: &Value, want: StatusCode, error: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"], error, "{body}");
}

pub async fn me(sb: &Sandbox, token: &str) -> reqwest::Response {
    client()
        .get(format!("{}/api/v1/current/Me", sb.base_url()))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// The hidden `tx` field of a login or consent page.
pub fn hidden_tx(html: &str) -> String {
    let marker = "name=\"tx\" value=\"";
    let start = html.find(marker).expect("the page has a tx field") + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

/// Posts a page form as a browser would.
pub async fn post_form(sb: &Sandbox, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client()
        .post(format!("{}{path}", sb.base_url()))
        .form(form)
        .send()
        .await
        .unwrap()
}
