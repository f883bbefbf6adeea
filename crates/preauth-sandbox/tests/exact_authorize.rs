//! Exact's authorization endpoint and pages over real HTTP.

mod common;

use common::*;
use preauth_sandbox::{App, Login, Sandbox, SandboxConfig, SandboxError, approve};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

#[tokio::test]
async fn full_code_flow_through_the_pages() {
    let sb = sandbox().await;
    let app = App::demo();
    let url = exact_authorize(&sb, &app.client_id, &[]);

    // A person first sees a login page with user, password and 2FA fields.
    let first = client().get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(content_type(&first).starts_with("text/html"));
    let html = first.text().await.unwrap();
    for field in ["name=\"user\"", "name=\"password\"", "name=\"totp\""] {
        assert!(html.contains(field), "{field} missing from the login page");
    }

    let redirect = approve(&url, &Login::demo()).await.unwrap();
    assert!(
        redirect.starts_with(&format!("{REDIRECT}?code=")),
        "{redirect}"
    );
    // The code arrives percent-encoded with its `!` as %21, decoded once by the client.
    assert!(redirect.contains("%21"), "{redirect}");
    let code = query_param(&redirect, "code").unwrap();
    assert!(code.contains('!'));
    assert_eq!(query_param(&redirect, "state").unwrap(), "st@te 1");

    let (status, tokens) = exchange(&sb, &app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        tokens["expires_in"], "600",
        "Exact sends expires_in as a string"
    );
    assert_eq!(tokens["token_type"], "bearer");
    assert!(!str_of(&tokens, "refresh_token").is_empty());

    let me = me(&sb, str_of(&tokens, "access_token")).await;
    assert_eq!(me.status(), StatusCode::OK);
    let (_, body) = status_json(me).await;
    assert_eq!(body["d"]["results"][0]["CurrentDivision"], 123456);

    let counters = sb.counters();
    assert_eq!(counters.authorize_requests, 2);
    assert_eq!(counters.logins, 1);
    assert_eq!(counters.codes_issued, 1);
    assert_eq!(counters.token_calls_authorization_code, 1);
    assert_eq!(counters.me_calls, 1);
}

