//! The authorization-code flow against the sandbox over real HTTP: paste and loopback,
//! Exact and Twinfield, and every way a return URL can be wrong.

mod lifecycle_support;

use std::sync::Arc;
use std::time::Duration;

use lifecycle_support::{
    TempSettings, approved, authorize, connection, demo_connection, lifecycle, sandbox,
};
use preauth_core::error::LifecycleError;
use preauth_core::flow::FlowError;
use preauth_core::lifecycle::CLUSTER_URL_KEY;
use preauth_core::loopback::LoopbackListener;
use preauth_core::store::Store;
use preauth_sandbox::{App, Login, approve};

fn store() -> Arc<TempSettings> {
    Arc::new(TempSettings::default())
}

/// Replaces one query parameter of a URL.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("redirect URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

#[tokio::test]
async fn exact_paste_flow_stores_tokens_before_returning() {
    let sb = sandbox().await;
    let mem = store();
    let lc = lifecycle(&sb, mem.clone());
    let c = demo_connection("acme", "exact-online", &sb);
    let done = authorize(&lc, &c).await;
    let stored = mem.load("acme").expect("stored");
    let (t, s) = (
        done.tokens.expect("tokens"),
        stored.tokens.expect("stored tokens"),
    );
    assert!(t.access_token.ct_eq(&s.access_token));
    assert!(s.refresh_token.is_some());
    let lifetime = s
        .access_token_expires_at
        .duration_since(s.access_token_issued_at)
        .ok();
    assert_eq!(
        lifetime,
        Some(Duration::from_secs(600)),
        "expires_in came as the string \"600\""
    );
    let grant = lc.ensure_access_token("acme").await.expect("token");
    assert!(
        grant.token.ct_eq(&s.access_token),
        "a fresh token is not refreshed"
    );
    let counters = sb.counters();
    assert_eq!(counters.token_calls_authorization_code, 1);
    assert_eq!(counters.token_calls_refresh_token, 0);
}

#[tokio::test]
async fn twinfield_paste_flow_checks_iss_and_keeps_the_cluster_url() {
    let sb = sandbox().await;
    let mem = store();
    let lc = lifecycle(&sb, mem.clone());
    let c = demo_connection("tw", "twinfield", &sb);
    let done = authorize(&lc, &c).await;
    assert!(done.tokens.is_some());
    let stored = mem.load("tw").expect("stored");
    let cluster = stored
        .extra
        .iter()
        .find(|(k, _)| k == CLUSTER_URL_KEY)
        .map(|(_, v)| v.clone());
    assert_eq!(cluster, Some(sb.base_url()));
    assert_eq!(sb.counters().token_validations, 1);
    let grant = lc
        .refresh("tw", true)
        .await
        .expect("twinfield refreshes any time");
    let refreshed = grant.connection.tokens.expect("tokens");
    let before = stored.tokens.expect("tokens");
    assert!(!refreshed.access_token.ct_eq(&before.access_token));
}

#[tokio::test]
async fn iss_from_another_issuer_is_refused_as_mix_up() {
    let sb = sandbox().await;
    let lc = lifecycle(&sb, store());
    let c = demo_connection("tw", "twinfield", &sb);
    let (_, redirect) = approved(&lc, &c).await;
    assert!(
        redirect.contains("iss="),
        "the sandbox sends RFC 9207 iss for Twinfield"
    );
    let forged = with_param(&redirect, "iss", "https://evil.example/auth/authentication");
    let err = lc.finish_authorization(&forged).await.expect_err("mix-up");
    assert!(
        matches!(err, LifecycleError::Flow(FlowError::IssuerMismatch { .. })),
        "{err}"
    );
    assert_eq!(
        sb.counters().token_calls_authorization_code,
        0,
        "no code was sent"
    );
}

#[tokio::test]
async fn wrong_state_is_refused_and_the_right_one_still_works() {
    let sb = sandbox().await;
    let lc = lifecycle(&sb, store());
    let c = demo_connection("acme", "exact-online", &sb);
    let (_, redirect) = approved(&lc, &c).await;
    let wrong = with_param(&redirect, "state", "not-the-state");
    let err = lc
        .finish_authorization(&wrong)
        .await
        .expect_err("unknown state");
    assert!(
        matches!(err, LifecycleError::Flow(FlowError::UnknownState)),
        "{err}"
    );
    assert!(err.to_string().contains("start the authorization again"));
    // Only the query, without '?', pasted: accepted.
    let query = redirect
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .expect("query");
    lc.finish_authorization(&query)
        .await
        .expect("the right state works");
    let again = lc
        .finish_authorization(&redirect)
        .await
        .expect_err("state used once");
    assert!(matches!(
        again,
        LifecycleError::Flow(FlowError::UnknownState)
    ));
}

