//! The token lifecycle against the sandbox over real HTTP: rotation, faults, rate
//! limits, expiry, OEM registration and keep-alive.

mod lifecycle_support;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lifecycle_support::{
    TempSettings, authorize, demo_connection, lifecycle, sandbox, sandbox_with,
};
use preauth_core::error::LifecycleError;
use preauth_core::lifecycle::{
    KeepAliveEvent, KeepAliveOutcome, Proof, RegisterRequest, TokenState,
};
use preauth_core::secret::{AccessToken, RefreshToken};
use preauth_core::store::{Store, StoreError};
use preauth_sandbox::{Fault, Limits, SandboxConfig};

const TEN_MINUTES: Duration = Duration::from_secs(600);

fn stored_refresh_token(store: &TempSettings, name: &str) -> String {
    store
        .load(name)
        .ok()
        .and_then(|c| c.tokens)
        .and_then(|t| t.refresh_token)
        .map(|r| r.secret().to_string())
        .expect("a stored refresh token")
}

fn failure_record(store: &TempSettings, name: &str) -> Option<String> {
    store
        .load(name)
        .expect("the connection")
        .extra
        .into_iter()
        .find(|(k, _)| k == preauth_core::lifecycle::REFRESH_FAILED_KEY)
        .map(|(_, v)| v)
}

async fn exact_connection(
    sb: &preauth_sandbox::Sandbox,
    mem: &Arc<TempSettings>,
    name: &str,
) -> preauth_core::lifecycle::Lifecycle {
    let lc = lifecycle(sb, mem.clone());
    let c = demo_connection(name, "exact-online", sb);
    authorize(&lc, &c).await;
    lc
}

#[tokio::test]
async fn a_chain_of_100_rotations_across_the_virtual_clock() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    let mut previous = stored_refresh_token(&mem, "acme");
    for round in 0..100 {
        let before = lc.ensure_access_token("acme").await.expect("valid token");
        assert_eq!(
            stored_refresh_token(&mem, "acme"),
            previous,
            "round {round}: no early refresh"
        );
        sb.clock().advance(TEN_MINUTES - Duration::from_secs(10));
        let after = lc.ensure_access_token("acme").await.expect("refreshed");
        assert!(
            !after.token.ct_eq(&before.token),
            "round {round}: a new access token"
        );
        let now_stored = stored_refresh_token(&mem, "acme");
        assert_ne!(
            now_stored, previous,
            "round {round}: the refresh token rotated and was saved"
        );
        previous = now_stored;
    }
    let counters = sb.counters();
    assert_eq!(counters.token_calls_refresh_token, 100);
    assert_eq!(counters.spent_refresh_token_reuses, 0);
    assert_eq!(counters.token_errors, 0);
    let status = lc
        .status(&mem.load("acme").expect("stored"), lc.now())
        .expect("status");
    assert_eq!(status.state, TokenState::Valid);
}

/// Longer than the first wait after a lost answer (at most 30 s).
const PAST_FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_secs(31);

#[tokio::test]
async fn a_lost_answer_is_reported_and_the_spent_token_not_sent_again() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    let sent = stored_refresh_token(&mem, "acme");
    sb.clock().advance(TEN_MINUTES);
    sb.inject(Fault::DropAfterRotate);
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("answer lost");
    assert!(
        matches!(err, LifecycleError::RefreshOutcomeUnknown { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("the answer to the refresh of 'acme' was lost"),
        "{text}"
    );
    assert!(text.contains("may be spent"), "{text}");
    assert!(!text.contains(&sent), "no secret in the message");
    let counters = sb.counters();
    assert_eq!(
        counters.token_calls_refresh_token, 1,
        "exactly one call: no retry"
    );
    assert_eq!(counters.spent_refresh_token_reuses, 0);
    assert_eq!(
        stored_refresh_token(&mem, "acme"),
        sent,
        "the store keeps what it had"
    );
    // Asked again after the backoff, the platform says the token was spent: a clear,
    // final message.
    sb.clock().advance(PAST_FIRST_BACKOFF);
    let err = lc.ensure_access_token("acme").await.expect_err("spent");
    assert!(
        matches!(err, LifecycleError::RefreshTokenSpent { .. }),
        "{err}"
    );
    assert!(err.needs_new_login());
}

#[tokio::test]
async fn server_errors_and_unreadable_answers_are_told_apart() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    sb.clock().advance(TEN_MINUTES);
    sb.inject(Fault::Http500);
    let err = lc.ensure_access_token("acme").await.expect_err("500");
    assert!(
        matches!(err, LifecycleError::RefreshOutcomeUnknown { .. }),
        "{err}"
    );
    sb.clock().advance(PAST_FIRST_BACKOFF);
    sb.inject(Fault::PlainText400);
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("plain text");
    assert!(
        matches!(err, LifecycleError::Unparseable { status: 400, .. }),
        "{err}"
    );
    // The lost answer is recorded in the connection for monitoring...
    let recorded = failure_record(&mem, "acme").expect("the lost answer is recorded");
    assert!(
        recorded.contains("answer") && recorded.contains("'acme'"),
        "{recorded}"
    );
    // Neither spent anything: the next refresh works with the same token, and clears it.
    lc.ensure_access_token("acme").await.expect("refresh works");
    assert_eq!(failure_record(&mem, "acme"), None);
    sb.clock().advance(TEN_MINUTES);
    let sent = stored_refresh_token(&mem, "acme");
    sb.inject(Fault::InvalidJson);
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("truncated answer");
    assert!(
        matches!(err, LifecycleError::RefreshOutcomeUnknown { .. }),
        "a 200 that cannot be read spent the token: {err}"
    );
    assert!(!err.to_string().contains(&sent));
}