async fn login_page(
    sb: &Sandbox,
    extra: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = client().get(exact_authorize(sb, App::DEMO_CLIENT_ID, extra));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// Logs in by hand; returns the consent page's tx and the session cookie.
async fn log_in(sb: &Sandbox) -> (String, String) {
    let html = login_page(sb, &[], None).await.text().await.unwrap();
    let tx = hidden_tx(&html);
    let demo = Login::demo();
    let consent = post_form(
        sb,
        "/api/oauth2/login",
        &[
            ("tx", &tx),
            ("user", &demo.user),
            ("password", &demo.password),
            ("totp", &demo.totp),
        ],
    )
    .await;
    assert_eq!(consent.status(), StatusCode::OK);
    let cookie = consent.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = consent.text().await.unwrap();
    assert!(html.contains("value=\"allow\"") && html.contains("value=\"deny\""));
    (hidden_tx(&html), cookie)
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let sb = sandbox().await;
    let (tx, _) = log_in(&sb).await;
    let denied = post_form(
        &sb,
        "/api/oauth2/consent",
        &[("tx", &tx), ("decision", "deny")],
    )
    .await;
    assert_eq!(denied.status(), StatusCode::FOUND);
    let location = location(&denied);
    assert_eq!(query_param(&location, "error").unwrap(), "access_denied");
    assert_eq!(query_param(&location, "state").unwrap(), "st@te 1");
    assert!(query_param(&location, "code").is_none());
    // The pending request is gone: posting again lands on an error page.
    let again = post_form(
        &sb,
        "/api/oauth2/consent",
        &[("tx", &tx), ("decision", "allow")],
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sb.counters().codes_issued, 0);
}

#[tokio::test]
async fn consent_before_login_is_refused() {
    let sb = sandbox().await;
    let html = login_page(&sb, &[], None).await.text().await.unwrap();
    let tx = hidden_tx(&html);
    let early = post_form(
        &sb,
        "/api/oauth2/consent",
        &[("tx", &tx), ("decision", "allow")],
    )
    .await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    assert!(early.text().await.unwrap().contains("Log in before"));
}

#[tokio::test]
async fn wrong_login_shows_the_login_page_again() {
    let sb = sandbox().await;
    let url = exact_authorize(&sb, App::DEMO_CLIENT_ID, &[]);
    let mut wrong = Login::demo();
    wrong.totp = "000000".to_owned();
    let refused = approve(&url, &wrong).await.unwrap_err();
    assert!(
        matches!(refused, SandboxError::LoginRejected { .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("incorrect"), "{refused}");
    assert!(!refused.to_string().contains("000000"));
    assert_eq!(sb.counters().logins, 0);
}

#[tokio::test]
async fn session_skips_login_unless_force_login() {
    let sb = sandbox().await;
    let (tx, cookie) = log_in(&sb).await;
    let allowed = post_form(
        &sb,
        "/api/oauth2/consent",
        &[("tx", &tx), ("decision", "allow")],
    )
    .await;
    assert_eq!(allowed.status(), StatusCode::FOUND);

    // Logged in and consented: the next authorization redirects at once.
    let again = login_page(&sb, &[], Some(&cookie)).await;
    assert_eq!(again.status(), StatusCode::FOUND);
    assert!(query_param(&location(&again), "code").is_some());

    // force_login=1 shows the login page even with a session.
    let forced = login_page(&sb, &[("force_login", "1")], Some(&cookie)).await;
    assert_eq!(forced.status(), StatusCode::OK);
    assert!(forced.text().await.unwrap().contains("id=\"login\""));
    assert_eq!(sb.counters().codes_issued, 2);
}

async fn error_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers().get("location").is_none(),
        "an error page, not a redirect"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn bad_client_or_redirect_gets_an_error_page_not_a_redirect() {
    let sb = sandbox().await;
    let base = sb.base_url();
    let unknown = client()
        .get(exact_authorize(&sb, "{not-registered}", &[]))
        .send()
        .await
        .unwrap();
    assert!(error_page(unknown).await.contains("client_id is not valid"));

    for redirect in [
        "https://attacker.invalid/callback",
        "http://127.0.0.1:53682/other",
        "http://localhost:53682/callback",
    ] {
        let url = url_with(
            &base,
            "/api/oauth2/auth",
            &[
                ("client_id", App::DEMO_CLIENT_ID),
                ("redirect_uri", redirect),
                ("response_type", "code"),
            ],
        );
        let page = error_page(client().get(url).send().await.unwrap()).await;
        assert!(
            page.contains("redirect_uri is not registered"),
            "{redirect}"
        );
    }
    let missing = client()
        .get(format!("{base}/api/oauth2/auth"))
        .send()
        .await
        .unwrap();
    assert!(error_page(missing).await.contains("client_id"));
    let twice = format!(
        "{}&client_id=x",
        exact_authorize(&sb, App::DEMO_CLIENT_ID, &[])
    );
    assert!(
        error_page(client().get(twice).send().await.unwrap())
            .await
            .contains("more than once")
    );
}

#[tokio::test]
async fn loopback_redirect_accepts_any_port() {
    let sb = sandbox().await;
    let url = url_with(
        &sb.base_url(),
        "/api/oauth2/auth",
        &[
            ("client_id", App::DEMO_CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:41234/callback"),
            ("response_type", "code"),
            ("state", "s"),
        ],
    );
    let redirect = approve(&url, &Login::demo()).await.unwrap();
    assert!(
        redirect.starts_with("http://127.0.0.1:41234/callback?code="),
        "{redirect}"
    );
}

#[tokio::test]
async fn bad_response_type_redirects_with_an_error() {
    let sb = sandbox().await;
    let base = sb.base_url();
    for (response_type, error) in [
        (None, "invalid_request"),
        (Some("token"), "unsupported_response_type"),
    ] {
        let mut params = vec![
            ("client_id", App::DEMO_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("state", "s1"),
        ];
        if let Some(rt) = response_type {
            params.push(("response_type", rt));
        }
        let answer = client()
            .get(url_with(&base, "/api/oauth2/auth", &params))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND);
        let location = location(&answer);
        assert!(location.starts_with(REDIRECT));
        assert_eq!(query_param(&location, "error").unwrap(), error);
        assert_eq!(query_param(&location, "state").unwrap(), "s1");
    }
}

#[tokio::test]
async fn auto_approve_redirects_at_once() {
    let sb = Sandbox::spawn(SandboxConfig {
        auto_approve: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let url = exact_authorize(&sb, App::DEMO_CLIENT_ID, &[]);
    let first = client().get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::FOUND);
    assert!(query_param(&location(&first), "code").is_some());
    let mut wrong = Login::demo();
    wrong.password = "nope".to_owned();
    // No pages: the credentials are never asked for.
    assert!(approve(&url, &wrong).await.is_ok());
    assert_eq!(sb.counters().logins, 0);
}

#[tokio::test]
async fn approve_refuses_other_hosts_and_reports_error_pages() {
    let refused = approve(
        "http://example.com/api/oauth2/auth?client_id=x",
        &Login::demo(),
    )
    .await;
    assert!(matches!(refused, Err(SandboxError::NotLoopback { .. })));
    assert!(matches!(
        approve("not a url", &Login::demo()).await,
        Err(SandboxError::InvalidUrl(_))
    ));
    let sb = sandbox().await;
    let error = approve(&exact_authorize(&sb, "{unknown}", &[]), &Login::demo())
        .await
        .unwrap_err();
    assert!(
        matches!(error, SandboxError::Refused { status: 400, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sb = sandbox().await;
    let base = sb.base_url();
    sb.shutdown().await;
    assert!(
        client()
            .get(format!("{base}/sandbox/counters"))
            .send()
            .await
            .is_err()
    );
}
