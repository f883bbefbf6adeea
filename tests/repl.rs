//! The interactive shell on a real pseudo-terminal: `preauth` with no arguments, driven by
//! rexpect as a person at a terminal would drive it. rustyline paints keywords and emits
//! bracketed-paste and cursor escapes, so the output is read with ANSI escapes stripped.

mod common;

use std::process::Command;

use common::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace, free_port,
};
use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

/// Each expectation's limit: generous for 2 busy cores, short enough to fail fast.
const TIMEOUT_MS: u64 = 20_000;
/// The REPL's prompt.
const PROMPT: &str = "preauth> ";

/// A `preauth` REPL on its own pseudo-terminal.
struct Repl {
    session: PtySession,
}

impl Repl {
    /// Starts `preauth` (no arguments) in `ws` and waits for the first prompt.
    fn start(ws: &Workspace) -> Repl {
        Repl::start_with_banner(ws, |_| ())
    }

    /// Starts `preauth` (no arguments) in `ws`, waits for the first prompt and hands what
    /// came before it (the banner) to `check`.
    fn start_with_banner(ws: &Workspace, check: impl FnOnce(&str)) -> Repl {
        Repl::start_command(ws.preauth(), check)
    }

    /// Starts `command` (a `preauth` without arguments) on a pseudo-terminal, waits for the
    /// first prompt and hands what came before it (the banner) to `check`.
    fn start_command(mut command: Command, check: impl FnOnce(&str)) -> Repl {
        command.env("TERM", "xterm");
        // The pseudo-terminal has no size: without `LINES` nothing is paged, unless the
        // test asks for it.
        if !command.get_envs().any(|(name, _)| name == "LINES") {
            command.env_remove("LINES");
        }
        let options = Options::new()
            .timeout_ms(Some(TIMEOUT_MS))
            .strip_ansi_escape_codes(true);
        let session = spawn_with_options(command, options).expect("preauth runs on a pty");
        let mut repl = Repl { session };
        check(&repl.expect(PROMPT));
        repl
    }

    /// Sends keys as typed (no Enter).
    fn keys(&mut self, keys: &str) {
        self.session.send(keys).expect("keys reach the pty");
        self.session.flush().expect("keys are flushed");
    }

    /// Waits for `needle`; returns what came before it.
    fn expect(&mut self, needle: &str) -> String {
        self.session
            .exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"))
    }

    /// Types `statement` and Enter, waits until the editor accepted it (its last line
    /// followed by a line break) and then for the next prompt; returns what the statement
    /// printed in between.
    fn run(&mut self, statement: &str) -> String {
        self.keys(statement);
        self.keys("\r");
        let last_line = statement.rsplit('\n').next().unwrap_or(statement);
        self.accepted(last_line);
        self.expect(PROMPT)
    }

    /// Waits until the editor accepted an input ending in `last_line`: the line's final
    /// redraw is followed by a line break (`\r\r\n`), every earlier one by a redraw.
    fn accepted(&mut self, last_line: &str) {
        let mut pattern = String::new();
        for c in last_line.chars() {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str("\r*\n");
        self.session
            .exp_regex(&pattern)
            .unwrap_or_else(|e| panic!("waiting for {last_line:?} to be accepted: {e}"));
    }

    /// Presses Ctrl-D at an empty prompt and returns the exit code.
    fn quit(mut self) -> i32 {
        self.session.send_control('d').expect("Ctrl-D is sent");
        self.ended()
    }

    /// Waits for the shell to end and returns its exit code.
    fn ended(mut self) -> i32 {
        self.session.exp_eof().expect("the shell ends");
        match self.session.process().wait().expect("preauth is reaped") {
            WaitStatus::Exited(_, code) => code,
            other => panic!("preauth did not exit normally: {other:?}"),
        }
    }
}

/// Asserts that `text` (what the terminal showed) holds every one of `needles`.
fn assert_shows(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in {text:?}");
    }
}

/// Asserts that `text` holds none of `secrets`.
fn assert_hides(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} leaked: {text:?}");
    }
}

