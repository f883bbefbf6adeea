//! A hand-written Twinfield connection that has no tokens yet names no `api-url` (its
//! cluster comes from the first login): `import settings` takes it, on a settings folder
//! and into a shared store, with Twinfield's one login server; a refresh says it needs a
//! login, and the login then works. The binary as users run it, against `preauth
//! sandbox` on loopback standing in for Twinfield (nothing else is contacted: the login
//! URL on Twinfield's own server is only printed).

mod common;

use std::path::PathBuf;

use common::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace, approve,
    authorization_url,
};

/// Writes a settings file by hand, outside the settings folder, as a Twinfield user
/// would before any login: the app's keys, no api-url, no tokens.
fn handwritten(ws: &Workspace) -> PathBuf {
    ws.write(
        "handwritten/settings-tw.xml",
        &format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Twinfield\">\n    \
             <connection name=\"tw\">\n      <database order=\"10\" provider=\"TwinfieldAll\" \
             connectionString=\"api-client-id={DEMO_CLIENT_ID};api-client-secret={DEMO_CLIENT_SECRET};\
             api-redirect-url={WEB_REDIRECT}\"/>\n    </connection>\n  </group>\n</settings>\n"
        ),
    )
}

/// Imports the hand-written file into `ws`'s store, and logs in for it.
fn import_and_log_in(ws: &Workspace) {
    let sandbox = SandboxProcess::start(&[]);
    let file = handwritten(ws);
    ws.run_c(&format!("import settings '{}'", file.display()))
        .exits(0)
        .says(&["tw"]);
    ws.run_c("show connection 'tw'")
        .exits(0)
        .says(&["https://login.twinfield.com"]);
    ws.run_c("refresh connection 'tw'").exits(1).warns(&[
        "connection 'tw' has no tokens yet",
        "preauthenticate connection 'tw'",
    ]);
    ws.run(&["token", "tw"])
        .exits(1)
        .warns(&["preauthenticate connection 'tw'"]);
    // The login goes to Twinfield's one login server.
    ws.run_c("preauthenticate connection 'tw'")
        .exits(1)
        .warns(&["https://login.twinfield.com/auth/authentication/connect/authorize?"]);
    // With the sandbox standing in for that server, the login completes and the token
    // validation gives the cluster URL.
    ws.run_c(&format!(
        "alter connection 'tw' set api url '{}'",
        sandbox.url
    ))
    .exits(0);
    let started = ws.run_c("preauthenticate connection 'tw'");
    started.exits(1);
    let landed = approve(&authorization_url(&started.stderr));
    landed.exits(0);
    ws.run_c(&format!("exchange code url '{}'", landed.stdout.trim()))
        .exits(0)
        .says(&["connection 'tw' authorized"]);
    ws.run(&["token", "tw"]).exits(0);
    ws.run_c("export settings 'tw' plain")
        .exits(0)
        .says(&[&format!("api-cluster-url={}", sandbox.url)]);
}

#[test]
fn a_twinfield_connection_without_tokens_or_api_url_imports_into_a_settings_folder() {
    import_and_log_in(&Workspace::new());
}

#[test]
fn a_twinfield_connection_without_tokens_or_api_url_imports_into_a_shared_store() {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let url = cluster.new_database("twinfield_import");
    import_and_log_in(
        &Workspace::new()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_MACHINE", "alpha"),
    );
}
