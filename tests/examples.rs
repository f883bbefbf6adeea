//! The example scripts in `examples/`, run as their first comment says, against the sandbox.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::{
    DAY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, IssuedTokens, Outcome, SandboxProcess, WEB_REDIRECT,
    Workspace, day, loopback_redirect, rfc3339,
};

/// The loopback redirect URL `quickstart.sql` and `encrypt_connection.sql` give the demo
/// app (rclone's default port, often taken on a developer's machine).
const EXAMPLE_REDIRECT: &str = "http://127.0.0.1:53682/callback";

/// The path of `examples/<name>`.
fn example(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "examples", name]
        .iter()
        .collect();
    path.display().to_string()
}

/// `examples/<name>` copied into `ws` with its loopback redirect URL moved to a free port
/// (the demo app accepts any loopback port, RFC 8252 §7.3), so that no test needs port
/// 53682; returns the copy's path. The copy differs from the example in that port only.
fn example_on_free_port(ws: &Workspace, name: &str) -> String {
    let text = std::fs::read_to_string(example(name)).expect("the example");
    assert!(
        text.contains(EXAMPLE_REDIRECT),
        "{name} no longer says {EXAMPLE_REDIRECT}; update EXAMPLE_REDIRECT"
    );
    let copy = ws.write(name, &text.replace(EXAMPLE_REDIRECT, &loopback_redirect()));
    copy.display().to_string()
}

