//! `preauth serve`'s pages in a real headless Chromium (Debian's `chromium` through
//! `chromium-driver`): from the login URL through the Preauthenticate form, the
//! sandbox's login (with 2FA) and consent pages, to the result page, with the own
//! callback and with a deviating redirect URI; and the OEM form. Screenshots of the
//! pages are saved under `target/test-artifacts/`.
//!
//! Skipped with one `skipped: …` line without chromedriver and Chromium, unless
//! `PREAUTH_REQUIRE_COMPONENTS` is set (CI sets it): then it fails.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::serve::Server;
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace};
use preauth_sandbox::Login;

/// How long a page may take to appear.
const PAGE: Duration = Duration::from_secs(10);

/// A sandbox, a workspace, `preauth serve` over it, and Chromium logged in to the pages
/// with the one-time login URL.
struct Setup {
    sandbox: SandboxProcess,
    ws: Workspace,
    server: Server,
    browser: Browser,
}

impl Setup {
    fn new(test: &str) -> Option<Setup> {
        let browser = Browser::start_or_skip(test)?;
        let sandbox = SandboxProcess::start(&[]);
        let ws = Workspace::new();
        let server = Server::start(&ws, &[]);
        browser.goto(&server.login);
        browser.wait_for("main h1", PAGE);
        assert_eq!(browser.text("main h1"), "Connections");
        assert!(
            !browser.current_url().contains("token="),
            "the login token leaves the address bar"
        );
        Some(Setup {
            sandbox,
            ws,
            server,
            browser,
        })
    }

    /// Fills the Preauthenticate form for the demo app as connection `name`.
    fn fill_preauthenticate(&self, name: &str) {
        let b = &self.browser;
        b.goto(&format!("{}/preauthenticate", self.server.url));
        b.wait_for("form input#name", PAGE);
        b.fill("#name", name);
        b.fill("#client_id", DEMO_CLIENT_ID);
        b.fill("#client_secret", DEMO_CLIENT_SECRET);
        b.fill("#api_url", &self.sandbox.url);
    }

    /// Logs in on the sandbox's pages as the demo user (with the 2FA code) and allows.
    fn log_in_at_the_sandbox(&self) {
        let b = &self.browser;
        b.wait_for("form#login", PAGE);
        b.fill("input[name=user]", Login::DEMO_USER);
        b.fill("input[name=password]", Login::DEMO_PASSWORD);
        b.fill("input[name=totp]", Login::DEMO_TOTP);
        b.click("form#login button[type=submit]");
        b.wait_for("form#consent", PAGE);
        b.click("form#consent button[value=allow]");
    }

    /// Waits for the result page of connection `name`.
    fn wait_for_result(&self, name: &str) {
        let b = &self.browser;
        b.wait_for(r#"pre[aria-label="Settings file, encrypted"]"#, PAGE);
        assert_eq!(b.text("main h1"), format!("Connection '{name}'"));
    }
}

#[test]
fn preauthenticate_in_chromium_returns_to_the_own_callback_and_shows_the_result() {
    let Some(setup) = Setup::new("serve_browser own callback") else {
        return;
    };
    let b = &setup.browser;
    let session = b
        .cookies()
        .into_iter()
        .find(|c| c.name == "preauth_session")
        .expect("the session cookie");
    assert!(session.http_only, "{session:?}");
    assert_eq!(session.same_site.as_deref(), Some("Strict"), "{session:?}");

    setup.fill_preauthenticate("books");
    let own = format!("{}/callback", setup.server.url);
    assert_eq!(
        b.attr("#redirect_uri", "value").as_deref(),
        Some(own.as_str())
    );
    let labelled = b.execute(
        "return [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]\
         .every(e => e.id && document.querySelector('label[for=\"' + e.id + '\"]') && e.getAttribute('aria-describedby'));",
    );
    assert_eq!(
        labelled,
        serde_json::Value::Bool(true),
        "every field has a label and help"
    );
    b.click("form.card button[type=submit]");

    setup.log_in_at_the_sandbox();
    setup.wait_for_result("books");
    let sealed = b.text(r#"pre[aria-label="Settings file, encrypted"]"#);
    assert!(sealed.contains("connectionString=\"dk1:"), "{sealed}");
    assert!(!sealed.contains(DEMO_CLIENT_SECRET));
    b.set_window_size(1280, 1400);
    let shot = b.screenshot("serve_result_page");
    assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));

