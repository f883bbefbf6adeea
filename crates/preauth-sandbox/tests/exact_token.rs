//! Exact's token endpoint, expiries on the virtual clock, limits and `Me`.

mod common;

use std::time::Duration;

use common::*;
use preauth_sandbox::{App, Limits};
use reqwest::StatusCode;

#[tokio::test]
async fn codes_work_once_and_only_with_their_redirect_uri() {
    let sb = sandbox().await;
    let app = App::demo();
    let code = exact_code(&sb, &app).await;
    let mut wrong_redirect = exact_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("code", &code),
            ("redirect_uri", "https://example.invalid/callback"),
        ],
    )
    .await;
    assert_oauth_error(
        wrong_redirect.0,
        &wrong_redirect.1,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert!(str_of(&wrong_redirect.1, "error_description").contains("redirect_uri"));

    let (status, _) = exchange(&sb, &app, &code).await;
    assert_eq!(status, StatusCode::OK);
    wrong_redirect = exchange(&sb, &app, &code).await;
    assert_oauth_error(
        wrong_redirect.0,
        &wrong_redirect.1,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert!(str_of(&wrong_redirect.1, "error_description").contains("already been used"));

    // A code sent still percent-encoded (decoded zero times) is not the code.
    let other = exact_code(&sb, &app).await;
    let encoded = other.replace('!', "%21");
    let (status, body) = exchange(&sb, &app, &encoded).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(sb.counters().token_calls_authorization_code, 4);
}

#[tokio::test]
async fn codes_expire_after_three_minutes() {
    let sb = sandbox().await;
    let app = App::demo();
    let fresh = exact_code(&sb, &app).await;
    let stale = exact_code(&sb, &app).await;
    sb.clock().advance(Duration::from_secs(179));
    assert_eq!(exchange(&sb, &app, &fresh).await.0, StatusCode::OK);
    sb.clock().advance(Duration::from_secs(1));
    let (status, body) = exchange(&sb, &app, &stale).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(str_of(&body, "error_description").contains("expired"));
}

#[tokio::test]
async fn client_authentication_and_request_errors() {
    let sb = sandbox().await;
    let app = App::demo();
    let code = exact_code(&sb, &app).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];

    let with = |id: &'static str, secret: &'static str| {
        let mut form = base.to_vec();
        form.push(("client_id", id));
        form.push(("client_secret", secret));
        form
    };
    let (status, body) = exact_token(&sb, &with(App::DEMO_CLIENT_ID, "wrong")).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_client");
    let (status, body) = exact_token(&sb, &with("{unknown}", "x")).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_client");
    let (status, body) = exact_token(&sb, &base).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");

    let mut unsupported = with(App::DEMO_CLIENT_ID, App::DEMO_CLIENT_SECRET);
    unsupported[0] = ("grant_type", "password");
    let (status, body) = exact_token(&sb, &unsupported).await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    );

    // Credentials as JSON instead of a form body.
    let json = client()
        .post(format!("{}/api/oauth2/token", sb.base_url()))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(json).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");

    // None of the failures spent the code.
    assert_eq!(exchange(&sb, &app, &code).await.0, StatusCode::OK);
    assert_eq!(sb.counters().token_errors, 5);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let sb = sandbox().await;
    let app = quick_app();
    let first = exact_tokens(&sb, &app).await;
    let old = str_of(&first, "refresh_token");
    let (status, second) = refresh(&sb, &app, old).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["expires_in"], "30");
    assert_ne!(str_of(&second, "refresh_token"), old);
    assert_ne!(
        str_of(&second, "access_token"),
        str_of(&first, "access_token")
    );

    let (status, body) = refresh(&sb, &app, old).await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized_client",
    );
    assert_eq!(body["error_description"], "Old refresh token used.");
    let (status, body) = refresh(&sb, &app, "never-issued").await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");
    // A refresh token of another app is not this app's.
    let (status, body) = refresh(&sb, &App::demo(), str_of(&second, "refresh_token")).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_grant");

    assert_eq!(
        refresh(&sb, &app, str_of(&second, "refresh_token")).await.0,
        StatusCode::OK
    );
    let counters = sb.counters();
    assert_eq!(counters.token_calls_refresh_token, 5);
    assert_eq!(counters.spent_refresh_token_reuses, 1);
}

