//! End-to-end tests of the flow statements against `preauth sandbox` over real HTTP on
//! 127.0.0.1: preauthenticate (loopback with a scripted browser, and the pasted return URL
//! through `exchange code url` in a second process), register (OEM), refresh, refresh all,
//! drop, export and import, create platform; and that no secret reaches the settings file
//! or any output unless asked for.

mod common;

use std::time::Duration;

use common::{
    DEMO_CLIENT_SECRET, IssuedTokens, Outcome, SandboxProcess, WEB_REDIRECT, Workspace, approve,
    authorization_url, connection_string_value, demo_app,
};

/// Exact's access-token lifetime: advancing the sandbox by it makes a refresh allowed.
const ACCESS_TOKEN_SECONDS: u64 = 600;

/// The secrets of a stored connection, read on purpose with `export settings … plain`.
struct Secrets {
    access_token: String,
    refresh_token: String,
}

impl Secrets {
    fn of(ws: &Workspace, name: &str) -> Secrets {
        let out = ws.run_c(&format!("export settings '{name}' plain;"));
        out.exits(0).says(&[DEMO_CLIENT_SECRET]);
        Secrets {
            access_token: connection_string_value(&out.stdout, "api-access-token"),
            refresh_token: connection_string_value(&out.stdout, "api-refresh-token"),
        }
    }

    /// Everything that must never show: the client secret and both tokens.
    fn all(&self) -> [&str; 3] {
        [DEMO_CLIENT_SECRET, &self.access_token, &self.refresh_token]
    }
}

/// Runs `preauthenticate` of the demo app as `name` through a loopback redirect, with
/// `preauth sandbox --approve` as the browser.
fn preauthenticate_loopback(ws: &Workspace, sandbox: &SandboxProcess, name: &str) -> Outcome {
    sandbox.log_in(ws, name)
}

/// A new workspace handed the tokens `secrets` as connection `name`, obtained an access
/// token's life ago: by its record they are due, so a refresh is sent (the sandbox's
/// clock must have moved that far too).
fn handed_over_when_due(sandbox: &SandboxProcess, secrets: &Secrets, name: &str) -> Workspace {
    let ws = Workspace::new();
    let handed = IssuedTokens {
        access_token: secrets.access_token.clone(),
        refresh_token: secrets.refresh_token.clone(),
    };
    ws.register_issued(
        name,
        sandbox,
        &handed,
        Duration::from_secs(ACCESS_TOKEN_SECONDS),
    );
    ws
}

/// Starts the paste flow for `name` (web redirect, no browser) and logs in with
/// `preauth sandbox --approve` in another process; returns the return URL it landed on.
fn start_paste_flow(ws: &Workspace, sandbox: &SandboxProcess, app: &str, name: &str) -> String {
    let started = ws.run_c(&format!(
        "preauthenticate exact {app} as connection '{name}';"
    ));
    started
        .exits(1)
        .warns(&["exchange code url '<that whole address>'"])
        .warns(&[&format!("for connection '{name}' at:")])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    let url = authorization_url(&started.stderr);
    assert!(url.starts_with(&sandbox.url), "{url}");
    let login = approve(&url);
    login.exits(0);
    let back = login.stdout.trim().to_string();
    assert!(
        back.starts_with(&format!("{WEB_REDIRECT}?code=")),
        "not a return URL: {back}"
    );
    back
}

/// Asserts that the settings file of `name` holds one sealed connection string and no
/// secret in the clear.
fn assert_sealed(ws: &Workspace, name: &str, secrets: &[&str]) {
    let xml = ws.settings_file(name);
    assert!(xml.contains("connectionString=\"dk1:"), "not sealed: {xml}");
    assert!(!xml.contains("api-client-secret"), "a plain key in {xml}");
    for (i, secret) in secrets.iter().enumerate() {
        assert!(!xml.contains(secret), "secret #{i} in the settings file");
    }
}

