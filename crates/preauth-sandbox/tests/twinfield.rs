//! Twinfield's endpoints: nonce, PKCE, HTTP Basic, reusable refresh tokens, validation.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use preauth_sandbox::{App, Login, Sandbox, approve};
use reqwest::StatusCode;
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SCOPE: &str = "openid twf.user twf.organisation twf.organisationUser offline_access";

fn authorize_url(sb: &Sandbox, extra: &[(&str, &str)], without: &str) -> String {
    let mut params = vec![
        ("client_id", App::DEMO_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", SCOPE),
        ("state", "tw-state"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    params.retain(|(name, _)| *name != without);
    params.extend_from_slice(extra);
    url_with(
        &sb.base_url(),
        "/auth/authentication/connect/authorize",
        &params,
    )
}

async fn token(
    sb: &Sandbox,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = client()
        .post(format!(
            "{}/auth/authentication/connect/token",
            sb.base_url()
        ))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    status_json(request.send().await.unwrap()).await
}

const DEMO: Option<(&str, &str)> = Some((App::DEMO_CLIENT_ID, App::DEMO_CLIENT_SECRET));

async fn code(sb: &Sandbox) -> String {
    let redirect = approve(&authorize_url(sb, &[], ""), &Login::demo())
        .await
        .unwrap();
    query_param(&redirect, "code").unwrap()
}

fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

#[tokio::test]
async fn full_flow_with_nonce_pkce_and_iss() {
    let sb = sandbox().await;
    let redirect = approve(&authorize_url(&sb, &[], ""), &Login::demo())
        .await
        .unwrap();
    assert_eq!(
        query_param(&redirect, "iss").unwrap(),
        sb.twinfield_issuer()
    );
    assert_eq!(
        sb.twinfield_issuer(),
        format!("{}/auth/authentication", sb.base_url())
    );
    assert_eq!(query_param(&redirect, "state").unwrap(), "tw-state");
    let code = query_param(&redirect, "code").unwrap();

    let (status, tokens) = token(&sb, DEMO, &exchange_form(&code, VERIFIER)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["expires_in"], 3600, "Twinfield sends a number");
    assert_eq!(tokens["token_type"], "Bearer");
    let id_token = str_of(&tokens, "id_token");
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["aud"], App::DEMO_CLIENT_ID);
    assert_eq!(claims["iss"], sb.twinfield_issuer());

    // Refresh tokens are reusable and come back unchanged.
    let refresh_token = str_of(&tokens, "refresh_token");
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    for _ in 0..2 {
        let (status, again) = token(&sb, DEMO, &refresh_form).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again["refresh_token"], refresh_token);
        assert_ne!(again["access_token"], tokens["access_token"]);
    }

    let validate = |token: String| {
        let url = url_with(
            &sb.base_url(),
            "/auth/authentication/connect/accesstokenvalidation",
            &[("token", &token)],
        );
        async move { status_json(client().get(url).send().await.unwrap()).await }
    };
    let access = str_of(&tokens, "access_token").to_owned();
    let (status, info) = validate(access.clone()).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["twf.clusterUrl"], sb.base_url());
    assert_eq!(info["client_id"], App::DEMO_CLIENT_ID);
    sb.clock().advance(Duration::from_secs(3600));
    let (status, body) = validate(access).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");
    // Exact's API does not take Twinfield tokens.
    assert_eq!(
        me(&sb, str_of(&tokens, "access_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sb.counters().token_validations, 2);
}

#[tokio::test]
async fn authorize_requires_nonce_openid_and_s256() {
    let sb = sandbox().await;
    let cases = [
        (authorize_url(&sb, &[], "nonce"), "invalid_request"),
        (
            authorize_url(&sb, &[("scope", "twf.user")], "scope"),
            "invalid_scope",
        ),
        (
            authorize_url(
                &sb,
                &[("code_challenge_method", "plain")],
                "code_challenge_method",
            ),
            "invalid_request",
        ),
        (authorize_url(&sb, &[], "code_challenge"), "invalid_request"),
    ];
    for (url, error) in cases {
        let answer = client().get(&url).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND, "{url}");
        let location = location(&answer);
        assert_eq!(query_param(&location, "error").unwrap(), error, "{url}");
        assert_eq!(
            query_param(&location, "iss").unwrap(),
            sb.twinfield_issuer()
        );
    }
    // Without PKCE at all the flow works.
    let plain = approve(
        &authorize_url(&sb, &[], "code_challenge").replace("&code_challenge_method=S256", ""),
        &Login::demo(),
    )
    .await
    .unwrap();
    let code = query_param(&plain, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    assert_eq!(token(&sb, DEMO, &form).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_endpoint_wants_basic_auth_and_the_verifier() {
    let sb = sandbox().await;
    let code = code(&sb).await;

    // Credentials in the body are not HTTP Basic.
    let mut in_body = exchange_form(&code, VERIFIER);
    in_body.push(("client_id", App::DEMO_CLIENT_ID));
    in_body.push(("client_secret", App::DEMO_CLIENT_SECRET));
    let (status, body) = token(&sb, None, &in_body).await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");
    let (status, body) = token(
        &sb,
        Some((App::DEMO_CLIENT_ID, "wrong")),
        &exchange_form(&code, VERIFIER),
    )
    .await;
    assert_oauth_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_client");

    let wrong_verifier = "x".repeat(43);
    let (status, body) = token(&sb, DEMO, &exchange_form(&code, &wrong_verifier)).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    let without = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, body) = token(&sb, DEMO, &without).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    assert_eq!(
        token(&sb, DEMO, &exchange_form(&code, VERIFIER)).await.0,
        StatusCode::OK
    );
    let (status, body) = token(&sb, DEMO, &exchange_form(&code, VERIFIER)).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn twinfield_codes_do_not_work_at_exact() {
    let sb = sandbox().await;
    let code = code(&sb).await;
    let (status, body) = exchange(&sb, &App::demo(), &code).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
}
