//! Output for people and for programs, end to end against a `preauth sandbox` process:
//! `show connections` keeps the API URL out of `country` and an unusable connection's
//! reason out of `status`; CSV and JSON have snake_case keys and RFC 3339 times (the
//! table keeps the human form); remarks such as `local echo` stay out of a CSV or JSON
//! stream; `check connections` keeps its status line in every format; time left reads as
//! a person says it. JSON is NDJSON (one document per printing statement, each on one
//! line) with booleans and nulls; tables fit the terminal, or are expanded.

mod common;

use std::time::Duration;

use common::{DAY, Registered, Workspace, rfc3339};

/// `preauth --format FORMAT -c STATEMENTS` in `ws`.
fn formatted(ws: &Workspace, format: &str, statements: &str) -> common::Outcome {
    ws.run(&["--format", format, "-c", statements])
}

/// A settings file that cannot be used: its connection string does not parse.
fn broken_connection(ws: &Workspace, name: &str) {
    ws.write_settings(name, "api-client-id=only");
}

#[test]
fn show_connections_has_columns_people_and_programs_can_read() {
    // Another machine with the same tokens spent acme-gone's refresh token first.
    let Registered {
        sandbox,
        ws,
        obtained,
        ..
    } = Registered::new(&[("acme", Duration::ZERO)]);
    broken_connection(&ws, "broken");
    let refresh_expires = rfc3339(obtained[0] + 30 * DAY);

    let json = formatted(&ws, "json", "show connections");
    let rows: serde_json::Value = serde_json::from_str(&json.exits(0).stdout).expect("JSON");
    let acme = &rows[0];
    assert_eq!(acme["name"], "acme");
    assert_eq!(acme["api_url"], sandbox.url.as_str());
    assert_eq!(
        acme["country"],
        serde_json::Value::Null,
        "the sandbox is no Exact host"
    );
    assert_eq!(acme["status"], "valid");
    assert_eq!(acme["problem"], serde_json::Value::Null);
    assert_eq!(acme["encrypted"], true);
    assert_eq!(acme["refresh_token_expires"], refresh_expires.as_str());
    let access = acme["access_token_expires"].as_str().expect("a time");
    assert!(
        humantime::parse_rfc3339(access).is_ok(),
        "not RFC 3339: {access}"
    );
    let broken = &rows[1];
    assert_eq!(broken["name"], "broken");
    assert_eq!(broken["status"], "unusable");
    let problem = broken["problem"].as_str().expect("a reason");
    assert!(problem.contains("settings-broken.xml"), "{problem}");

    let csv = formatted(&ws, "csv", "show connections");
    let lines: Vec<&str> = csv.exits(0).stdout.lines().collect();
    assert_eq!(
        lines[0],
        "name,platform,country,api_url,status,access_token_expires,refresh_token_expires,encrypted,problem"
    );
    assert!(
        lines[1].contains(&format!(",{refresh_expires},yes,")),
        "{lines:?}"
    );
    assert!(lines[2].starts_with("broken,,,,unusable,,,"), "{lines:?}");

    // The table keeps the human form and a short status.
    let table = ws.run_c("show connections");
    let text = &table.exits(0).stdout;
    let human = format!(
        "{} UTC",
        refresh_expires.trim_end_matches('Z').replace('T', " ")
    );
    assert!(text.contains(&human), "{text}");
    let broken_line = text
        .lines()
        .find(|l| l.starts_with("broken"))
        .expect("a row");
    let cells: Vec<&str> = broken_line.split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(cells[1].trim(), "unusable", "{broken_line}");

    // `show connection` is one object, with times the same way.
    let one = formatted(&ws, "json", "show connection 'acme'");
    let props: serde_json::Value = serde_json::from_str(&one.exits(0).stdout).expect("JSON");
    assert_eq!(props["refresh_token_expires"], refresh_expires.as_str());
    assert_eq!(
        props["refresh_token_obtained"],
        rfc3339(obtained[0]).as_str()
    );
    assert_eq!(props["name"], "acme");
    assert_eq!(props["client_secret"], true);
    assert_eq!(props["access_token"], true);
    assert_eq!(props["encrypted"], true);
    assert_eq!(props["problem"], serde_json::Value::Null);
    assert_eq!(props["last_refresh_failure"], serde_json::Value::Null);
}

