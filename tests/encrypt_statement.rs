//! Invantive's "Encrypt Statement" workflow, end to end against a `preauth sandbox`
//! process: `encrypt connection` on the target machine prints a value that, pasted as the
//! `connectionString` of a hand-written `settings-<NAME>.xml`, makes that connection work;
//! its first save binds it to the connection's name; `decrypt connection` opens both kinds.

mod common;

use std::time::{Duration, SystemTime};

use common::{
    DAY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, Workspace, connection_string_value,
    loopback_redirect, rfc3339,
};

/// The `connectionString` attribute of `xml`.
fn stored_value(xml: &str) -> String {
    let start = xml.find("connectionString=\"").expect("a connectionString") + 18;
    let end = start + xml[start..].find('"').expect("its end");
    xml[start..end].to_string()
}

#[test]
fn an_encrypted_connection_string_pasted_into_a_settings_file_works_and_is_bound_at_its_first_save()
{
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = &sandbox.issue_tokens(1)[0];
    // Obtained a day ago: the access token has expired, so `preauth token` refreshes.
    let obtained = SystemTime::now() - DAY;
    let issued = rfc3339(obtained);
    let expires = rfc3339(obtained + Duration::from_secs(600));
    let plain = format!(
        "api-url={};api-client-id={DEMO_CLIENT_ID};api-client-secret={DEMO_CLIENT_SECRET};\
         api-redirect-url={};api-access-token={};api-access-token-issued={issued};\
         api-access-token-expires={expires};api-refresh-token={};api-refresh-token-issued={issued}",
        sandbox.url,
        loopback_redirect(),
        tokens.access_token,
        tokens.refresh_token
    );

    let encrypted = ws.run_c(&format!("encrypt connection '{plain}'"));
    encrypted
        .exits(0)
        .keeps_secret(&[DEMO_CLIENT_SECRET, &tokens.refresh_token]);
    let sealed = encrypted.stdout.trim_end().to_string();
    assert!(sealed.starts_with("dk1:"), "{encrypted:#?}");

    // `decrypt connection` opens what `encrypt connection` printed, and `local define
    // encrypted` takes it too.
    let opened = ws.run_c(&format!("decrypt connection '{sealed}'"));
    assert_eq!(opened.exits(0).stdout, format!("{plain}\n"));
    ws.run_c(&format!(
        "local define encrypted CS \"{sealed}\"\nlocal echo 'defined'"
    ))
    .exits(0)
    .says(&["defined"]);

    ws.write_settings("acme", &sealed);
    ws.run_c("show connections").exits(0).says(&["acme"]);
    // The access token has expired on the sandbox's clock too.
    sandbox.advance(600);
    let token = ws.run(&["token", "acme"]);
    token
        .exits(0)
        .keeps_secret(&[DEMO_CLIENT_SECRET, &tokens.refresh_token]);
    let access = token.stdout.trim_end().to_string();
    assert_ne!(access, tokens.access_token, "refreshed: {token:#?}");
    let (status, _) = common::http(
        "GET",
        &format!("{}/api/v1/current/Me", sandbox.url),
        Some(&access),
    );
    assert_eq!(status, 200);

    // The refresh saved the connection sealed under its own name: a new value, still
    // sealed, still kept in the hand-written file.
    let xml = ws.settings_file("acme");
    let rewritten = stored_value(&xml);
    assert!(rewritten.starts_with("dk1:"), "{xml}");
    assert_ne!(rewritten, sealed, "the first save seals under the name");
    assert!(xml.contains("<group name=\"Exact Online\">"), "{xml}");
    ws.run(&["token", "acme"]).exits(0);

    // `decrypt connection` opens a connectionString copied from a settings file here.
    let opened = ws.run_c(&format!("decrypt connection '{rewritten}'"));
    let text = opened.exits(0).stdout.clone();
    let refresh_token = connection_string_value(&text, "api-refresh-token");
    assert_ne!(
        refresh_token, tokens.refresh_token,
        "the refreshed token is stored"
    );
    assert!(
        text.contains(&format!("api-access-token={access}")),
        "{text}"
    );

    // A value sealed for one connection does not open as another.
    ws.write_settings("other", &rewritten);
    let other = ws.run(&["token", "other"]);
    other
        .exits(1)
        .warns(&["altered or was encrypted under another label"])
        .keeps_secret(&[DEMO_CLIENT_SECRET, &refresh_token]);
    assert_eq!(other.stdout, "");
    // Nor does a secret sealed by `encrypt value` open as a connection string.
    let value = ws.run_c(&format!("encrypt value '{plain}'"));
    ws.write_settings("third", value.exits(0).stdout.trim_end());
    ws.run(&["token", "third"])
        .exits(1)
        .warns(&["altered or was encrypted under another label"]);
}