/// Runs a batch statement in `ws` (setup outside the terminal); asserts success.
fn batch(ws: &Workspace, statements: &str) {
    let out = ws
        .preauth()
        .args(["-c", statements])
        .output()
        .expect("preauth runs");
    assert!(
        out.status.success(),
        "setup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `register connection` text for `name` with the demo app and the given refresh token.
fn register(name: &str, refresh_token: &str) -> String {
    format!(
        "register connection '{name}' platform exact api url 'http://127.0.0.1:9/' \
         client id '{DEMO_CLIENT_ID}' client secret '{DEMO_CLIENT_SECRET}' \
         redirect url 'https://example.invalid/callback' \
         access token 'at-{name}' refresh token '{refresh_token}';"
    )
}

/// `preauth sandbox --approve URL`: logs in as the demo user in a separate process; prints
/// the return URL unless it delivered it to a loopback listener itself.
fn approve(url: &str) -> String {
    let out = Command::new(assert_cmd::cargo::cargo_bin("preauth"))
        .args(["sandbox", "--approve", url])
        .output()
        .expect("preauth sandbox --approve runs");
    assert!(
        out.status.success(),
        "approving failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// Types a `preauthenticate` statement and returns the authorization URL it prints.
fn start_preauthenticate(
    repl: &mut Repl,
    sandbox: &SandboxProcess,
    name: &str,
    redirect: &str,
) -> String {
    repl.keys(&format!(
        "preauthenticate exact api url '{}' client id '{DEMO_CLIENT_ID}' \
         client secret '{DEMO_CLIENT_SECRET}' redirect url '{redirect}' as connection '{name}';\r",
        sandbox.url
    ));
    repl.expect(&format!("for connection '{name}' at:\r\n  "));
    let url = repl.expect("\r\n");
    assert!(
        url.starts_with(&sandbox.url) && url.contains("state="),
        "not an authorization URL: {url:?}"
    );
    assert!(
        !url.contains(DEMO_CLIENT_SECRET),
        "the URL carries the secret"
    );
    url
}

#[test]
fn statements_run_multi_line_input_continues_until_semicolon_and_local_ends_at_newline() {
    let ws = Workspace::new();
    batch(&ws, &register("acme-books", "rt-acme"));
    let mut repl = Repl::start(&ws);

    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online", "twinfield"]);

    // Enter without `;` continues the statement on the next line; nothing runs yet.
    repl.keys("show\r");
    repl.keys("connections");
    repl.expect("connections");
    repl.keys(";\r");
    repl.accepted("connections;");
    let listed = repl.expect(PROMPT);
    assert_shows(&listed, &["acme-books"]);
    assert_hides(&listed, &["expected"]);

    // `local` statements end at the line break, no `;` needed.
    let defined = repl.run("local define WHO world");
    assert_hides(&defined, &["error"]);
    let echoed = repl.run("local echo hello ${WHO}");
    assert_shows(&echoed, &["hello world\r\n"]);

    assert_eq!(repl.quit(), 0);
}

#[test]
fn tab_completes_keywords_and_connection_names() {
    let ws = Workspace::new();
    batch(
        &ws,
        &format!(
            "{} {}",
            register("acme-books", "rt-a"),
            register("zeta", "rt-z")
        ),
    );
    let mut repl = Repl::start(&ws);

    // A keyword, then a connection name with its quotes.
    repl.keys("sho\t");
    repl.expect("preauth> show ");
    repl.keys("connection ac\t");
    repl.expect("preauth> show connection 'acme-books'");
    let shown = repl.run(";");
    assert_shows(&shown, &["name                    acme-books"]);

    // A keyword in the case typed, and a name after an opened quote.
    repl.keys("SHO\t");
    repl.expect("preauth> SHOW ");
    repl.keys("CONNECTION 'ze\t");
    repl.expect("preauth> SHOW CONNECTION 'zeta'");
    let shown = repl.run(";");
    assert_shows(&shown, &["name                    zeta"]);
    assert_hides(&shown, &["rt-z"]);

    assert_eq!(repl.quit(), 0);
}

#[test]
fn ctrl_c_cancels_the_statement_being_typed_and_ctrl_d_exits_with_0() {
    let ws = Workspace::new();
    batch(&ws, &register("keep", "rt-keep"));
    let mut repl = Repl::start(&ws);

    // A statement over two lines, cancelled before its `;`.
    repl.keys("drop connection\r");
    repl.keys("'keep'");
    repl.expect("'keep'");
    repl.session.send_control('c').expect("Ctrl-C is sent");
    repl.expect(PROMPT);

    let listed = repl.run("show connections;");
    assert_shows(&listed, &["keep"]);
    assert_eq!(repl.quit(), 0);

    assert!(ws.settings().join("settings-keep.xml").exists());
    let history = std::fs::read_to_string(ws.settings().join("history.txt")).expect("history");
    assert_hides(&history, &["drop"]);
}

#[test]
fn errors_show_line_column_and_caret_and_the_session_goes_on() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let misspelt = repl.run("shwo platforms;");
    assert_shows(
        &misspelt,
        &[
            ":1:1: 'shwo' does not start a statement",
            "1 | shwo platforms",
            "  | ^",
            "did you mean 'show'?",
        ],
    );

    // An error on the second line of an input names line 2 and points at the word.
    repl.keys("show\r");
    let second = repl.run("  platfrms;");
    assert_shows(
        &second,
        &[
            ":2:3: expected",
            "2 |   platfrms",
            "  |   ^",
            "did you mean 'platforms'?",
        ],
    );

    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online"]);
    assert_eq!(repl.quit(), 0);
}

#[test]
fn history_is_private_keeps_no_secret_literal_and_comes_back_next_session() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let sealed = repl.run("encrypt value 'hunter2';");
    assert_shows(&sealed, &["dk1:"]);
    assert_hides(&sealed, &["hunter2"]);
    let registered = repl.run(&register("hist", "rt-typed-secret"));
    assert_shows(&registered, &["connection 'hist' registered"]);
    assert_hides(
        &registered,
        &["rt-typed-secret", "at-hist", DEMO_CLIENT_SECRET],
    );
    repl.run("show platforms;");
    assert_eq!(repl.quit(), 0);

    let path = ws.settings().join("history.txt");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("history")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "history mode {mode:o}");
    }
    let history = std::fs::read_to_string(&path).expect("history");
    assert_shows(
        &history,
        &[
            "show platforms;",
            "encrypt value '<redacted>';",
            "register connection 'hist'",
        ],
    );
    assert_hides(
        &history,
        &["hunter2", "rt-typed-secret", "at-hist", DEMO_CLIENT_SECRET],
    );

    // The next session recalls the redacted entries with the Up arrow.
    let mut repl = Repl::start(&ws);
    repl.keys("\x1b[A\x1b[A");
    repl.expect("preauth> register connection 'hist'");
    repl.expect("refresh token '<redacted>'");
    repl.session.send_control('c').expect("Ctrl-C is sent");
    repl.expect(PROMPT);
    assert_eq!(repl.quit(), 0);
}

