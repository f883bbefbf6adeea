//! The browser harness (`common::browser`) against the sandbox's own login and consent
//! pages: a person's login in a real headless Chromium, from the authorization URL that
//! `preauthenticate` prints to the web redirect URL, whose code then finishes the login.
//!
//! Skipped with one `skipped: …` line without chromedriver and Chromium, unless
//! `PREAUTH_REQUIRE_COMPONENTS` is set (CI sets it): then it fails.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::{
    DEMO_CLIENT_ID, SandboxProcess, WEB_REDIRECT, Workspace, authorization_url, preauthenticate,
};
use preauth_sandbox::Login;

/// How long a page of the sandbox may take to appear.
const PAGE: Duration = Duration::from_secs(10);

#[test]
fn a_person_logs_in_on_the_sandbox_in_chromium_and_the_code_finishes_the_login() {
    let Some(browser) = Browser::start_or_skip("browser_harness") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let started = ws.run_c(&preauthenticate(&sandbox.url, WEB_REDIRECT, "books"));
    started.exits(1).warns(&["exchange code url"]);

    // The login page, by keyboard and mouse.
    browser.goto(&authorization_url(&started.stderr));
    browser.wait_for("form#login", PAGE);
    browser.press_tab();
    assert_eq!(browser.focused_element(), "input[name=\"user\"]");
    browser.fill("input[name=user]", Login::DEMO_USER);
    browser.fill("input[name=password]", Login::DEMO_PASSWORD);
    browser.fill("input[name=totp]", Login::DEMO_TOTP);
    let shot = browser.screenshot("browser_harness_login");
    let png = std::fs::read(&shot).expect("the screenshot is saved");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", shot.display());
    browser.click("form#login button[type=submit]");

    // The consent page, at a phone's width.
    browser.wait_for("form#consent", PAGE);
    browser.set_window_size(390, 844);
    assert_eq!(browser.execute("return window.innerWidth"), 390);
    assert!(
        browser.text("body").contains(DEMO_CLIENT_ID),
        "the app is named"
    );
    browser.click("form#consent button[value=allow]");

    // The redirect to the web redirect URL failed inside the browser, without a DNS query
    // (the resolver rule), and the browser still says where it was sent.
    let back = browser.current_url();
    assert!(back.starts_with(&format!("{WEB_REDIRECT}?")), "{back}");
    assert!(back.contains("code=") && back.contains("state="), "{back}");
    assert!(
        browser.source().contains("ERR_NAME_NOT_RESOLVED"),
        "not the browser's error page at {back}"
    );

    ws.run_c(&format!(
        "exchange code url '{back}' for connection 'books';"
    ))
    .exits(0)
    .says(&["connection 'books' authorized"]);
}