#[test]
fn remarks_stay_out_of_csv_and_json_and_check_keeps_its_status_line() {
    // 29 days and 19 hours old: 5 hours left of Exact's 30 days.
    let Registered { ws, .. } =
        Registered::new(&[("acme", 29 * DAY + Duration::from_secs(19 * 3600))]);

    for format in ["json", "csv"] {
        let out = formatted(
            &ws,
            format,
            "local echo 'starting'; show connections; local echo 'done'",
        );
        out.exits(0);
        assert!(!out.stdout.contains("starting"), "{out:#?}");
        assert_eq!(out.stderr, "starting\ndone\n", "{out:#?}");
    }
    let json = formatted(&ws, "json", "local echo 'hi'; show connections");
    serde_json::from_str::<serde_json::Value>(&json.stdout).expect("only JSON on stdout");
    // A table run prints remarks in line.
    ws.run_c("local echo 'hi'").exits(0).says(&["hi"]);

    // Under a day left: hours, not "0 days".
    let table = ws.run_c("check connections");
    let text = &table.exits(0).stdout;
    assert!(
        text.contains("refresh token expires in 5 hours ("),
        "{text}"
    );
    let status = text.lines().last().expect("a status line");
    assert!(status.starts_with("PREAUTH CRITICAL - acme: "), "{status}");

    // In JSON, the check is one object, as `preauth check --format json` prints it.
    let json = formatted(&ws, "json", "check connections");
    let check: serde_json::Value = serde_json::from_str(&json.exits(0).stdout).expect("JSON");
    assert_eq!(check["state"], "CRITICAL");
    assert_eq!(check["summary"], status);
    let rows = check["connections"].as_array().expect("an array");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["name"], "acme");
    assert_eq!(rows[0]["state"], "CRITICAL");
    assert_eq!(rows[0]["refresh_refused"], false);
    let plugin = ws.run(&["check", "--format", "json"]);
    let same: serde_json::Value = serde_json::from_str(&plugin.exits(2).stdout).expect("JSON");
    assert_eq!(same, check);

    let csv = formatted(&ws, "csv", "check connections");
    let lines: Vec<&str> = csv.exits(0).stdout.lines().collect();
    assert_eq!(lines[0], "name,platform,check,reason");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[2].starts_with(",,CRITICAL,"), "{lines:?}");
    assert!(lines[2].contains("PREAUTH CRITICAL - acme: "), "{lines:?}");

    // The plugin says the same.
    let plugin = ws.run(&["check"]);
    assert!(plugin.stdout.contains("expires in 5 hours"), "{plugin:#?}");
}

/// Every JSON document on standard output, parsed by serde_json as a stream; asserts that
/// each sits on a line of its own (NDJSON).
fn documents(stdout: &str) -> Vec<serde_json::Value> {
    let all: Vec<serde_json::Value> = serde_json::Deserializer::from_str(stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not a stream of JSON documents ({e}): {stdout}"));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one document per line"))
        .collect();
    assert_eq!(all, lines, "{stdout}");
    all
}

#[test]
fn json_is_one_document_per_statement_on_a_line_with_booleans_and_nulls() {
    let Registered { ws, tokens, .. } = Registered::new(&[("acme", DAY)]);
    let out = formatted(
        &ws,
        "json",
        "local echo 'starting'; show connections; show connection 'acme'; \
         check connections; show platforms; show platform 'exact-online'; \
         encrypt value 'not for stdout as text'; local echo 'done'",
    );
    out.exits(0)
        .keeps_secret(&[&tokens[0].refresh_token, &tokens[0].access_token]);
    let docs = documents(&out.stdout);
    assert_eq!(docs.len(), 6, "{docs:#?}");
    assert_eq!(docs[0][0]["name"], "acme");
    assert_eq!(docs[0][0]["encrypted"], true);
    assert_eq!(docs[1]["name"], "acme", "show connection is an object");
    assert_eq!(docs[1]["refresh_token"], true);
    assert_eq!(docs[2]["state"], "OK");
    assert_eq!(docs[3][0]["pkce"], false, "{}", docs[3]);
    assert_eq!(docs[4]["id"], "exact-online");
    assert_eq!(docs[4]["nonce"], false);
    assert!(
        docs[5].as_str().is_some_and(|s| s.starts_with("dk1:")),
        "a single value is a JSON string: {}",
        docs[5]
    );
    assert!(!out.stdout.contains("yes") && !out.stdout.contains("(set)"));
    // A single statement is one document, as `json.load` wants it.
    let one = formatted(&ws, "json", "show connections");
    serde_json::from_str::<serde_json::Value>(&one.exits(0).stdout).expect("one document");
    assert_eq!(one.stdout.lines().count(), 1);
}

#[test]
fn a_refused_connection_keeps_its_expiry_and_the_plugin_summary_stays_short() {
    let Registered {
        sandbox: _sandbox,
        ws,
        obtained,
        ..
    } = Registered::with_a_spent_connection();

    let plugin = ws.run(&["check"]);
    plugin.exits(2);
    let mut lines = plugin.stdout.lines();
    let status = lines.next().expect("a status line");
    assert!(
        status.starts_with("PREAUTH CRITICAL - acme-gone: last refresh failed at "),
        "{status}"
    );
    assert!(status.contains("already used"), "{status}");
    assert!(status.len() < 250, "{} characters: {status}", status.len());
    assert!(
        status.ends_with("| connections=2 expiring=0 failed=1"),
        "{status}"
    );
    // The advice is in the long output.
    let long = lines.next().expect("the long output");
    assert!(
        long.starts_with("CRITICAL acme-gone: last refresh failed at "),
        "{long}"
    );
    assert!(long.contains("drop connection 'acme-gone'"), "{long}");

    let json = ws.run(&["check", "--format", "json"]);
    let docs = documents(&json.exits(2).stdout);
    assert_eq!(docs.len(), 1, "one document: {}", json.stdout);
    let check = &docs[0];
    assert_eq!(check["state"], "CRITICAL");
    assert_eq!(check["summary"], status);
    let gone = &check["connections"][0];
    assert_eq!(gone["name"], "acme-gone");
    assert_eq!(gone["refresh_refused"], true);
    assert_eq!(
        gone["refresh_token_expires_at"],
        rfc3339(obtained[0] + 30 * DAY).as_str(),
        "a refused token still has its expiry: {check}"
    );
    assert!(
        gone["advice"]
            .as_array()
            .is_some_and(|a| a.iter().any(|code| code == "new_tokens_from_partner")),
        "{check}"
    );
    assert_eq!(check["connections"][1]["state"], "OK");
}