#[tokio::test]
async fn refresh_is_refused_until_the_last_30_seconds_of_the_access_token() {
    let sb = sandbox().await;
    let app = App::demo();
    let tokens = exact_tokens(&sb, &app).await;
    let refresh_token = str_of(&tokens, "refresh_token");
    sb.clock().advance(Duration::from_secs(569));
    let (status, body) = refresh(&sb, &app, refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error_description"], "Access token not expired");
    sb.clock().advance(Duration::from_secs(1));
    let (status, body) = refresh(&sb, &app, refresh_token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refusal did not spend the token: {body}"
    );
}

#[tokio::test]
async fn access_tokens_expire_after_600_seconds() {
    let sb = sandbox().await;
    let tokens = exact_tokens(&sb, &App::demo()).await;
    let access = str_of(&tokens, "access_token");
    sb.clock().advance(Duration::from_secs(599));
    assert_eq!(me(&sb, access).await.status(), StatusCode::OK);
    sb.clock().advance(Duration::from_secs(1));
    let expired = me(&sb, access).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(me(&sb, "unknown").await.status(), StatusCode::UNAUTHORIZED);
    let bare = client()
        .get(format!("{}/api/v1/current/Me", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_expire_after_30_days_unused() {
    let sb = sandbox().await;
    let app = quick_app();
    let tokens = exact_tokens(&sb, &app).await;
    let (status, fresh) = refresh(&sb, &app, str_of(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    sb.clock().advance(days(30) - Duration::from_secs(1));
    let (status, fresher) = refresh(&sb, &app, str_of(&fresh, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{fresher}");
    sb.clock().advance(days(30));
    let (status, body) = refresh(&sb, &app, str_of(&fresher, "refresh_token")).await;
    assert_oauth_error(status, &body, StatusCode::BAD_REQUEST, "invalid_request");
    let description = str_of(&body, "error_description");
    assert!(
        description.starts_with("The refresh token expired at "),
        "{description}"
    );
    assert!(description.contains(" and it is now "), "{description}");
}

#[tokio::test]
async fn daily_token_budget_resets_the_next_day() {
    let sb = sandbox_with(Limits {
        token_calls_per_day: 3,
        ..Limits::default()
    })
    .await;
    let app = quick_app();
    let tokens = exact_tokens(&sb, &app).await;
    let mut refresh_token = str_of(&tokens, "refresh_token").to_owned();
    // Start where every limit window starts, so none rolls over mid-test.
    to_next_utc_midnight(&sb);
    for _ in 0..3 {
        let (status, body) = refresh(&sb, &app, &refresh_token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        refresh_token = str_of(&body, "refresh_token").to_owned();
    }
    let (status, body) = refresh(&sb, &app, &refresh_token).await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "access_denied",
    );
    assert!(str_of(&body, "error_description").contains("3 token requests per day"));
    sb.clock().advance(days(1));
    assert_eq!(refresh(&sb, &app, &refresh_token).await.0, StatusCode::OK);
    assert_eq!(sb.counters().rate_limited, 1);
}

#[tokio::test]
async fn errors_block_the_app_for_an_hour() {
    let sb = sandbox_with(Limits {
        errors_per_hour_before_block: 3,
        ..Limits::default()
    })
    .await;
    let app = quick_app();
    let tokens = exact_tokens(&sb, &app).await;
    let refresh_token = str_of(&tokens, "refresh_token");
    for _ in 0..3 {
        assert_eq!(
            refresh(&sb, &app, "garbage").await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let (status, body) = refresh(&sb, &app, refresh_token).await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "access_denied",
    );
    assert!(str_of(&body, "error_description").contains("blocked"));
    // Other apps are not blocked.
    let other = exact_code(&sb, &App::demo()).await;
    assert_eq!(exchange(&sb, &App::demo(), &other).await.0, StatusCode::OK);
    sb.clock().advance(Duration::from_secs(3599));
    assert_eq!(
        refresh(&sb, &app, refresh_token).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    sb.clock().advance(Duration::from_secs(1));
    let (status, body) = refresh(&sb, &app, refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn me_reports_and_enforces_rate_limits() {
    let sb = sandbox_with(Limits {
        api_calls_per_minute: 2,
        api_calls_per_day: 3,
        ..Limits::default()
    })
    .await;
    // Start where every limit window starts, so none rolls over mid-test.
    to_next_utc_midnight(&sb);
    let tokens = exact_tokens(&sb, &App::demo()).await;
    let access = str_of(&tokens, "access_token");
    let header = |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().to_owned();

    let first = me(&sb, access).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "x-ratelimit-limit"), "3");
    assert_eq!(header(&first, "x-ratelimit-remaining"), "2");
    assert_eq!(header(&first, "x-ratelimit-minutely-limit"), "2");
    assert_eq!(header(&first, "x-ratelimit-minutely-remaining"), "1");
    let reset: u64 = header(&first, "x-ratelimit-minutely-reset")
        .parse()
        .unwrap();
    assert_eq!(
        reset % 60_000,
        0,
        "resets on a minute boundary, in epoch milliseconds"
    );

    assert_eq!(me(&sb, access).await.status(), StatusCode::OK);
    let limited = me(&sb, access).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&limited, "x-ratelimit-minutely-remaining"), "0");
    sb.clock().advance(Duration::from_secs(60));
    assert_eq!(me(&sb, access).await.status(), StatusCode::OK);
    // The daily budget (3) is now spent.
    sb.clock().advance(Duration::from_secs(60));
    let daily = me(&sb, access).await;
    assert_eq!(daily.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&daily, "x-ratelimit-remaining"), "0");
}