#[test]
fn preauthenticate_takes_a_pasted_return_url() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let url = start_preauthenticate(&mut repl, &sandbox, "p", "https://example.invalid/callback");
    let waiting = repl.expect("Paste the URL your browser landed on and press Enter:");
    assert_hides(&waiting, &[DEMO_CLIENT_SECRET]);
    let back = approve(&url);
    assert!(
        back.starts_with("https://example.invalid/callback?") && back.contains("code="),
        "{back:?}"
    );
    repl.keys(&format!("{back}\r"));
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'p' authorized"]);
    assert_hides(&stored, &[DEMO_CLIENT_SECRET]);

    let listed = repl.run("show connections;");
    assert!(
        listed.lines().any(|row| row.starts_with("p ")),
        "{listed:?}"
    );
    assert_eq!(repl.quit(), 0);
    let file = ws.settings_file("p");
    assert!(
        !file.contains(DEMO_CLIENT_SECRET),
        "the settings file is not encrypted"
    );
}

#[test]
fn preauthenticate_takes_the_loopback_callback_while_waiting() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    let url = start_preauthenticate(&mut repl, &sandbox, "l", &redirect);
    repl.expect("Waiting for the browser to come back");
    // The scripted login follows the redirect to the REPL's listener itself.
    assert_eq!(approve(&url), "");
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'l' authorized"]);
    assert_hides(&stored, &[DEMO_CLIENT_SECRET]);

    // The REPL reads the terminal again.
    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online"]);
    assert_eq!(repl.quit(), 0);
    assert!(ws.settings().join("settings-l.xml").exists());
}