#[test]
fn preauthenticate_through_the_loopback_stores_a_sealed_connection_and_shows_no_secret() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let out = preauthenticate_loopback(&ws, &sandbox, "acme");
    out.exits(0)
        .says(&[
            "connection 'acme' authorized; access token valid until ",
            "; refresh token expires ",
            "; stored encrypted in ",
        ])
        .warns(&[&format!(
            "Log in to {} for connection 'acme' at:",
            sandbox.url
        )]);
    let secrets = Secrets::of(&ws, "acme");
    out.keeps_secret(&secrets.all());
    assert_sealed(&ws, "acme", &secrets.all());

    // Nothing that inspects, checks, refreshes or exports (encrypted) shows a secret.
    let mut outcomes = vec![
        ws.run_c("show connections; show connection 'acme'; check connections;"),
        ws.run(&["check"]),
        ws.run(&[
            "--format",
            "json",
            "-c",
            "show connections; show connection 'acme'",
        ]),
        ws.run_c("export settings 'acme'; export settings 'acme' encrypted;"),
        ws.run_c("refresh connection 'acme'; refresh all connections;"),
    ];
    outcomes[0].exits(0).says(&["acme", "valid", "yes"]);
    outcomes[3].exits(0).says(&["connectionString=\"dk1:"]);
    outcomes[4]
        .exits(0)
        .says(&["not refreshed yet (still valid)", "left alone"]);
    outcomes.push(preauthenticate_loopback(&ws, &sandbox, "ACME"));
    outcomes[5]
        .exits(1)
        .warns(&["a connection named 'acme' exists already"]);
    assert!(
        !outcomes[5].stderr.contains("Log in"),
        "the name is refused before anyone logs in"
    );
    for out in &outcomes {
        out.keeps_secret(&secrets.all());
    }
    // The refusal changed nothing.
    assert_eq!(
        Secrets::of(&ws, "acme").refresh_token,
        secrets.refresh_token
    );
}

#[test]
fn the_paste_flow_finishes_in_a_second_process_and_a_return_url_works_once() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let back = start_paste_flow(&ws, &sandbox, &demo_app(&sandbox.url, WEB_REDIRECT), "web");
    assert!(!ws.settings().join("settings-web.xml").exists());

    // A forged state and a malformed URL are refused and leave the pending one alone.
    let (before_state, _) = back.split_once("state=").expect("a state");
    let forged = format!("{before_state}state=forged-state-value");
    ws.run_c(&format!("exchange code url '{forged}';"))
        .exits(1)
        .warns(&["the return URL does not belong to a pending authorization"])
        .keeps_secret(&[&forged]);
    ws.run_c("exchange code url 'this is not a return URL';")
        .exits(1)
        .warns(&["error: -c:1:1: the return URL has no 'state'"]);

    let done = ws.run(&[
        "--echo",
        "-c",
        &format!("exchange code url '{back}' for connection 'web';"),
    ]);
    done.exits(0)
        .says(&["connection 'web' authorized; access token valid until "])
        .warns(&["> exchange code url '<redacted>' for connection 'web';"])
        .keeps_secret(&[&back, DEMO_CLIENT_SECRET]);
    let secrets = Secrets::of(&ws, "web");
    assert_sealed(&ws, "web", &secrets.all());

    ws.run_c(&format!("exchange code url '{back}';"))
        .exits(1)
        .warns(&[
            "does not belong to a pending authorization (its 'state' is unknown, already used",
        ])
        .keeps_secret(&[&back]);
    // The stored chain is untouched by the replay.
    assert_eq!(Secrets::of(&ws, "web").refresh_token, secrets.refresh_token);
}

#[test]
fn a_wrong_client_secret_is_refused_by_the_sandbox_and_nothing_is_stored() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let wrong = "not-the-demo-secret";
    let app = demo_app(&sandbox.url, WEB_REDIRECT).replace(DEMO_CLIENT_SECRET, wrong);
    let back = start_paste_flow(&ws, &sandbox, &app, "wrong");
    ws.run_c(&format!("exchange code url '{back}';"))
        .exits(1)
        .warns(&[
            "the platform did not accept the client authentication of 'wrong'",
            "(the platform said: \"Client authentication failed.\")",
        ])
        .keeps_secret(&[wrong, &back]);
    assert!(!ws.settings().join("settings-wrong.xml").exists());
    ws.run_c("show connection 'wrong';")
        .exits(1)
        .warns(&["no connection named 'wrong'"]);
}

#[test]
fn preauthenticate_refuses_an_unknown_platform_and_a_bad_country() {
    let ws = Workspace::new();
    ws.run_c(&format!(
        "preauthenticate nosuch client id 'x' redirect url '{WEB_REDIRECT}' as connection 'n';"
    ))
    .exits(1)
    .warns(&["unknown platform 'nosuch'; known platforms: exact-online, twinfield"]);
    ws.run_c(&format!(
        "preauthenticate exact country 'xx' client id 'x' redirect url '{WEB_REDIRECT}' as connection 'n';"
    ))
    .exits(1)
    .warns(&["Exact Online does not run in country 'xx'; use one of: nl, be"]);
}

