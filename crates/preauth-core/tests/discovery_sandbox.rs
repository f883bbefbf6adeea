//! A platform defined from the sandbox's OpenID Connect Discovery document, used for a
//! real login over loopback HTTP: endpoints, client authentication, PKCE and the RFC 9207
//! promise come from the document, and a return URL without `iss` is then refused.

mod lifecycle_support;

use std::sync::Arc;

use lifecycle_support::{SandboxClock, TempSettings, connection, sandbox};
use preauth_core::clock::Clock;
use preauth_core::error::LifecycleError;
use preauth_core::flow::FlowError;
use preauth_core::lifecycle::Lifecycle;
use preauth_core::platform::{ClientAuth, DiscoveryError, Platform, Registry};
use preauth_core::token_client::{TokenClient, TokenClientConfig};
use preauth_sandbox::{App, Login, Sandbox, approve};

fn client(sb: &Sandbox) -> TokenClient {
    let clock: Arc<dyn Clock> = Arc::new(SandboxClock(sb.clock()));
    TokenClient::new(TokenClientConfig::default(), clock).expect("client")
}

/// A lifecycle that knows the discovered platform `idp`.
async fn discovered(sb: &Sandbox) -> (Lifecycle, Platform) {
    let spec = client(sb)
        .discover("idp", &sb.twinfield_issuer())
        .await
        .expect("the sandbox publishes its metadata");
    let platform = Platform::generic(spec).expect("a platform");
    let registry = Registry::builtin();
    registry.add(platform.clone());
    let clock: Arc<dyn Clock> = Arc::new(SandboxClock(sb.clock()));
    let store = Arc::new(TempSettings::with_registry(registry.clone()));
    let lc = Lifecycle::new(store, registry, clock, client(sb));
    (lc, platform)
}

#[tokio::test]
async fn a_discovered_platform_logs_in_and_requires_iss() {
    let sb = sandbox().await;
    let (lc, platform) = discovered(&sb).await;
    assert_eq!(platform.client_auth, ClientAuth::HttpBasic);
    assert!(platform.pkce && platform.nonce && platform.iss_required);
    assert_eq!(platform.scopes, ["openid", "offline_access"]);
    assert_eq!(
        platform.issuer(&sb.base_url()).expect("issuer"),
        Some(sb.twinfield_issuer())
    );

    let demo = App::demo();
    let conn = connection("acme", "idp", &sb, &demo, App::DEMO_WEB_REDIRECT_URI);
    let started = lc.start_authorization(&conn).expect("starts");
    assert!(
        started.url.as_str().contains("prompt=consent"),
        "{}",
        started.url
    );
    let redirect = approve(started.url.as_str(), &Login::demo())
        .await
        .expect("the demo user logs in");
    assert!(redirect.contains("iss="));
    let stored = lc.finish_authorization(&redirect).await.expect("logged in");
    let tokens = stored.tokens.expect("tokens");
    assert!(tokens.refresh_token.is_some(), "offline access granted");

    // The provider promised iss: a return URL without it is refused.
    let started = lc.start_authorization(&conn).expect("starts");
    let redirect = approve(started.url.as_str(), &Login::demo())
        .await
        .expect("the demo user logs in");
    let mut url = url::Url::parse(&redirect).expect("URL");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "iss")
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    match lc.finish_authorization(url.as_str()).await {
        Err(LifecycleError::Flow(FlowError::MissingIssuer { platform })) => {
            assert_eq!(platform, "idp");
        }
        other => panic!("expected MissingIssuer, got {other:?}"),
    }
    assert_eq!(sb.counters().token_calls_authorization_code, 1);
}

#[tokio::test]
async fn metadata_for_another_issuer_or_none_at_all_is_refused() {
    let sb = sandbox().await;
    let asked = format!("{}/auth", sb.base_url());
    match client(&sb).discover("idp", &asked).await {
        Err(DiscoveryError::Unreadable { reason, .. }) => {
            assert!(reason.contains("HTTP 404"), "{reason}")
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    let nothing = format!("http://127.0.0.1:{}/realm", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    });
    assert!(matches!(
        client(&sb).discover("idp", &nothing).await,
        Err(DiscoveryError::Unreadable { .. })
    ));
}