#[test]
fn ctrl_d_at_the_paste_prompt_leaves_the_authorization_to_exchange_code_url() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let url = start_preauthenticate(
        &mut repl,
        &sandbox,
        "later",
        "https://example.invalid/callback",
    );
    repl.expect("Paste the URL your browser landed on and press Enter:");
    repl.session.send_control('d').expect("Ctrl-D is sent");
    let abandoned = repl.expect(PROMPT);
    assert_shows(&abandoned, &["exchange code url"]);
    assert!(!ws.settings().join("settings-later.xml").exists());

    // The started authorization is finished by a later statement in the same session.
    let back = approve(&url);
    let stored = repl.run(&format!("exchange code url '{back}';"));
    assert_shows(&stored, &["connection 'later' authorized"]);
    assert_eq!(repl.quit(), 0);
    assert!(ws.settings().join("settings-later.xml").exists());
}

#[test]
fn a_failing_statement_reports_its_error_and_the_shell_goes_on() {
    let ws = Workspace::new();
    batch(&ws, &register("kept", "rt-kept"));
    let mut repl = Repl::start(&ws);

    let missing = repl.run("show connection 'nosuch';");
    assert_shows(&missing, &["error:", "nosuch"]);
    let undefined = repl.run("local echo ${NOT_DEFINED}");
    assert_shows(&undefined, &["error:", "NOT_DEFINED"]);
    // The rest of a failing input is skipped, as in a script.
    let skipped = repl.run("show connection 'nosuch'; local echo not reached");
    assert_hides(&skipped, &["not reached\r\n"]);

    let listed = repl.run("show connections;");
    assert_shows(&listed, &["kept"]);
    assert_eq!(repl.quit(), 0);

    // A script still stops at the error with exit code 1.
    let out = ws
        .preauth()
        .args(["-c", "show connection 'nosuch'; local echo not reached"])
        .output()
        .expect("preauth runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not reached"));
}

#[test]
fn local_on_error_exit_ends_the_shell_with_its_code() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);
    repl.run("local on error exit warning");
    repl.keys("show connection 'nosuch';\r");
    repl.session.exp_eof().expect("the shell ends");
    match repl.session.process().wait().expect("preauth is reaped") {
        WaitStatus::Exited(_, code) => assert_eq!(code, 3),
        other => panic!("preauth did not exit normally: {other:?}"),
    }
}

#[test]
fn banner_help_and_the_way_out() {
    let ws = Workspace::new();
    let mut repl = Repl::start_with_banner(&ws, |banner| {
        assert_shows(
            banner,
            &[
                concat!("preauth ", env!("CARGO_PKG_VERSION")),
                &ws.settings().display().to_string(),
                "help",
            ],
        );
    });

    // `help` lists the kinds of statement and the shell commands; `help all` every
    // statement with its syntax and an example.
    for ask in ["help", "\\?"] {
        let short = repl.run(ask);
        assert_shows(
            &short,
            &["show ", "refresh ", "help all", "exit, quit, \\q"],
        );
    }
    let all = repl.run("help all");
    assert_shows(
        &all,
        &[
            "show connection 'name'",
            "e.g. show connection 'books';",
            "refresh all connections [older than N days]",
            "exit, quit, \\q",
        ],
    );
    let one = repl.run("help drop;");
    assert_shows(&one, &["drop connection [if exists] 'name'"]);
    assert_hides(&one, &["show platforms"]);

    // Completion offers the shell's words and the help topics (from the same table).
    repl.keys("hel\t");
    repl.expect("preauth> help ");
    repl.keys("refresh a\t");
    repl.expect("preauth> help refresh all ");
    let refresh = repl.run("");
    assert_shows(&refresh, &["refresh all connections older than 7 days;"]);

    // An unfinished statement shows the continuation prompt.
    repl.keys("show\r");
    repl.expect("      -> ");
    // `platform` and `platforms` both fit: Tab offers one, then the other.
    repl.keys("plat\t");
    repl.expect("      -> platform ");
    repl.keys("\t");
    repl.expect("      -> platforms ");
    let platforms = repl.run(";");
    assert_shows(&platforms, &["exact-online"]);

    // `exit` leaves without `;`, with exit code 0.
    repl.keys("exit\r");
    assert_eq!(repl.ended(), 0);
    for way_out in ["quit;", "\\q", "QUIT"] {
        let mut repl = Repl::start(&ws);
        repl.keys(&format!("{way_out}\r"));
        repl.session.exp_eof().expect("the shell ends");
    }
}