/// The value of the `property` row of a `show connection` table.
fn property(table: &str, name: &str) -> String {
    table
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .filter(|rest| rest.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no {name:?} row in {table}"))
        .trim()
        .to_string()
}

#[test]
fn quickstart_runs_offline_against_the_embedded_sandbox() {
    let ws = Workspace::new();
    let quickstart = example_on_free_port(&ws, "quickstart.sql");
    let run = ws.run(&["--sandbox", &quickstart]);
    run.exits(0)
        .says(&["connection 'demo' refreshed", "encrypted"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert_eq!(property(&run.stdout, "status"), "valid");
    let file = ws.settings_file("demo");
    assert!(
        file.contains("connectionString=\"dk1:"),
        "not sealed: {file}"
    );
    assert!(!file.contains(DEMO_CLIENT_SECRET));

    // Running it again starts afresh (drop connection if exists) and succeeds again.
    ws.run(&["--sandbox", &quickstart])
        .exits(0)
        .says(&["connection 'demo' refreshed"]);
}

#[test]
fn quickstart_runs_while_port_53682_is_taken() {
    // Held by this test, or already by another program (rclone): taken either way.
    let _held = TcpListener::bind("127.0.0.1:53682");
    assert!(
        TcpListener::bind("127.0.0.1:53682").is_err(),
        "port 53682 should be taken"
    );
    // The example as written cannot listen there, and says so ...
    let ws = Workspace::new();
    ws.run(&["--sandbox", &example("quickstart.sql")])
        .exits(1)
        .warns(&["cannot listen on 127.0.0.1:53682"]);
    // ... while the tests' copy on a free port runs through.
    ws.run(&["--sandbox", &example_on_free_port(&ws, "quickstart.sql")])
        .exits(0)
        .says(&["connection 'demo' refreshed"]);
}

#[test]
fn encrypt_connection_opens_the_sealed_secret_only_on_this_device() {
    let ws = Workspace::new();
    // Step 1 of the example: seal the secret.
    let seal = ws.run_c(&format!("encrypt value '{DEMO_CLIENT_SECRET}'"));
    seal.exits(0).keeps_secret(&[DEMO_CLIENT_SECRET]);
    let sealed = seal.stdout.trim().to_string();
    assert!(sealed.starts_with("dk1:"), "not an envelope: {sealed}");

    // Step 2: the script opens it and pre-authenticates with it; --echo shows no secret.
    let define = format!("SEALED_SECRET={sealed}");
    let script = example_on_free_port(&ws, "encrypt_connection.sql");
    let args = ["--sandbox", "--echo", "-D", &define, &script];
    let run = ws.run(&args);
    run.exits(0)
        .says(&["connection 'sealed-demo' authorized"])
        .warns(&["not echoed"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert_eq!(property(&run.stdout, "client secret"), "(set)");
    assert_eq!(property(&run.stdout, "encrypted"), "yes");
    assert_eq!(property(&run.stdout, "status"), "valid");
    let file = ws.settings_file("sealed-demo");
    assert!(file.contains("connectionString=\"dk1:") && !file.contains(DEMO_CLIENT_SECRET));

    // The same text on another device (another host secret) opens nothing and stores nothing.
    let elsewhere = Workspace::new().with_own_device_key();
    elsewhere
        .run(&args)
        .exits(1)
        .warns(&["encrypt_connection.sql:17:1: encrypted on another device"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert!(
        !elsewhere
            .settings()
            .join("settings-sealed-demo.xml")
            .exists()
    );
}

/// `oem_register.sql` with the defines its first comment lists: `tokens` as obtained at
/// `obtained`, registered as connection `name`.
fn run_oem_example(
    ws: &Workspace,
    sandbox: &SandboxProcess,
    tokens: &IssuedTokens,
    obtained: &str,
    name: &str,
) -> Outcome {
    let defines = [
        format!("API_URL={}", sandbox.url),
        format!("CLIENT_ID={DEMO_CLIENT_ID}"),
        format!("CLIENT_SECRET={DEMO_CLIENT_SECRET}"),
        format!("REDIRECT_URL={WEB_REDIRECT}"),
        format!("ACCESS={}", tokens.access_token),
        format!("REFRESH={}", tokens.refresh_token),
        format!("OBTAINED={obtained}"),
        format!("CONNECTION={name}"),
    ];
    let mut command = ws.preauth();
    for define in &defines {
        command.args(["-D", define]);
    }
    Outcome::of(command.arg(example("oem_register.sql")))
}

#[test]
fn oem_register_stores_tokens_from_elsewhere_and_refuses_old_or_spent_ones() {
    let sandbox = SandboxProcess::start(&[]);
    // The partner's web application logged in on the sandbox just now.
    let tokens = sandbox.issue_tokens(1).remove(0);
    let obtained_at = SystemTime::now();
    let obtained = rfc3339(obtained_at);
    let secrets = [DEMO_CLIENT_SECRET, tokens.refresh_token.as_str()];

    // On the job's machine: register them with the example.
    let ws = Workspace::new();
    let run = run_oem_example(&ws, &sandbox, &tokens, &obtained, "acme-nl");
    let expires = property(&run.stdout, "refresh token expires");
    run.exits(0)
        .says(&[
            "connection 'acme-nl' registered",
            &format!("refresh token expires {expires}"),
        ])
        .warns(&["verified"])
        .keeps_secret(&secrets);
    // Exact's refresh tokens live 30 days from when they were obtained.
    assert!(
        expires.starts_with(&day(obtained_at + 30 * DAY)),
        "{expires}"
    );
    assert_eq!(property(&run.stdout, "refresh token"), "(set)");
    // The access token is still valid, so it is the one handed over: the last line.
    assert_eq!(
        run.stdout.lines().last(),
        Some(tokens.access_token.as_str())
    );
    let file = ws.settings_file("acme-nl");
    assert!(
        file.contains("connectionString=\"dk1:"),
        "not sealed: {file}"
    );
    assert!(!file.contains(&tokens.refresh_token) && !file.contains(DEMO_CLIENT_SECRET));

    // A refresh token past Exact's 30 days is refused before anything is stored.
    let old = Workspace::new();
    let long_ago = obtained_at - 31 * DAY;
    run_oem_example(&old, &sandbox, &tokens, &rfc3339(long_ago), "acme-de")
        .exits(1)
        .warns(&[&format!(
            "the refresh token expired on {}",
            day(long_ago + 30 * DAY)
        )])
        .keeps_secret(&secrets);
    assert!(
        old.settings_snapshot()
            .iter()
            .all(|(f, _)| f != "settings-acme-de.xml")
    );

    // Ten minutes later a machine handed the same tokens, obtained ten minutes ago by its
    // record, refreshes (spends) the refresh token to prove them (the job's machine would
    // send no refresh that Exact refuses before its own record of the access token ends);
    // handing the same tokens over again is refused by the proof (a refresh, the access
    // token having expired) and stores nothing.
    sandbox.advance(600);
    let ten_minutes_ago = rfc3339(SystemTime::now() - Duration::from_secs(660));
    run_oem_example(
        &Workspace::new(),
        &sandbox,
        &tokens,
        &ten_minutes_ago,
        "acme-nl",
    )
    .exits(0)
    .warns(&["a refresh succeeded"]);
    let late = Workspace::new();
    run_oem_example(&late, &sandbox, &tokens, &ten_minutes_ago, "acme-be")
        .exits(1)
        .warns(&[
            "the tokens handed over for 'acme-be' cannot be registered: the platform says the refresh token was already used",
            "obtain new tokens from the partner application",
        ])
        .keeps_secret(&secrets);
    assert!(
        late.settings_snapshot()
            .iter()
            .all(|(f, _)| f != "settings-acme-be.xml")
    );
}