#[tokio::test]
async fn reused_and_expired_codes_are_refused_by_the_platform() {
    let sb = sandbox().await;
    let lc = lifecycle(&sb, store());
    let c = demo_connection("acme", "exact-online", &sb);
    let (_, redirect) = approved(&lc, &c).await;
    let second = lc.start_authorization(&c).expect("starts");
    lc.finish_authorization(&redirect)
        .await
        .expect("first use works");
    // The same code under the other pending authorization's state: the platform refuses.
    let reused = with_param(&redirect, "state", second.pending.state.secret());
    let err = lc
        .finish_authorization(&reused)
        .await
        .expect_err("code used");
    assert!(matches!(err, LifecycleError::CodeRejected { .. }), "{err}");

    let (_, redirect) = approved(&lc, &c).await;
    sb.clock().advance(Duration::from_secs(5 * 60));
    let err = lc
        .finish_authorization(&redirect)
        .await
        .expect_err("code expired");
    assert!(matches!(err, LifecycleError::CodeRejected { .. }), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
}

#[tokio::test]
async fn platform_errors_on_the_return_url_are_reported() {
    let sb = sandbox().await;
    let lc = lifecycle(&sb, store());
    let c = demo_connection("acme", "exact-online", &sb);
    let started = lc.start_authorization(&c).expect("starts");
    let url = format!(
        "{}?error=access_denied&error_description=The+user+declined&state={}",
        App::DEMO_WEB_REDIRECT_URI,
        started.pending.state.secret()
    );
    let err = lc.finish_authorization(&url).await.expect_err("denied");
    assert_eq!(
        err.to_string(),
        "the platform refused the authorization: access_denied (The user declined); start the authorization again"
    );
}

#[tokio::test]
async fn wrong_client_secret_is_reported_as_such() {
    let sb = sandbox().await;
    let lc = lifecycle(&sb, store());
    let mut c = demo_connection("acme", "exact-online", &sb);
    c.client_secret = Some(preauth_core::secret::ClientSecret::new("wrong"));
    let (_, redirect) = approved(&lc, &c).await;
    let err = lc
        .finish_authorization(&redirect)
        .await
        .expect_err("bad secret");
    assert!(matches!(err, LifecycleError::InvalidClient { .. }), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "no secret in messages: {err}"
    );
}

/// A free loopback port (bound and released; the listener binds it again).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn loopback_flow(platform: &str) {
    let sb = sandbox().await;
    let mem = store();
    let lc = lifecycle(&sb, mem.clone());
    let redirect_url = format!("http://127.0.0.1:{}/callback", free_port());
    let c = connection("acme", platform, &sb, &App::demo(), &redirect_url);
    let listener = LoopbackListener::bind(&redirect_url).await.expect("binds");
    let started = lc.start_authorization(&c).expect("starts");
    let state = started.pending.state.clone();
    let waiting = tokio::spawn(async move { listener.wait(&state, Duration::from_secs(20)).await });
    let redirect = approve(started.url.as_str(), &Login::demo())
        .await
        .expect("login");
    let browser = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let base = redirect_url;
    let other_path = browser
        .get(base.replace("/callback", "/favicon.ico"))
        .send()
        .await
        .expect("answer");
    assert_eq!(other_path.status().as_u16(), 404);
    let forged = with_param(&redirect, "state", "someone-else");
    let forged = browser.get(forged).send().await.expect("answer");
    assert_eq!(
        forged.status().as_u16(),
        400,
        "a foreign state is answered and ignored"
    );
    let real = browser.get(redirect).send().await.expect("answer");
    assert_eq!(real.status().as_u16(), 200);
    assert!(
        real.text()
            .await
            .unwrap_or_default()
            .contains("You can close this tab")
    );
    let query = waiting.await.expect("task").expect("one valid callback");
    let done = lc.finish_authorization(&query).await.expect("exchanged");
    assert!(done.tokens.is_some() && mem.load("acme").is_ok());
    let gone = browser.get(base).send().await;
    assert!(gone.is_err(), "the listener stopped after the callback");
}

#[tokio::test]
async fn exact_loopback_flow_takes_one_valid_callback() {
    loopback_flow("exact-online").await;
}

#[tokio::test]
async fn twinfield_loopback_flow_takes_one_valid_callback() {
    loopback_flow("twinfield").await;
}

#[tokio::test]
async fn loopback_gives_up_after_its_timeout() {
    let redirect_url = format!("http://127.0.0.1:{}/cb", free_port());
    let listener = LoopbackListener::bind(&redirect_url).await.expect("binds");
    let state = preauth_core::secret::StateToken::new("s");
    let err = listener
        .wait(&state, Duration::from_millis(200))
        .await
        .expect_err("timeout");
    assert!(err.to_string().contains("no browser came back"), "{err}");
}