#[test]
fn a_history_entry_with_its_secret_removed_refuses_to_run() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);
    let sealed = repl.run("encrypt value 'hunter2';");
    assert_shows(&sealed, &["dk1:"]);
    repl.run("local define PASSWORD \"s3cret-define\"");
    repl.run("local define USER bare-s3cret");
    assert_eq!(repl.quit(), 0);

    let history = std::fs::read_to_string(ws.settings().join("history.txt")).expect("history");
    assert_shows(
        &history,
        &[
            "local define PASSWORD '<redacted>'",
            "local define USER '<redacted>'",
        ],
    );
    assert_hides(&history, &["hunter2", "s3cret-define", "bare-s3cret"]);

    // Recalled and run as is, the redacted entry is refused; typed again, it runs.
    let mut repl = Repl::start(&ws);
    repl.keys("\x1b[A\x1b[A\x1b[A");
    repl.expect("preauth> encrypt value '<redacted>';");
    repl.keys("\r");
    repl.accepted("encrypt value '<redacted>';");
    let refused = repl.expect(PROMPT);
    assert_shows(
        &refused,
        &["this line came from history with its secret removed; type the secret again"],
    );
    assert_hides(&refused, &["dk1:"]);
    let sealed = repl.run("encrypt value 'hunter2';");
    assert_shows(&sealed, &["dk1:"]);
    assert_eq!(repl.quit(), 0);
}

#[test]
fn ctrl_c_cancels_a_login_waiting_for_the_browser_and_the_prompt_comes_back() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    // Waiting for the loopback listener (or a paste).
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    start_preauthenticate(&mut repl, &sandbox, "wait", &redirect);
    repl.expect("Waiting for the browser to come back");
    repl.session.send_control('c').expect("Ctrl-C is sent");
    let cancelled = repl.expect(PROMPT);
    assert_shows(&cancelled, &["cancelled", "exchange code url"]);
    // The terminal belongs to the shell again: nothing reads it behind its back.
    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online"]);
    // The listener let go of its port: the same login can start again and finish.
    let url = start_preauthenticate(&mut repl, &sandbox, "wait", &redirect);
    repl.expect("Waiting for the browser to come back");
    assert_eq!(approve(&url), "");
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'wait' authorized"]);

    // Waiting for a paste.
    start_preauthenticate(
        &mut repl,
        &sandbox,
        "paste",
        "https://example.invalid/callback",
    );
    repl.expect("Paste the URL your browser landed on and press Enter:");
    repl.session.send_control('c').expect("Ctrl-C is sent");
    let cancelled = repl.expect(PROMPT);
    assert_shows(&cancelled, &["cancelled", "exchange code url"]);
    let listed = repl.run("show connections;");
    assert_shows(&listed, &["wait"]);
    assert_hides(&listed, &["paste"]);
    assert_eq!(repl.quit(), 0);
    assert!(!ws.settings().join("settings-paste.xml").exists());
}

