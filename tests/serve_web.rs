//! `preauth serve`'s web pages over real HTTP, without a browser: the login (one-time
//! URL, admin key), sessions, CSRF, the security headers, and every form's errors with
//! nothing stored. The flows through the platform's pages in a real browser are in
//! `serve_browser.rs`.

mod common;

use common::serve::{Pages, Server, api_key};
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace};

/// Checks the headers every page carries.
fn assert_guarded(answer: &common::Answer) {
    let csp = answer.header("content-security-policy");
    for part in [
        "default-src 'none'",
        "style-src 'sha256-",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("referrer-policy"), "no-referrer");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert!(!answer.body.contains("<script"), "no script on any page");
}

/// Checks that a form came back with status 400 and an error beside `field`, and that
/// none of `secrets` typed into it was sent back.
fn assert_refused_beside(answer: &common::Answer, field: &str, secrets: &[&str]) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    let id = format!(r#"id="{field}-error""#);
    assert!(
        answer.body.contains(&id),
        "no error beside {field}: {}",
        answer.body
    );
    for secret in secrets {
        assert!(!answer.body.contains(secret), "a secret is sent back");
    }
}

/// The fields of the Preauthenticate form for the demo app at `sandbox`.
fn demo_form<'a>(
    csrf: &'a str,
    name: &'a str,
    sandbox: &'a str,
    redirect: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("platform", "exact-online/nl"),
        ("api_url", sandbox),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
        ("redirect_uri", redirect),
    ]
}

#[test]
fn the_login_url_works_once_an_admin_key_logs_in_and_pages_need_a_login() {
    let ws = Workspace::new();
    let admin = api_key(&ws, "ops", "admin");
    let jobs = api_key(&ws, "jobs", "token");
    let mut server = Server::start(&ws, &[]);

    let mut stranger = server.visitor();
    for path in [
        "/connections",
        "/preauthenticate",
        "/register",
        "/connections/x",
    ] {
        let answer = stranger.get(path);
        assert_eq!(answer.status, 303, "{path}");
        assert_eq!(answer.header("location"), "/login", "{path}");
    }

    // An unknown path: a page for a browser, JSON for programs.
    let page = common::exchange(
        "GET",
        &format!("{}/nope", server.url),
        "Accept: text/html\r\n",
        "",
    );
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("There is no page here."),
        "{}",
        page.body
    );
    assert_guarded(&page);
    let json = common::exchange("GET", &format!("{}/nope", server.url), "", "");
    assert_eq!(json.status, 404);
    assert!(json.body.contains(r#""error":"no_route""#), "{}", json.body);

    // The login URL printed at start: once.
    let login_path = server.login_path().to_string();
    let mut first = server.visitor();
    let answer = first.get(&login_path);
    assert_eq!(answer.status, 303);
    assert_eq!(answer.header("location"), "/connections");
    let cookie = answer.header("set-cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let page = first.get("/connections");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No connections yet."));
    assert_guarded(&page);
    let again = server.visitor().get(&login_path);
    assert_eq!(again.status, 401);
    assert!(again.body.contains("used already"), "{}", again.body);
    // The pages speak in words: no statement of the script to type.
    assert!(!again.body.contains("create api key"), "{}", again.body);

    // An admin key logs in; other keys and a missing CSRF token do not.
    let mut person = server.visitor();
    let form = person.get("/login");
    assert_guarded(&form);
    let csrf = Pages::csrf(&form);
    let no_csrf = person.post("/login", &[("api_key", &admin)]);
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    let wrong = person.post("/login", &[("csrf", &csrf), ("api_key", "pak_not-a-key")]);
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains(r#"id="api_key-error""#),
        "{}",
        wrong.body
    );
    assert!(
        !wrong.body.contains("pak_not-a-key"),
        "a key is never sent back"
    );
    assert!(
        wrong.body.contains("dropped by the operator") && !wrong.body.contains("api key`"),
        "{}",
        wrong.body
    );
    server.wait_for_stderr(0, "was refused the pages with an API key that is not known");
    let token_scope = person.post("/login", &[("csrf", &csrf), ("api_key", &jobs)]);
    assert_eq!(token_scope.status, 401);
    assert!(
        token_scope.body.contains("scope token"),
        "{}",
        token_scope.body
    );
    server.wait_for_stderr(0, "was refused the pages with API key 'jobs' (scope token)");
    let signed = person.post("/login", &[("csrf", &csrf), ("api_key", &admin)]);
    assert_eq!(signed.status, 303, "{}", signed.body);
    let page = person.get("/connections");
    assert_eq!(page.status, 200);

    // Logging out ends the session.
    let csrf = Pages::csrf(&page);
    assert_eq!(person.post("/logout", &[("csrf", &csrf)]).status, 303);
    assert_eq!(person.get("/connections").status, 303);

    // A session lasts only as long as the key that opened it: dropped, or dropped and
    // made again under its name, the key no longer opens the pages.
    let temp = api_key(&ws, "temp-admin", "admin");
    let form = person.get("/login");
    let csrf = Pages::csrf(&form);
    let signed = person.post("/login", &[("csrf", &csrf), ("api_key", &temp)]);
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(person.get("/connections").status, 200);
    ws.run_c("drop api key 'temp-admin'").exits(0);
    api_key(&ws, "temp-admin", "admin");
    let after = person.get("/connections");
    assert_eq!(after.status, 303, "the dropped key's session ended");
    assert_eq!(after.header("location"), "/login");
    server.wait_for_stderr(0, "the API key that opened the session is gone");
    let outcome = server.stop();
    outcome.keeps_secret(&[&admin, &jobs, &temp]);
}

