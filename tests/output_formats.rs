//! Output for people and for programs, end to end against a `preauth sandbox` process:
//! `show connections` keeps the API URL out of `country` and an unusable connection's
//! reason out of `status`; CSV and JSON have snake_case keys and RFC 3339 times (the
//! table keeps the human form); remarks such as `local echo` stay out of a CSV or JSON
//! stream; `check connections` keeps its status line in every format; time left reads as
//! a person says it.

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
    assert_eq!(acme["country"], "", "the sandbox is no Exact host");
    assert_eq!(acme["status"], "valid");
    assert_eq!(acme["problem"], "");
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

    // `show connection` shows times the same way.
    let one = formatted(&ws, "json", "show connection 'acme'");
    let props: serde_json::Value = serde_json::from_str(&one.exits(0).stdout).expect("JSON");
    let value = |key: &str| {
        props
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["property"] == key)
            .unwrap_or_else(|| panic!("no {key}"))["value"]
            .clone()
    };
    assert_eq!(value("refresh token expires"), refresh_expires.as_str());
    assert_eq!(
        value("refresh token obtained"),
        rfc3339(obtained[0]).as_str()
    );
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

    let json = formatted(&ws, "json", "check connections");
    let rows: serde_json::Value = serde_json::from_str(&json.exits(0).stdout).expect("JSON");
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["name"], "acme");
    assert_eq!(rows[0]["check"], "CRITICAL");
    assert_eq!(rows[1]["name"], "");
    assert_eq!(rows[1]["check"], "CRITICAL");
    assert_eq!(rows[1]["reason"], status);

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