/// A newcomer's first session, end to end: the banner, `help`, a typo, a failing statement
/// and a working one, a login with a bad paste and a good one, Ctrl-C during a login, the
/// cancelled statement recalled from history (refused until its secret is typed again), a
/// new login of the stored connection without its secret, and `\q`.
#[test]
fn a_newcomers_session_from_banner_to_quit() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start_with_banner(&ws, |banner| {
        assert_shows(
            banner,
            &[concat!("preauth ", env!("CARGO_PKG_VERSION")), "help"],
        );
    });

    // Asking for help lists the kinds of statement, and how to see one with an example.
    let help = repl.run("help");
    assert_shows(
        &help,
        &["preauthenticate", "help <statement>", "exit, quit, \\q"],
    );
    let one = repl.run("help show connection");
    assert_shows(&one, &["e.g. show connection 'books';"]);

    // A typo is pointed at and the nearest statement suggested.
    let typo = repl.run("shwo connections;");
    assert_shows(
        &typo,
        &[
            ":1:1: 'shwo' does not start a statement",
            "1 | shwo connections",
            "did you mean 'show'?",
        ],
    );

    // A failing statement says why; the next one runs as if nothing happened.
    let failed = repl.run("show connection 'books';");
    assert_shows(&failed, &["error:", "books"]);
    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online"]);

    // A login by pasting the URL the browser landed on: a bad paste says what is wrong and
    // asks again; the good one stores the connection.
    let url = start_preauthenticate(&mut repl, &sandbox, "books", WEB_REDIRECT);
    repl.expect("Paste the URL your browser landed on and press Enter:");
    let back = approve(&url);
    repl.keys("oops, not the URL\r");
    let asked_again = repl.expect("Paste the URL your browser landed on and press Enter:");
    assert_shows(
        &asked_again,
        &["That is not the return URL of this login: "],
    );
    assert_hides(&asked_again, &[PROMPT]);
    repl.keys(&format!("{back}\r"));
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'books' authorized"]);
    assert_hides(&stored, &[DEMO_CLIENT_SECRET]);

    // Ctrl-C while a login waits for the browser gives the prompt back.
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    start_preauthenticate(&mut repl, &sandbox, "later", &redirect);
    repl.expect("Waiting for the browser to come back");
    repl.session.send_control('c').expect("Ctrl-C is sent");
    let cancelled = repl.expect(PROMPT);
    assert_shows(&cancelled, &["cancelled"]);

    // Up recalls the cancelled statement with its secret removed: refused as it is ...
    repl.keys("\x1b[A");
    repl.expect("preauth> preauthenticate exact");
    repl.expect("client secret '<redacted>'");
    repl.keys("\r");
    let refused =
        repl.expect("this line came from history with its secret removed; type the secret again");
    assert_hides(&refused, &["Log in to"]);
    let after = repl.expect(PROMPT);
    assert_hides(&after, &["Log in to"]);
    // ... and runs once the secret is typed again.
    let url = start_preauthenticate(&mut repl, &sandbox, "later", &redirect);
    repl.expect("Waiting for the browser to come back");
    assert_eq!(approve(&url), "");
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'later' authorized"]);

    // A new login of a stored connection needs neither its app nor its secret.
    repl.keys("preauthenticate connection 'books';\r");
    repl.expect("for connection 'books' at:\r\n  ");
    let url = repl.expect("\r\n");
    repl.expect("Paste the URL your browser landed on and press Enter:");
    repl.keys(&format!("{}\r", approve(&url)));
    let again = repl.expect(PROMPT);
    assert_shows(&again, &["connection 'books' authorized"]);
    assert_hides(&again, &[DEMO_CLIENT_SECRET]);

    let listed = repl.run("show connections;");
    assert_shows(&listed, &["books", "later"]);

    // `\q` leaves with exit code 0; the history kept no secret.
    repl.keys("\\q\r");
    repl.session.exp_eof().expect("\\q ends the shell");
    match repl.session.process().wait().expect("preauth is reaped") {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("preauth did not exit normally: {other:?}"),
    }
    let history = std::fs::read_to_string(ws.settings().join("history.txt")).expect("history");
    assert_shows(
        &history,
        &[
            "show platforms;",
            "client secret '<redacted>'",
            "preauthenticate connection 'books';",
        ],
    );
    assert_hides(&history, &[DEMO_CLIENT_SECRET, "code="]);
}

/// A paste that is not the return URL does not lose the login: it says what is wrong and
/// asks again, and a loopback listener keeps waiting meanwhile.
#[test]
fn a_bad_paste_asks_again_and_the_login_goes_on() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    // Waiting for a paste only: a bad one, then the good one.
    let url = start_preauthenticate(&mut repl, &sandbox, "pasted", WEB_REDIRECT);
    repl.expect("Paste the URL your browser landed on and press Enter:");
    let back = approve(&url);
    repl.keys("this is not the return URL\r");
    let asked_again = repl.expect("Paste the URL your browser landed on and press Enter:");
    assert_shows(
        &asked_again,
        &["That is not the return URL of this login: "],
    );
    assert_hides(&asked_again, &[PROMPT]);
    // The return URL of another (older) attempt: its state is not this login's.
    repl.keys(&format!("{}\r", back.replacen("state=", "state=older", 1)));
    let asked_again = repl.expect("Paste the URL your browser landed on and press Enter:");
    assert_shows(&asked_again, &["another (older) login attempt"]);
    assert_hides(&asked_again, &[PROMPT]);
    repl.keys(&format!("{back}\r"));
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'pasted' authorized"]);

    // Waiting for the loopback listener too: after a bad paste the browser still gets in.
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    let url = start_preauthenticate(&mut repl, &sandbox, "listened", &redirect);
    repl.expect("Waiting for the browser to come back");
    repl.keys("https://example.invalid/not-the-callback\r");
    repl.expect("That is not the return URL of this login: ");
    repl.expect("Paste the URL your browser landed on and press Enter:");
    assert_eq!(approve(&url), "");
    let stored = repl.expect(PROMPT);
    assert_shows(&stored, &["connection 'listened' authorized"]);
    assert_eq!(repl.quit(), 0);
}