    // The secrets only when asked for.
    b.click("form.card button.danger");
    b.wait_for(r#"pre[aria-label="Encrypt statement"]"#, PAGE);
    let statement = b.text(r#"pre[aria-label="Encrypt statement"]"#);
    assert!(
        statement.starts_with("encrypt connection 'api-url="),
        "{statement}"
    );
    assert!(statement.contains(DEMO_CLIENT_SECRET));
    b.screenshot("serve_result_page_secrets");

    // The connections page judges it as `check` does.
    b.click(r#"nav a[href="/connections"]"#);
    // The result page has a table of its own, without a head.
    b.wait_for("table thead", PAGE);
    assert!(b.text("tbody").contains("books"));
    assert_eq!(b.text("tbody .state-OK"), "OK");
    b.screenshot("serve_connections");
    setup.ws.run_c("show connection 'books'").exits(0);

    // Readable at phone width: nothing wider than the screen but the table's own
    // scroller, and the form can be reached and used with the keyboard.
    b.set_window_size(390, 844);
    b.goto(&format!("{}/preauthenticate", setup.server.url));
    let overflow = b.execute("return document.documentElement.scrollWidth - window.innerWidth;");
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "wider than the phone by {overflow}"
    );
    b.screenshot("serve_preauthenticate_phone");
    let mut reached = false;
    for _ in 0..12 {
        b.press_tab();
        if b.focused_element() == "#name" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the first field is reached with Tab");
}

#[test]
fn a_deviating_redirect_uri_in_chromium_goes_through_the_exchange_code_form() {
    let Some(setup) = Setup::new("serve_browser deviating redirect") else {
        return;
    };
    let b = &setup.browser;
    setup.fill_preauthenticate("web shop");
    b.fill("#redirect_uri", WEB_REDIRECT);
    // Without the box ticked, the page says what to do, beside the field.
    b.click("form.card button[type=submit]");
    b.wait_for("#redirect_uri-error", PAGE);
    assert!(
        b.text("#redirect_uri-error")
            .contains("Deviating redirect URI")
    );
    b.fill("#name", "web shop");
    b.fill("#client_secret", DEMO_CLIENT_SECRET);
    b.click("#deviating");
    b.click("form.card button[type=submit]");

    b.wait_for("textarea#return_url", PAGE);
    assert_eq!(b.text("main h1"), "Exchange code");
    let login = b
        .attr(r#"a[target="_blank"]"#, "href")
        .expect("the login link");
    // As the person in the tab the link opens: the login, then the app's own redirect
    // URI, which does not load (it is not this server, and not reachable here).
    let _ = b.try_goto(&login);
    setup.log_in_at_the_sandbox();
    b.wait_for_url(&format!("{WEB_REDIRECT}?code="), PAGE);
    let landed = b.current_url();

    // A wrong paste is explained beside the field; the right one stores the connection.
    b.goto(&format!("{}/preauthenticate/exchange", setup.server.url));
    b.fill("#return_url", "https://example.invalid/callback?state=nope");
    b.click("form.card button[type=submit]");
    b.wait_for("#return_url-error", PAGE);
    b.fill("#return_url", &landed);
    b.click("form.card button[type=submit]");
    setup.wait_for_result("web shop");
    setup.ws.run_c("show connection 'web shop'").exits(0);
    b.screenshot("serve_exchange_result");
}

#[test]
fn the_oem_form_in_chromium_registers_tokens_from_a_partner_application() {
    let Some(setup) = Setup::new("serve_browser OEM form") else {
        return;
    };
    let b = &setup.browser;
    let issued = setup.sandbox.issue_tokens(1).remove(0);
    b.click(r#"nav a[href="/register"]"#);
    b.wait_for("form input#access_token", PAGE);
    b.fill("#name", "partner");
    b.fill("#client_id", DEMO_CLIENT_ID);
    b.fill("#client_secret", DEMO_CLIENT_SECRET);
    b.fill("#redirect_url", WEB_REDIRECT);
    b.fill("#access_token", &issued.access_token);
    b.fill("#refresh_token", &issued.refresh_token);
    b.fill(
        "#obtained_at",
        &common::rfc3339(std::time::SystemTime::now()),
    );
    b.fill("#api_url", &setup.sandbox.url);
    b.screenshot("serve_register_form");
    b.click("form.card button[type=submit]");
    setup.wait_for_result("partner");
    assert!(b.text("p.notice").contains("registered"));
    assert!(
        !b.source().contains(&issued.refresh_token),
        "no token on the page"
    );
    let token = setup.ws.run(&["token", "partner"]);
    token.exits(0);
    assert_eq!(token.stdout.trim(), issued.access_token);
}