#[tokio::test]
async fn rate_limits_are_reported_with_the_retry_time() {
    let sb = sandbox_with(SandboxConfig {
        limits: Limits {
            token_calls_per_day: 2,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    // The budget is per calendar day (UTC): start the day's calls at 01:00, so that the
    // half hour below never crosses midnight whenever the test runs.
    let since_midnight = sb
        .clock()
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 86_400);
    sb.clock()
        .advance(Duration::from_secs(86_400 - since_midnight + 3_600));
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    let mut limited = None;
    for _ in 0..3 {
        sb.clock().advance(TEN_MINUTES);
        if let Err(e) = lc.ensure_access_token("acme").await {
            limited = Some(e);
            break;
        }
    }
    let Some(LifecycleError::RateLimited {
        retry_at: Some(at), ..
    }) = &limited
    else {
        panic!("expected a rate limit with a time, got {limited:?}");
    };
    let now = lc.now();
    assert!(
        *at > now && *at <= now + Duration::from_secs(86_400),
        "the budget resets within a day"
    );
    let text = limited.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        text.starts_with(
            "the platform is rate-limiting 'acme' (the platform said: \"Rate limit exceeded"
        ) && text.contains("\"); try again after 2"),
        "{text}"
    );
}

#[tokio::test]
async fn an_expired_refresh_token_names_its_date() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    let issued = mem
        .load("acme")
        .ok()
        .and_then(|c| c.tokens)
        .and_then(|t| t.refresh_token_issued_at)
        .expect("issued");
    sb.clock().advance(Duration::from_secs(31 * 86_400));
    let err = lc.ensure_access_token("acme").await.expect_err("expired");
    let LifecycleError::RefreshTokenExpired {
        expired_at: Some(at),
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*at, issued + Duration::from_secs(30 * 86_400));
    assert_eq!(
        sb.counters().token_calls_refresh_token,
        0,
        "known expired: not sent"
    );
    // When our record is off, the platform's own message gives the date.
    let mut c = mem.load("acme").expect("stored");
    if let Some(t) = c.tokens.as_mut() {
        t.refresh_token_issued_at = Some(lc.now());
    }
    mem.lock("acme")
        .and_then(|mut l| l.save(&c))
        .expect("saved");
    let err = lc
        .ensure_access_token("acme")
        .await
        .expect_err("expired at the platform");
    let LifecycleError::RefreshTokenExpired {
        expired_at: Some(from_message),
        ..
    } = &err
    else {
        panic!("{err}")
    };
    let diff = from_message
        .duration_since(*at)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    assert!(
        diff <= Duration::from_secs(1),
        "date read from Exact's message: {err}"
    );
    assert_eq!(
        err.advice(),
        [preauth_core::advice::Advice::LogInAgain {
            connection: "acme".into()
        }]
    );
}