#[test]
fn form_errors_are_shown_beside_their_field_and_store_nothing() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut server = Server::start(&ws, &[]);
    let own = format!("{}/callback", server.url);
    let mut pages = server.pages();
    let form = pages.get("/preauthenticate");
    assert!(
        form.body.contains(&format!(r#"value="{own}""#)),
        "own callback prefilled"
    );
    assert!(form.body.contains(r#"<label for="client_id">"#));
    let csrf = Pages::csrf(&form);
    let before = ws.settings_snapshot();

    // Without (or with another session's) CSRF token: refused.
    let mut fields = demo_form("", "demo", &sandbox.url, &own);
    fields.remove(0);
    assert_eq!(pages.post("/preauthenticate", &fields).status, 403);
    let forged = demo_form("forged", "demo", &sandbox.url, &own);
    assert_eq!(pages.post("/preauthenticate", &forged).status, 403);

    // Empty name, another redirect URI without "deviating": beside each field.
    let bad = demo_form(&csrf, "", &sandbox.url, WEB_REDIRECT);
    let answer = pages.post("/preauthenticate", &bad);
    assert_refused_beside(&answer, "name", &[DEMO_CLIENT_SECRET]);
    assert_refused_beside(&answer, "redirect_uri", &[]);
    assert!(answer.body.contains("Deviating redirect URI"));

    // An unknown country, a name that cannot be a file name.
    let mut unknown = demo_form(&csrf, "demo", "", &own);
    unknown[2] = ("platform", "exact-online/xx");
    let answer = pages.post("/preauthenticate", &unknown);
    assert_refused_beside(&answer, "platform", &[]);
    let answer = pages.post(
        "/preauthenticate",
        &demo_form(&csrf, "a/b", &sandbox.url, &own),
    );
    assert_refused_beside(&answer, "name", &[]);

    // The OEM form: required tokens, and a time that is not one.
    let register = [
        ("csrf", csrf.as_str()),
        ("name", "oem"),
        ("platform", "exact-online/nl"),
        ("api_url", sandbox.url.as_str()),
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_url", WEB_REDIRECT),
        ("access_token", "at-secret-value"),
        ("refresh_token", ""),
    ];
    let answer = pages.post("/register", &register);
    assert_refused_beside(&answer, "refresh_token", &["at-secret-value"]);
    let mut timed = register.to_vec();
    timed[7] = ("refresh_token", "rt-secret-value");
    timed.push(("obtained_at", "yesterday-ish"));
    let answer = pages.post("/register", &timed);
    assert_refused_beside(&answer, "obtained_at", &["rt-secret-value"]);

    assert_eq!(ws.settings_snapshot(), before, "nothing changed on disk");

    // Callbacks with a state nobody started: an error page each, nothing stored, and
    // a flood of them does not flood the log.
    let mut stranger = server.visitor();
    let logged = server.stderr_lines();
    for i in 0..300 {
        let answer = stranger.get(&format!("/callback?code=abc&state=forged-{i}"));
        assert_eq!(answer.status, 400);
        assert!(answer.body.contains(r#"role="alert""#), "{}", answer.body);
    }
    let refusals = server.wait_for_stderr(logged, "/callback: refused");
    assert!(!refusals.contains("forged-"), "{refusals}");
    let outcome = server.stop();
    let about_callback: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("/callback"))
        .collect();
    assert_eq!(
        about_callback.len(),
        21,
        "20 refusals one by one, then a sum: {about_callback:#?}"
    );
    assert!(
        about_callback
            .last()
            .is_some_and(|l| l.contains("280 more returns to /callback refused")),
        "{about_callback:#?}"
    );
    let stored: Vec<String> = ws
        .settings_snapshot()
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("settings-"))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
}

#[test]
fn a_login_through_the_own_callback_then_the_result_page_seals_until_asked() {
    // Auto-approve: the platform's first answer is the redirect back to the callback,
    // which this test delivers from one browser or another.
    let sandbox = SandboxProcess::start(&["--auto-approve"]);
    let ws = Workspace::new();
    let mut server = Server::start(&ws, &[]);
    let own = format!("{}/callback", server.url);
    let mut pages = server.pages();
    let csrf = Pages::csrf(&pages.get("/preauthenticate"));

    let started = pages.post(
        "/preauthenticate",
        &demo_form(&csrf, "Demo", &sandbox.url, &own),
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let login = meta_refresh(&started.body);
    assert!(login.starts_with(&sandbox.url), "{login}");
    let back = common::exchange("GET", &login, "", "")
        .header("location")
        .to_string();
    let back = back
        .strip_prefix(&server.url)
        .unwrap_or_else(|| panic!("back to the own callback: {back}"));
    // The return of a login started in this browser does not complete in another.
    let elsewhere = server.visitor().get(back);
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("started in another browser"),
        "{}",
        elsewhere.body
    );
    assert!(pages.cookie("preauth_browser").is_some());
    let done = pages.get(back);
    assert_eq!(done.status, 200, "{}", done.body);
    let connections = pages.get("/connections");
    assert!(
        connections.body.contains(">Demo</a>"),
        "{}",
        connections.body
    );
    assert!(
        connections.body.contains("state-OK"),
        "{}",
        connections.body
    );

    let result = pages.get("/connections/Demo");
    assert_eq!(result.status, 200);
    assert!(result.body.contains("settings-Demo.xml"));
    assert!(
        result.body.contains("dk1:"),
        "sealed by default: {}",
        result.body
    );
    let exported = ws.run_c("export settings 'Demo' plain").stdout;
    let refresh_token = common::connection_string_value(&exported, "api-refresh-token");
    assert!(!result.body.contains(&refresh_token));
    assert!(!result.body.contains(DEMO_CLIENT_SECRET));

    // The secrets only by a POST with the CSRF token.
    let csrf = Pages::csrf(&result);
    assert_eq!(pages.post("/connections/Demo/secrets", &[]).status, 403);
    let shown = pages.post("/connections/Demo/secrets", &[("csrf", &csrf)]);
    assert_eq!(shown.status, 200);
    assert_eq!(shown.header("cache-control"), "no-store");
    assert!(shown.body.contains(&refresh_token));
    let statement = html_unescape(
        shown
            .body
            .split(r#"<pre aria-label="Encrypt statement">"#)
            .nth(1)
            .and_then(|s| s.split("</pre>").next())
            .expect("the encrypt statement"),
    );

    // The statement works on the target machine: its output is a connection string
    // that opens there, and jobs there get the access token.
    let target = Workspace::new().with_own_device_key();
    let sealed = target.run_c(&statement);
    sealed.exits(0);
    let sealed = sealed.stdout.trim().to_string();
    assert!(sealed.starts_with("dk1:"), "{sealed}");
    target.write_settings("Demo", &sealed);
    let token = target.run(&["token", "Demo"]);
    token.exits(0);
    let access_token = common::connection_string_value(&exported, "api-access-token");
    assert_eq!(token.stdout.trim(), access_token);

    // Log in again, then drop with a confirmation.
    let again = pages.post("/connections/Demo/login", &[("csrf", &csrf)]);
    assert!(meta_refresh(&again.body).starts_with(&sandbox.url));
    let confirm = pages.get("/connections/Demo/drop");
    assert!(confirm.body.contains("cannot be undone"));
    assert_eq!(pages.post("/connections/Demo/drop", &[]).status, 403);
    assert!(ws.run_c("show connection 'Demo'").code == 0, "still there");
    let dropped = pages.post("/connections/Demo/drop", &[("csrf", &csrf)]);
    assert_eq!(dropped.status, 303);
    let after = pages.get("/connections");
    assert!(
        after.body.contains("Connection &#39;Demo&#39; dropped.")
            || after.body.contains("Connection 'Demo' dropped."),
        "{}",
        after.body
    );
    assert!(
        !pages.get("/connections").body.contains("dropped."),
        "shown once"
    );
    assert_eq!(pages.get("/connections/Demo").status, 404);
    let outcome = server.stop();
    outcome.keeps_secret(&[&refresh_token, DEMO_CLIENT_SECRET, &access_token]);
    // The log says who did what.
    outcome.warns(&[
        "the login link: logged in to the pages",
        "the login link: started a login for connection 'Demo' at 127.0.0.1",
        "the platform's return to /callback: stored connection 'Demo'",
        "the login link: was shown the secrets of connection 'Demo'",
        "the login link: dropped connection 'Demo'",
    ]);
}

/// The target of a page's `<meta http-equiv="refresh">`.
fn meta_refresh(body: &str) -> String {
    let at = body
        .find(r#"content="0;url="#)
        .unwrap_or_else(|| panic!("no refresh in {body}"))
        + r#"content="0;url="#.len();
    html_unescape(body[at..].split('"').next().unwrap_or_default())
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn behind_a_proxy_the_pages_use_the_public_url_and_secure_cookies() {
    let ws = Workspace::new();
    let refused = ws.run(&["serve", "--listen", "127.0.0.1:0", "--behind-proxy"]);
    refused.exits(2).warns(&["--public-url"]);
    assert_eq!(refused.stdout, "");
    let bad = ws.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--behind-proxy",
        "--public-url",
        "https://preauth.example.com/sub",
    ]);
    bad.exits(2)
        .warns(&["--public-url 'https://preauth.example.com/sub'"]);

    let public = "https://preauth.example.com";
    let server = Server::start(&ws, &["--behind-proxy", "--public-url", public]);
    assert!(server.login.starts_with(&format!("{public}/login?token=")));
    let mut visitor = server.visitor();
    let signed = visitor.get(server.login_path());
    assert!(
        signed.header("set-cookie").ends_with("; Secure"),
        "{signed:?}"
    );
    let form = visitor.get("/preauthenticate");
    assert!(
        form.body.contains(&format!(r#"value="{public}/callback""#)),
        "the own callback is on the public URL"
    );
}

#[test]
fn without_a_login_url_only_an_admin_key_logs_in() {
    use std::io::{BufRead, BufReader, Read};
    let ws = Workspace::new();
    let mut child = ws
        .preauth()
        .args(["serve", "--listen", "127.0.0.1:0", "--no-login-url"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("preauth serve starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let url = url.trim().to_string();
    let (status, _) = common::http("GET", &format!("{url}/healthz"), None);
    assert_eq!(status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut rest, mut stderr) = (String::new(), String::new());
    stdout.read_to_string(&mut rest).unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(rest, "", "no login URL");
    assert!(
        stderr.contains("log in to the pages with an API key of scope admin"),
        "{stderr}"
    );
}

#[test]
fn a_flood_of_visitors_who_never_log_in_locks_nobody_out() {
    let ws = Workspace::new();
    let admin = api_key(&ws, "ops", "admin");
    let server = Server::start(&ws, &[]);
    // More visitors than the server keeps sessions for (10,000), from 8 clients at once.
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    (0..1_260)
                        .map(|_| server.visitor().get("/login").status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        calls
            .into_iter()
            .flat_map(|c| c.join().expect("a client"))
            .collect()
    });
    assert_eq!(answers.len(), 10_080);
    assert!(
        answers.iter().all(|s| *s == 200),
        "every visitor got the form"
    );
    // The printed login link and an admin key both still log in.
    let mut pages = server.pages();
    assert_eq!(pages.get("/connections").status, 200);
    let mut visitor = server.visitor();
    let form = visitor.get("/login");
    let csrf = Pages::csrf(&form);
    let signed = visitor.post("/login", &[("csrf", &csrf), ("api_key", &admin)]);
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(visitor.get("/connections").status, 200);
}