/// Issue 22, items 3 and 11: a statement with a typo is kept in history (its secret
/// redacted, its names as typed) so that Up brings it back to fix, and its error shows the
/// names but not the secret, in the shell and in a script.
#[test]
fn a_statement_with_a_typo_comes_back_with_up_and_its_echo_hides_only_the_secret() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);

    let typo = repl.run(
        "preauthenticate exact client id 'my-id' client secrte 'hunter2' redirect url 'r' as connection 'books';",
    );
    assert_shows(
        &typo,
        &[
            "client id 'my-id' client secrte '*******'",
            "did you mean 'secret'?",
        ],
    );
    assert_hides(&typo, &["hunter2"]);
    let misspelt = repl.run("show conection 'demo';");
    assert_shows(&misspelt, &["1 | show conection 'demo'"]);
    let failed = repl.run("show connection 'nosuch';");
    assert_shows(&failed, &["error:", "nosuch"]);

    // Up brings back each one, the secret of the first one removed.
    for recalled in [
        "show connection 'nosuch';",
        "show conection 'demo';",
        "preauthenticate exact client id 'my-id' client secrte '<redacted>'",
    ] {
        repl.keys("\x1b[A");
        repl.expect(&format!("{PROMPT}{recalled}"));
    }
    repl.session.send_control('c').expect("Ctrl-C is sent");
    repl.expect(PROMPT);
    // Fixed with Up: the typo corrected, the rest as typed.
    repl.keys("\x1b[A\x1b[A");
    repl.expect("preauth> show conection 'demo';");
    repl.keys(&format!("\x1b[H{}n", "\x1b[C".repeat(8)));
    repl.expect("show connection 'demo';");
    repl.keys("\r");
    repl.accepted("show connection 'demo';");
    let fixed = repl.expect(PROMPT);
    assert_shows(&fixed, &["error:", "'demo'"]);
    assert_hides(&fixed, &["does not start", "expected"]);
    assert_eq!(repl.quit(), 0);

    let history = std::fs::read_to_string(ws.settings().join("history.txt")).expect("history");
    assert_shows(
        &history,
        &[
            "client secrte '<redacted>' redirect url 'r' as connection 'books';",
            "show conection 'demo';",
            "show connection 'demo';",
        ],
    );
    assert_hides(&history, &["hunter2"]);

    // A script's error echo shows the name, not the secret.
    let out = ws
        .preauth()
        .args([
            "-c",
            "show conection 'demo'",
            "-c",
            "alter connection 'b' set client secrte 'hunter2'",
        ])
        .output()
        .expect("preauth runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_shows(&stderr, &["1 | show conection 'demo'"]);
    assert_hides(&stderr, &["'****'"]);
}

