//! Injected faults and the admin endpoints, over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use preauth_sandbox::{Counters, Fault};
use reqwest::StatusCode;

#[tokio::test]
async fn drop_after_rotate_spends_the_token_and_answers_nothing() {
    let sb = sandbox().await;
    let app = quick_app();
    let old = &quick_refresh_token(&sb).await;
    sb.inject(Fault::DropAfterRotate);
    let lost = refresh_raw(&sb, &app, old).await;
    assert!(
        lost.is_err(),
        "the connection closes without an answer: {lost:?}"
    );
    // The server did rotate: the token the client still holds is spent.
    let (status, body) = refresh(&sb, &app, old).await;
    assert_oauth_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthorized_client",
    );
    let counters = sb.counters();
    assert_eq!(counters.faults_applied, 1);
    assert_eq!(counters.spent_refresh_token_reuses, 1);
}

#[tokio::test]
async fn server_error_and_plain_text_do_not_spend_the_token() {
    let sb = sandbox().await;
    let app = quick_app();
    let token = &quick_refresh_token(&sb).await;

    sb.inject(Fault::Http500);
    sb.inject(Fault::PlainText400);
    assert_eq!(
        refresh(&sb, &app, token).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let plain = exact_token_raw(&sb, &[("grant_type", "refresh_token")])
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    assert!(content_type(&plain).starts_with("text/plain"));
    assert!(serde_json::from_str::<serde_json::Value>(&plain.text().await.unwrap()).is_err());

    let (status, body) = refresh(&sb, &app, token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn invalid_json_rotates_then_garbles_the_answer() {
    let sb = sandbox().await;
    let app = quick_app();
    let token = &quick_refresh_token(&sb).await;
    sb.inject(Fault::InvalidJson);
    let garbled = refresh_raw(&sb, &app, token).await.unwrap();
    assert_eq!(garbled.status(), StatusCode::OK);
    assert!(serde_json::from_str::<serde_json::Value>(&garbled.text().await.unwrap()).is_err());
    assert_eq!(refresh(&sb, &app, token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn delay_holds_the_answer_then_processes() {
    let sb = sandbox().await;
    let app = quick_app();
    let token = quick_refresh_token(&sb).await;
    sb.inject(Fault::Delay(Duration::from_millis(200)));
    let started = Instant::now();
    let (status, _) = refresh(&sb, &app, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // Faults are one-shot: the queue is empty again.
    let (status, _) = refresh(&sb, &app, "unknown").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(sb.counters().faults_applied, 1);
}

#[tokio::test]
async fn admin_endpoints_drive_clock_counters_and_faults() {
    let sb = sandbox().await;
    let base = sb.base_url();
    let advanced = client()
        .post(format!("{base}/sandbox/clock/advance?seconds=600"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(advanced).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["offset_seconds"], 600);
    assert!(str_of(&body, "now").ends_with('Z'));
    assert_eq!(sb.clock().offset(), Duration::from_secs(600));

    let queued = client()
        .post(format!("{base}/sandbox/faults"))
        .json(&serde_json::json!({"fault": "http500"}))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        exact_token(&sb, &[]).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let unknown = client()
        .post(format!("{base}/sandbox/faults"))
        .json(&serde_json::json!({"fault": "meteor"}))
        .send()
        .await
        .unwrap();
    assert!(unknown.status().is_client_error());
    let not_a_number = client()
        .post(format!("{base}/sandbox/clock/advance?seconds=-1"))
        .send()
        .await
        .unwrap();
    assert!(not_a_number.status().is_client_error());

    let counters: Counters = client()
        .get(format!("{base}/sandbox/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters, sb.counters());
    assert_eq!(counters.faults_applied, 1);
}

#[tokio::test]
async fn drop_after_rotate_also_applies_to_twinfield() {
    let sb = sandbox().await;
    sb.inject(Fault::DropAfterRotate);
    let lost = client()
        .post(format!(
            "{}/auth/authentication/connect/token",
            sb.base_url()
        ))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await;
    assert!(lost.is_err());
}