#[tokio::test]
async fn a_forced_early_refresh_on_exact_is_not_sent() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = exact_connection(&sb, &mem, "acme").await;
    let before = sb.counters().token_calls_refresh_token;
    let err = lc.refresh("acme", true).await.expect_err("too early");
    assert!(matches!(err, LifecycleError::RefreshNotYet { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot be refreshed before"),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(
        sb.counters().token_calls_refresh_token,
        before,
        "nothing sent"
    );
}

async fn obtained_elsewhere(
    sb: &preauth_sandbox::Sandbox,
) -> (AccessToken, RefreshToken, SystemTime) {
    let other = Arc::new(TempSettings::default());
    let lc = exact_connection(sb, &other, "oem-side").await;
    let tokens = other
        .load("oem-side")
        .ok()
        .and_then(|c| c.tokens)
        .expect("tokens");
    (
        tokens.access_token,
        tokens.refresh_token.expect("refresh"),
        lc.now(),
    )
}

#[tokio::test]
async fn oem_registration_validates_age_and_proves_the_tokens() {
    let sb = sandbox().await;
    let mem = Arc::new(TempSettings::default());
    let lc = lifecycle(&sb, mem.clone());
    let c = demo_connection("oem", "exact-online", &sb);
    let (access, refresh, at) = obtained_elsewhere(&sb).await;

    let old = RegisterRequest {
        connection: c.clone(),
        access_token: access.clone(),
        refresh_token: refresh.clone(),
        obtained_at: Some(at - Duration::from_secs(31 * 86_400)),
        verify: false,
    };
    let err = lc.register(old).await.expect_err("too old");
    assert!(err.to_string().contains("expired on"), "{err}");
    assert!(
        matches!(mem.load("oem"), Err(StoreError::NotFound { .. })),
        "nothing stored"
    );

    let fresh = RegisterRequest {
        obtained_at: Some(at),
        verify: true,
        ..RegisterRequest {
            connection: c.clone(),
            access_token: access.clone(),
            refresh_token: refresh.clone(),
            obtained_at: None,
            verify: true,
        }
    };
    let reg = lc.register(fresh).await.expect("registered");
    assert!(
        matches!(reg.proof, Some(Proof::Me(ref me)) if me.current_division.is_some()),
        "{:?}",
        reg.proof
    );
    assert_eq!(
        reg.refresh_token_expires_at,
        Some(at + Duration::from_secs(30 * 86_400))
    );
    assert_eq!(sb.counters().me_calls, 1);

    // Handed over later: the access token is stale, so the proof is a refresh (saved).
    let (access, refresh, at) = obtained_elsewhere(&sb).await;
    sb.clock().advance(TEN_MINUTES);
    let mut c2 = c.clone();
    c2.name = "oem-late".into();
    let reg = lc
        .register(RegisterRequest {
            connection: c2,
            access_token: access,
            refresh_token: refresh.clone(),
            obtained_at: Some(at),
            verify: true,
        })
        .await
        .expect("registered by refresh");
    assert!(matches!(reg.proof, Some(Proof::Refreshed)));
    assert_ne!(
        stored_refresh_token(&mem, "oem-late"),
        refresh.secret(),
        "the rotated token was saved"
    );

    let bad = RegisterRequest {
        connection: {
            let mut c3 = c.clone();
            c3.name = "bad".into();
            c3
        },
        access_token: AccessToken::new("has space"),
        refresh_token: RefreshToken::new("r"),
        obtained_at: None,
        verify: false,
    };
    let err = lc.register(bad).await.expect_err("bad shape");
    assert!(err.to_string().contains("spaces"), "{err}");
}

/// A lifecycle over a folder of its own with connections c0 … c4 of `sb`, logged in two
/// days ago (by the sandbox's clock).
async fn five_two_days_old(sb: &preauth_sandbox::Sandbox) -> preauth_core::lifecycle::Lifecycle {
    let lc = lifecycle(sb, Arc::new(TempSettings::default()));
    for i in 0..5 {
        let c = demo_connection(&format!("c{i}"), "exact-online", sb);
        authorize(&lc, &c).await;
    }
    sb.clock().advance(Duration::from_secs(2 * 86_400));
    lc
}

#[tokio::test]
async fn keep_alive_refreshes_old_connections_and_leaves_young_ones() {
    let sb = sandbox().await;
    let lc = five_two_days_old(&sb).await;
    let events = RefCell::new((0usize, 0usize));
    let progress = |e: KeepAliveEvent<'_>| {
        let mut ev = events.borrow_mut();
        match e {
            KeepAliveEvent::Started { .. } => ev.0 += 1,
            KeepAliveEvent::Finished { .. } => ev.1 += 1,
            KeepAliveEvent::Waiting { .. } => {}
        }
    };
    let report = lc
        .refresh_all(Duration::from_secs(86_400), 3, &progress)
        .await
        .expect("runs");
    assert_eq!(report.refreshed(), 5, "{:?}", report.outcomes);
    assert_eq!(*events.borrow(), (5, 5));
    let again = lc
        .refresh_all(Duration::from_secs(86_400), 3, &|_| {})
        .await
        .expect("runs");
    assert!(
        again
            .outcomes
            .iter()
            .all(|(_, o)| matches!(o, KeepAliveOutcome::Young { .. }))
    );
    assert_eq!(sb.counters().token_calls_refresh_token, 5);
}

#[tokio::test]
async fn a_keep_alive_told_to_stop_finishes_the_refreshes_under_way_and_starts_none() {
    let sb = sandbox().await;
    let lc = five_two_days_old(&sb).await;
    let before = sb.counters().token_calls_refresh_token;
    // Two at a time; the first one finished stops the pass (a server shutting down).
    let stop = std::sync::atomic::AtomicBool::new(false);
    let progress = |e: KeepAliveEvent<'_>| {
        if let KeepAliveEvent::Finished { .. } = e {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let report = lc
        .refresh_all_until(Duration::from_secs(86_400), 2, &progress, &stop)
        .await
        .expect("runs");
    assert_eq!(
        report.refreshed(),
        2,
        "the two under way: {:?}",
        report.outcomes
    );
    assert_eq!(report.outcomes.len(), 2, "none started after the stop");
    assert_eq!(sb.counters().token_calls_refresh_token, before + 2);
    let rest = lc
        .refresh_all(Duration::from_secs(86_400), 2, &|_| {})
        .await
        .expect("runs");
    assert_eq!(
        rest.refreshed(),
        3,
        "the next pass goes on: {:?}",
        rest.outcomes
    );
}
