//! End-to-end tests of the inspection and secret statements: `show connections`,
//! `show connection`, `show platforms`, `show access token` in every `--format`, and
//! `encrypt` / `decrypt` / `local define encrypted` with the device key.

mod common;

use common::{
    DEMO_CLIENT_SECRET, Outcome, Workspace, connection_string_value, loopback_redirect,
    preauthenticate,
};

/// A workspace holding connection `shown`, pre-authenticated against the embedded sandbox
/// (which stops with that run: showing needs no platform).
fn workspace_with_connection() -> Workspace {
    let ws = Workspace::new();
    ws.run(&[
        "--sandbox",
        "-c",
        &preauthenticate("${SANDBOX_URL}", &loopback_redirect(), "shown"),
    ])
    .exits(0)
    .says(&["connection 'shown' authorized"]);
    ws
}

/// Both tokens of `shown`, read on purpose.
fn tokens(ws: &Workspace) -> [String; 2] {
    let plain = ws.run_c("export settings 'shown' plain;");
    plain.exits(0);
    ["api-access-token", "api-refresh-token"].map(|k| connection_string_value(&plain.stdout, k))
}

/// `preauth --format FORMAT -c STATEMENTS`.
fn formatted(ws: &Workspace, format: &str, statements: &str) -> Outcome {
    ws.run(&["--format", format, "-c", statements])
}

#[test]
fn show_connections_prints_a_table_csv_or_json_without_secrets() {
    let ws = workspace_with_connection();
    let [access, refresh] = tokens(&ws);
    let secrets = [DEMO_CLIENT_SECRET, access.as_str(), refresh.as_str()];

    let table = ws.run_c("show connections;");
    table.exits(0).keeps_secret(&secrets);
    let mut lines = table.stdout.lines();
    let header = lines.next().expect("a header");
    for column in [
        "name",
        "platform",
        "country",
        "api url",
        "status",
        "access token expires",
        "refresh token expires",
        "encrypted",
        "problem",
    ] {
        assert!(header.contains(column), "{column} missing in {header}");
    }
    assert!(lines.next().expect("a rule").starts_with("----"));
    let row = lines.next().expect("a row");
    assert!(row.starts_with("shown ") && row.contains(" valid ") && row.ends_with("yes"));

    let csv = formatted(&ws, "csv", "show connections;");
    csv.exits(0).keeps_secret(&secrets);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[0],
        "name,platform,country,api_url,status,access_token_expires,refresh_token_expires,encrypted,problem"
    );
    assert!(rows[1].starts_with("shown,exact-online,,http://127.0.0.1:"));
    assert!(rows[1].ends_with(",yes,"));

    let json = formatted(&ws, "json", "show connections;");
    json.exits(0).keeps_secret(&secrets);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let first = &parsed[0];
    assert_eq!(first["name"], "shown");
    assert_eq!(first["platform"], "exact-online");
    assert_eq!(first["status"], "valid");
    assert_eq!(first["encrypted"], true);

    ws.run(&["--format", "xml", "-c", "show connections;"])
        .exits(2);
}

#[test]
fn show_connection_lists_properties_and_only_says_whether_secrets_are_set() {
    let ws = workspace_with_connection();
    let [access, refresh] = tokens(&ws);
    let out = formatted(&ws, "json", "show connection 'SHOWN';");
    out.exits(0)
        .keeps_secret(&[DEMO_CLIENT_SECRET, &access, &refresh]);
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    // One object: whether a secret is set is a boolean, never its value.
    let property = |key: &str| parsed[key].clone();
    assert_eq!(property("name"), "shown");
    assert_eq!(property("client_secret"), true);
    assert_eq!(property("access_token"), true);
    assert_eq!(property("refresh_token"), true);
    assert_eq!(property("encrypted"), true);
    assert_eq!(
        property("stored_in"),
        ws.settings()
            .join("settings-shown.xml")
            .display()
            .to_string()
    );
    ws.run_c("show connection 'nobody';")
        .exits(1)
        .warns(&["no connection named 'nobody'"]);
}

#[test]
fn show_platforms_lists_exact_online_and_twinfield() {
    let ws = Workspace::new();
    let out = formatted(&ws, "csv", "show platforms;");
    out.exits(0).says(&[
        "id,name,provider,countries,",
        "exact-online,Exact Online,ExactOnlineAll,nl be de fr es co.uk com,body,",
        "twinfield,Twinfield,TwinfieldAll,",
    ]);
    assert!(
        !ws.settings().join("platforms.xml").exists(),
        "showing wrote"
    );
}

#[test]
fn show_access_token_prints_the_secret_on_purpose_and_nothing_else() {
    let ws = workspace_with_connection();
    let [access, refresh] = tokens(&ws);
    let plain = ws.run_c("show access token for connection 'shown';");
    plain.exits(0);
    assert_eq!(plain.stdout, format!("{access}\n"));
    let json = formatted(&ws, "json", "show access token for connection 'shown';");
    json.exits(0).keeps_secret(&[&refresh, DEMO_CLIENT_SECRET]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed["access_token"], access.as_str());
    assert_eq!(parsed["connection"], "shown");
    assert_eq!(parsed["platform"], "exact-online");
    assert!(
        parsed["expires_at"]
            .as_str()
            .expect("a time")
            .ends_with('Z')
    );
    ws.run_c("show access token for connection 'nobody';")
        .exits(1)
        .warns(&["no connection named 'nobody'"]);
}

#[test]
fn encrypt_value_feeds_define_encrypted_and_decrypt_reverses_encrypt_connection() {
    let ws = Workspace::new();
    let secret = "s3cr3t-password-value";
    let sealed = ws.run_c(&format!("encrypt value '{secret}';"));
    sealed.exits(0).keeps_secret(&[secret]);
    let sealed = sealed.stdout.trim().to_string();
    assert!(sealed.starts_with("dk1:"), "{sealed}");

    // The encrypted text in a script: defined, used, never echoed.
    let script = ws.write(
        "uses.sql",
        &format!("local define encrypted PASSWORD '{sealed}'\nlocal echo got ${{password}}\n"),
    );
    let used = ws.run(&["--echo", script.to_str().expect("UTF-8 path")]);
    used.exits(0)
        .says(&[&format!("got {secret}\n")])
        .warns(&["> local define encrypted PASSWORD '<redacted>';"]);
    assert!(!used.stderr.contains(secret), "echo showed the secret");

    let connection = format!("api-url=https://start.exactonline.nl;api-client-secret={secret}");
    let encrypted = ws.run_c(&format!("encrypt connection '{connection}';"));
    encrypted.exits(0).keeps_secret(&[secret]);
    let encrypted = encrypted.stdout.trim().to_string();
    ws.run_c(&format!("decrypt connection '{encrypted}';"))
        .exits(0)
        .says(&[&format!("{connection}\n")]);
    ws.run_c("encrypt connection 'not a connection string';")
        .exits(1)
        .warns(&["not a connection string"]);

    // Another device key cannot open either.
    let other = Workspace::new().with_own_device_key();
    other
        .run_c(&format!(
            "local define encrypted PASSWORD '{sealed}'\nlocal echo never"
        ))
        .exits(1)
        .warns(&["encrypted on another device"])
        .keeps_secret(&[secret]);
    other
        .run_c(&format!("decrypt connection '{encrypted}';"))
        .exits(1)
        .warns(&["encrypted on another device"]);
    other.run_c("decrypt connection 'dk1:garbage';").exits(1);
}