/// `preauth ARGS` in `ws` on a terminal `columns` wide; everything it printed, line ends
/// as `\n`.
fn on_a_terminal(ws: &Workspace, columns: &str, args: &[&str]) -> String {
    let mut command = ws.preauth();
    command
        .env("COLUMNS", columns)
        .env("TERM", "xterm")
        .args(args);
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(20_000))
        .strip_ansi_escape_codes(true);
    let mut session =
        rexpect::session::spawn_with_options(command, options).expect("preauth on a pty");
    let bytes: Vec<u8> = session
        .exp_eof()
        .expect("preauth ends")
        .chars()
        .filter_map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    // rexpect hands over bytes as characters: put the UTF-8 back together.
    String::from_utf8(bytes)
        .expect("UTF-8")
        .replace("\r\n", "\n")
}

#[test]
fn tables_fit_the_terminal_and_the_expanded_display_shows_everything() {
    let Registered { ws, .. } = Registered::new(&[("acme", DAY)]);
    broken_connection(&ws, "broken");
    let text = on_a_terminal(&ws, "150", &["-c", "show connections"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 5, "{text}");
    for line in &lines[..4] {
        assert!(
            line.chars().count() <= 150,
            "wider than 150: {line:?}\n{text}"
        );
    }
    assert!(
        lines[3].starts_with("broken") && lines[3].ends_with('…'),
        "{text}"
    );
    assert_eq!(
        lines[4],
        "(cut to the terminal: show connection 'broken' or the expanded display (\\x, or --expanded) shows everything)"
    );
    // Too narrow for nine columns: expanded, as psql's `\x auto`.
    let narrow = on_a_terminal(&ws, "60", &["-c", "show connections"]);
    assert!(narrow.starts_with("-[ RECORD 1 ]"), "{narrow}");

    // Not a terminal: nothing is cut.
    let piped = ws.run_c("show connections");
    assert!(
        piped.exits(0).stdout.contains("add api-url=… to it\n"),
        "{piped:#?}"
    );
    assert!(!piped.stdout.contains("cut to the terminal"), "{piped:#?}");

    // -x: a block per row, nothing cut.
    for args in [
        &["-x", "-c", "show connections"][..],
        &["--expanded", "-c", "show connections"],
    ] {
        let expanded = on_a_terminal(&ws, "80", args);
        assert!(expanded.starts_with("-[ RECORD 1 ]"), "{expanded}");
        assert!(
            expanded.contains("\nname                  | acme\n"),
            "{expanded}"
        );
        assert!(expanded.contains("-[ RECORD 2 ]"), "{expanded}");
        assert!(expanded.contains("add api-url=… to it\n"), "{expanded}");
        assert!(!expanded.contains("cut to the terminal"), "{expanded}");
    }
}

#[test]
fn backslash_x_turns_the_expanded_display_on_and_off_in_the_shell() {
    let Registered { ws, .. } = Registered::new(&[("acme", DAY)]);
    let mut command = ws.preauth();
    command.env("TERM", "xterm").env("COLUMNS", "300");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(20_000))
        .strip_ansi_escape_codes(true);
    let mut shell =
        rexpect::session::spawn_with_options(command, options).expect("preauth on a pty");
    let prompt = "preauth> ";
    shell.exp_string(prompt).expect("a prompt");
    shell.send_line("\\x").expect("typed");
    shell.exp_string("Expanded display is on.").expect("on");
    shell.exp_string(prompt).expect("a prompt");
    shell.send_line("show connections;").expect("typed");
    shell.exp_string("-[ RECORD 1 ]").expect("a record");
    shell.exp_string("| acme").expect("the name");
    shell.exp_string(prompt).expect("a prompt");
    shell.send_line("\\x").expect("typed");
    shell.exp_string("Expanded display is off.").expect("off");
    shell.exp_string(prompt).expect("a prompt");
    shell.send_line("show connections;").expect("typed");
    let table = shell
        .exp_string("refresh token expires")
        .expect("the table");
    assert!(!table.contains("RECORD"), "{table}");
    shell.exp_string(prompt).expect("a prompt");
    shell.send_line("\\q").expect("typed");
    shell.exp_eof().expect("the shell ends");
}