/// Issue 22, item 4: the shell's commands work on any line, also while a statement is
/// unfinished, as backslash commands do in psql; unknown ones are named with the known
/// ones; `\r` clears the statement; a backslash inside a string is text.
#[test]
fn shell_commands_work_while_a_statement_is_unfinished() {
    let ws = Workspace::new();
    let mut repl = Repl::start(&ws);
    let continuation = "      -> ";

    // `\?` and `help` show help and keep the statement typed so far.
    repl.keys("show\r");
    repl.expect(continuation);
    repl.keys("\\?\r");
    repl.accepted("\\?");
    let help = repl.expect(continuation);
    assert_shows(&help, &["exit, quit, \\q", "\\r"]);
    assert_hides(&help, &[PROMPT]);
    repl.keys("help drop\r");
    repl.accepted("help drop");
    let drop = repl.expect(continuation);
    assert_shows(&drop, &["drop connection [if exists] 'name'"]);
    let platforms = repl.run("platforms;");
    assert_shows(&platforms, &["exact-online"]);

    // Unknown commands are named, with the known ones; the statement stays.
    repl.keys("show\r");
    repl.expect(continuation);
    for unknown in ["\\l", "\\h"] {
        repl.keys(&format!("{unknown}\r"));
        repl.accepted(unknown);
        let refused = repl.expect(continuation);
        assert_shows(
            &refused,
            &[
                &format!("'{unknown}' is not a command of this shell"),
                "\\q, exit or quit",
                "\\r",
            ],
        );
    }
    // `\r` clears it: the next line starts a statement.
    repl.keys("\\r\r");
    repl.expect("(the statement being typed is cleared)");
    repl.expect(PROMPT);
    let platforms = repl.run("show platforms;");
    assert_shows(&platforms, &["exact-online"]);

    // A lone word that is no statement is an error, not the start of one.
    let clear = repl.run("clear");
    assert_shows(
        &clear,
        &["'clear' is neither a statement nor a command", "\\q"],
    );
    let typo = repl.run("shwo connections");
    assert_shows(&typo, &["'shwo' does not start a statement"]);

    // Inside a string, `\q` is text.
    repl.keys("encrypt value 'line one\r");
    repl.expect(continuation);
    repl.keys("\\q\r");
    repl.accepted("\\q");
    repl.expect(continuation);
    let sealed = repl.run("';");
    assert_shows(&sealed, &["dk1:"]);

    // `\q` and `exit` leave from the middle of a statement, with exit code 0.
    repl.keys("drop connection\r");
    repl.expect(continuation);
    repl.keys("\\q\r");
    assert_eq!(repl.ended(), 0);
    let mut repl = Repl::start(&ws);
    repl.keys("show\r");
    repl.expect(continuation);
    repl.keys("exit\r");
    assert_eq!(repl.ended(), 0);
}

/// Issue 22, item 15: `help` is a short list that fits a terminal, `help <statement>` the
/// full text of one, and text longer than the terminal goes through `$PAGER` (printed
/// directly when the pager cannot start, and always in a script).
#[test]
fn help_is_short_and_long_help_goes_through_the_pager() {
    let ws = Workspace::new();
    let paged = |pager: &str| {
        let mut command = ws.preauth();
        command.env("PAGER", pager).env("LINES", "24");
        Repl::start_command(command, |_| ())
    };
    let mut repl = paged("sed s/^/paged:/");

    let short = repl.run("help");
    assert_shows(&short, &["register ", "help all", "\\q"]);
    assert_hides(&short, &["paged:", "e.g. register"]);
    let lines = short.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(lines < 24, "{lines} lines: {short}");

    let register = repl.run("help register");
    assert_shows(
        &register,
        &[
            "[obtained at 'RFC 3339 time'] [verify]",
            "e.g. register connection 'books'",
        ],
    );
    assert_hides(&register, &["drop connection", "paged:"]);

    let all = repl.run("help all");
    assert_shows(
        &all,
        &[
            "paged:drop connection [if exists] 'name'",
            "paged:    e.g. show connection 'books';",
        ],
    );
    assert_eq!(repl.quit(), 0);

    // A pager that cannot start: the text is printed directly.
    let mut repl = paged("/nonexistent/pager");
    let all = repl.run("help all");
    assert_shows(
        &all,
        &["drop connection [if exists] 'name'", "exit, quit, \\q"],
    );
    assert_eq!(repl.quit(), 0);

    // A script prints help without a pager and without opening the settings folder.
    let fresh = ws.path().join("no-settings-yet");
    for (args, shown) in [
        (&["-c", "help"][..], "help <statement>"),
        (
            &["-c", "help refresh"],
            "refresh all connections [older than N days]",
        ),
        (&["-c", "\\?"], "help all"),
    ] {
        let out = ws
            .preauth()
            .env("PAGER", "sed s/^/paged:/")
            .arg("--settings-dir")
            .arg(&fresh)
            .args(args)
            .output()
            .expect("preauth runs");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_shows(&stdout, &[shown]);
        assert_hides(&stdout, &["paged:"]);
    }
    assert!(!fresh.exists(), "help created the settings folder");
}