#[test]
fn refresh_respects_the_platform_and_refresh_all_leaves_fresh_chains_alone() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    preauthenticate_loopback(&ws, &sandbox, "acme").exits(0);
    let first = Secrets::of(&ws, "acme");

    // Too early: Exact refuses even a forced refresh and counts the refusal towards a
    // block, so none is sent, and the chain stays.
    let refresh_calls = || sandbox.counters()["token_calls_refresh_token"].clone();
    let calls = refresh_calls();
    ws.run_c("refresh connection 'acme' force;")
        .exits(1)
        .warns(&["'acme' cannot be refreshed before ", "nothing was sent"]);
    assert_eq!(refresh_calls(), calls, "no refresh was sent");
    assert_eq!(Secrets::of(&ws, "acme").refresh_token, first.refresh_token);

    // Ten minutes later, by the sandbox's clock and by the record of a machine handed the
    // tokens as obtained then, the refresh is sent.
    sandbox.advance(ACCESS_TOKEN_SECONDS);
    let ws = handed_over_when_due(&sandbox, &first, "acme");
    let refreshed = ws.run_c("refresh connection 'acme' force;");
    refreshed
        .exits(0)
        .says(&["connection 'acme' refreshed; access token valid until "]);
    let second = Secrets::of(&ws, "acme");
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "a new refresh token"
    );
    refreshed.keeps_secret(&[&first.refresh_token, &second.refresh_token]);

    // The keep-alive leaves young chains alone unless told otherwise.
    ws.run_c("refresh all connections;").exits(0).says(&[
        "acme",
        "left alone",
        "refresh token younger than 7 days",
    ]);
    // Even `older than 0 days` sends no refresh that the platform refuses as too early
    // (Exact counts each such refusal towards blocking the app): this chain was renewed
    // moments ago, with an access token still outside the refresh window.
    let calls = refresh_calls();
    let all = ws.run_c("refresh all connections older than 0 days;");
    all.exits(0).says(&[
        "acme",
        "left alone",
        "renewed minutes ago; the platform refuses a refresh before ",
    ]);
    assert_eq!(refresh_calls(), calls, "no refresh was sent");
    assert_eq!(Secrets::of(&ws, "acme").refresh_token, second.refresh_token);
    all.keeps_secret(&second.all());

    ws.run_c("refresh connection 'nobody';")
        .exits(1)
        .warns(&["no connection named 'nobody'"]);
}

#[test]
fn register_stores_tokens_obtained_elsewhere_and_refuses_old_or_taken_ones() {
    let sandbox = SandboxProcess::start(&[]);
    // The OEM partner's web application obtained these tokens, then handed them over.
    let partner = Workspace::new();
    preauthenticate_loopback(&partner, &sandbox, "partner").exits(0);
    let tokens = Secrets::of(&partner, "partner");
    partner
        .run_c("drop connection 'partner';")
        .exits(0)
        .says(&["connection 'partner' dropped"]);

    let ws = Workspace::new();
    let app = demo_app(&sandbox.url, WEB_REDIRECT);
    let register = |name: &str, extra: &str| {
        format!(
            "register connection '{name}' platform exact {app} access token '{}' \
             refresh token '{}' {extra};",
            tokens.access_token, tokens.refresh_token
        )
    };
    let out = ws.run(&["--echo", "-c", &register("oem", "verify")]);
    out.exits(0)
        .says(&["connection 'oem' registered; access token valid until "])
        .warns(&[
            "verified the access token only: the platform's current/Me answered",
            "> register connection 'oem' platform exact",
        ])
        .keeps_secret(&tokens.all());
    assert_sealed(&ws, "oem", &tokens.all());

    // The registered chain is usable: once due, a refresh spends that refresh token
    // (here on a machine handed the tokens as obtained ten minutes ago; before its
    // access token's end, this one sends Exact no refresh, forced or not).
    sandbox.advance(ACCESS_TOKEN_SECONDS);
    ws.run_c("refresh connection 'oem' force;")
        .exits(1)
        .warns(&["'oem' cannot be refreshed before "]);
    let due = handed_over_when_due(&sandbox, &tokens, "oem");
    due.run_c("refresh connection 'oem' force;")
        .exits(0)
        .says(&["connection 'oem' refreshed"]);
    assert_ne!(Secrets::of(&due, "oem").refresh_token, tokens.refresh_token);

    ws.run_c(&register("OEM", ""))
        .exits(1)
        .warns(&["a connection named 'oem' exists already"]);
    // (On the machine whose chain went on: here, 'oem' holds that refresh token still.)
    let old = due.run_c(&register("old", "obtained at '2020-01-01T00:00:00Z'"));
    old.exits(1)
        .warns(&["the refresh token expired on", "obtain new tokens"])
        .keeps_secret(&tokens.all());
    ws.run_c(&register("when", "obtained at 'last tuesday'"))
        .exits(1)
        .warns(&["obtained at 'last tuesday' is not a time like"]);
    assert!(!due.settings().join("settings-old.xml").exists());
    assert!(!ws.settings().join("settings-when.xml").exists());
}

