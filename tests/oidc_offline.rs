//! A user-defined OpenID Connect platform against the sandbox's OpenID Connect side:
//! `offline_access` is asked for with `prompt=consent` (OpenID Connect Core §11), and a
//! login that yields no refresh token is an error at once and CRITICAL in monitoring,
//! never a healthy connection that dies ten minutes later.

mod common;

use common::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Outcome, SandboxProcess, Workspace, authorization_url,
    loopback_redirect,
};

/// `create platform 'idp'` on the sandbox's OpenID Connect endpoints with `scope`.
fn create_platform(ws: &Workspace, sandbox: &SandboxProcess, scope: &str) {
    let base = format!("{}/auth/authentication", sandbox.url);
    ws.run_c(&format!(
        "create platform 'idp' authorize url '{base}/connect/authorize' \
         token url '{base}/connect/token' client authentication basic \
         scope '{scope}' pkce on issuer '{base}';"
    ))
    .exits(0);
}

/// Logs in on 'idp' as connection `name` with the scripted browser.
fn login(ws: &Workspace, name: &str) -> Outcome {
    Outcome::of(ws.preauth().env("BROWSER", SandboxProcess::browser()).args([
        "-c",
        &format!(
            "preauthenticate idp client id '{DEMO_CLIENT_ID}' client secret '{DEMO_CLIENT_SECRET}' \
             redirect url '{}' as connection '{name}';",
            loopback_redirect()
        ),
    ]))
}

#[test]
fn a_login_without_a_refresh_token_fails_and_monitoring_says_critical() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    create_platform(&ws, &sandbox, "openid");
    let outcome = login(&ws, "short");
    outcome.exits(1).warns(&[
        "issued no refresh token for 'short'",
        "stops working at",
        "offline_access",
        "preauthenticate connection 'short'",
    ]);
    assert!(
        !authorization_url(&outcome.stderr).contains("prompt="),
        "no offline access asked, so no consent forced"
    );
    // Stored all the same (the access token works for now), and never called healthy.
    ws.run(&["token", "short"]).exits(0);
    let check = ws.run(&["check"]);
    check
        .exits(2)
        .says(&["CRITICAL", "short", "no refresh token: stops working at"]);
    ws.run_c("show connections")
        .exits(0)
        .says(&["valid, no refresh token"]);
}

#[test]
fn offline_access_is_asked_for_with_consent_and_renews() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    create_platform(&ws, &sandbox, "openid offline_access");
    let outcome = login(&ws, "long");
    outcome.exits(0);
    assert!(
        authorization_url(&outcome.stderr).contains("prompt=consent"),
        "{outcome:#?}"
    );
    ws.run(&["check"]).exits(0).says(&["OK"]);
    ws.run_c("refresh connection 'long' force")
        .exits(0)
        .says(&["refreshed"]);
}

#[test]
fn a_platform_from_discovery_keeps_its_extra_parameters_and_logs_in() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let issuer = format!("{}/auth/authentication", sandbox.url);
    ws.run_c(&format!(
        "create platform 'idp' from issuer '{issuer}' audience 'https://api.example.invalid' \
         parameter 'acr_values' 'mfa';"
    ))
    .exits(0)
    .says(&["platform 'idp' created", "show platform 'idp'"]);
    // What discovery found, read back by a new process from platforms.xml.
    ws.run_c("show platform 'idp'").exits(0).says(&[
        &format!("{issuer}/connect/authorize"),
        &format!("{issuer}/connect/token"),
        "basic",
        "openid offline_access",
        "audience=https://api.example.invalid acr_values=mfa prompt=consent",
        "platforms.xml",
    ]);
    let outcome = login(&ws, "long");
    outcome.exits(0);
    let url = authorization_url(&outcome.stderr);
    for sent in [
        "audience=https%3A%2F%2Fapi.example.invalid",
        "acr_values=mfa",
        "prompt=consent",
    ] {
        assert!(url.contains(sent), "{sent} missing from {url}");
    }
    ws.run(&["check"]).exits(0).says(&["OK"]);
}

#[test]
fn a_platform_whose_metadata_cannot_be_read_is_not_created() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    ws.run_c(&format!(
        "create platform 'idp' from issuer '{}/no/such/realm';",
        sandbox.url
    ))
    .exits(1)
    .warns(&[
        "/no/such/realm/.well-known/openid-configuration",
        "HTTP 404",
        "check the issuer URL",
    ]);
    assert!(!ws.settings().join("platforms.xml").exists());
    // A parameter preauth sets itself is refused before anything is read or written.
    ws.run_c(&format!(
        "create platform 'idp' from issuer '{}/auth/authentication' parameter 'redirect_uri' 'https://example.invalid/';",
        sandbox.url
    ))
    .exits(1)
    .warns(&["'redirect_uri' is set by preauth itself"]);
    assert!(!ws.settings().join("platforms.xml").exists());
}

#[test]
fn a_platform_marked_as_issuing_no_refresh_tokens_logs_in_without_an_error() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    ws.run_c(&format!(
        "create platform 'idp' from issuer '{}/auth/authentication' scope 'openid' refresh tokens off;",
        sandbox.url
    ))
    .exits(0);
    ws.run_c("show platform 'idp'")
        .exits(0)
        .says(&["none issued"]);
    login(&ws, "short")
        .exits(0)
        .says(&["no refresh token was issued, so it stops working then"]);
    // Still never called healthy: it dies with its access token.
    ws.run(&["check"])
        .exits(2)
        .says(&["no refresh token: stops working at"]);
}

#[test]
fn a_refusal_keeps_the_providers_own_words() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    // The provider wants HTTP Basic; the platform is told body.
    ws.run_c(&format!(
        "create platform 'idp' from issuer '{}/auth/authentication' client authentication body;",
        sandbox.url
    ))
    .exits(0);
    login(&ws, "wrong-method")
        .exits(1)
        .warns(&[
            "did not accept the client authentication of 'wrong-method'",
            "(the platform said: \"Client authentication failed: this server authenticates clients with HTTP Basic (client_secret_basic)",
            "basic or body",
        ])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
}