#[test]
fn drop_removes_the_file_and_if_exists_tolerates_a_missing_one() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    preauthenticate_loopback(&ws, &sandbox, "gone").exits(0);
    let file = ws.settings().join("settings-gone.xml");
    assert!(file.exists());
    ws.run_c("drop connection 'gone';")
        .exits(0)
        .says(&["connection 'gone' dropped"]);
    assert!(!file.exists());
    ws.run_c("drop connection 'gone';")
        .exits(1)
        .warns(&["no connection named 'gone'"]);
    let quiet = ws.run_c("drop connection if exists 'gone';");
    quiet.exits(0);
    assert_eq!(quiet.stdout, "");
}

#[test]
fn export_and_import_move_a_connection_and_keep_it_sealed() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    preauthenticate_loopback(&ws, &sandbox, "moving").exits(0);
    let secrets = Secrets::of(&ws, "moving");

    // Encrypted export, dropped, imported back on the same machine.
    let sealed = ws.run_c("export settings 'moving';");
    sealed.exits(0).keeps_secret(&secrets.all());
    ws.write("moving-sealed.xml", &sealed.stdout);
    ws.run_c("drop connection 'moving';").exits(0);
    ws.run_c("import settings 'moving-sealed.xml';")
        .exits(0)
        .says(&["imported 1 connection from ", ": moving"]);
    assert_eq!(
        Secrets::of(&ws, "moving").refresh_token,
        secrets.refresh_token
    );

    // A plain export moves to another machine, where it is sealed with that device key.
    let plain = ws.run_c("export settings 'moving' plain;");
    let other = Workspace::new();
    other.write("moving-plain.xml", &plain.stdout);
    other
        .run_c("import settings 'moving-plain.xml'; show connection 'moving';")
        .exits(0)
        .says(&["imported 1 connection", "encrypted               yes"])
        .keeps_secret(&secrets.all());
    assert_sealed(&other, "moving", &secrets.all());

    // A sealed export does not open on another machine and is not imported there.
    let third = Workspace::new().with_own_device_key();
    third.write("moving-sealed.xml", &sealed.stdout);
    third
        .run_c("import settings 'moving-sealed.xml';")
        .exits(1)
        .warns(&["connection 'moving': encrypted on another device"]);
    assert!(!third.settings().join("settings-moving.xml").exists());

    ws.run_c("export settings 'absent';")
        .exits(1)
        .warns(&["no connection named 'absent'"]);
}

#[test]
fn another_device_key_on_the_same_settings_folder_names_the_file_and_connection() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    preauthenticate_loopback(&ws, &sandbox, "bound").exits(0);
    let elsewhere = Workspace::new().with_own_device_key();
    let file = ws.settings().join("settings-bound.xml");
    let out = Outcome::of(
        ws.preauth()
            .env("DEVICEKEY_SECRET_DIR", elsewhere.key_dir())
            .args(["-c", "show connection 'bound';"]),
    );
    out.exits(1).warns(&[
        &format!(
            "{}: connection 'bound': encrypted on another device",
            file.display()
        ),
        "on the machine that sealed it, run `export settings 'bound' plain`",
    ]);
    // The file is left as it was for the machine that can open it.
    ws.run_c("show connection 'bound';")
        .exits(0)
        .says(&["valid"]);
}

#[test]
fn create_platform_persists_and_refuses_a_taken_id_or_a_bad_url() {
    let ws = Workspace::new();
    ws.run_c(
        "create platform 'idp' authorize url 'https://idp.invalid/authorize' \
         token url 'https://idp.invalid/token' client authentication basic \
         scope 'openid offline_access' pkce on issuer 'https://idp.invalid';",
    )
    .exits(0)
    .says(&["platform 'idp' created in ", "platforms.xml"]);
    assert!(ws.settings().join("platforms.xml").exists());
    // A later run knows it.
    let listed = ws.run(&["--format", "csv", "-c", "show platforms;"]);
    listed.exits(0);
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("idp,"))
        .unwrap_or_else(|| panic!("idp not listed: {}", listed.stdout));
    assert!(row.contains(",basic,yes,"), "{row}");
    ws.run_c(
        "create platform 'IDP' authorize url 'https://idp.invalid/a' token url 'https://idp.invalid/t';",
    )
    .exits(1)
    .warns(&["a platform 'IDP' exists already"]);
    ws.run_c("create platform 'bad' authorize url 'nope' token url 'https://idp.invalid/t';")
        .exits(1)
        .warns(&["platform 'bad' cannot be defined"]);
    ws.run_c(&format!(
        "preauthenticate bad client id 'x' redirect url '{WEB_REDIRECT}' as connection 'b';"
    ))
    .exits(1)
    .warns(&["unknown platform 'bad'; known platforms: exact-online, twinfield, idp"]);
}
