//! End-to-end tests of the `local` statements, `${NAME}` substitution, the exit codes and
//! the three batch input channels, running the `preauth` binary as a user would.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{Outcome, Workspace};

/// A statement that fails in any workspace (there is no such connection).
const FAILING: &str = "drop connection 'no-such-connection';";

/// `local on error MODE`, an echo, a failing statement, another echo.
fn on_error_script(mode: &str) -> String {
    format!("local on error {mode}\nlocal echo before\n{FAILING}\nlocal echo after\n")
}

#[test]
fn define_and_echo_substitute_case_insensitively_and_remark_does_nothing() {
    let ws = Workspace::new();
    let script = ws.write(
        "vars.sql",
        "local define Who 'world'\n\
         local echo hello ${WHO}\n\
         local echo 'it''s ${who}, quoted'\n\
         -- a comment\n\
         /* a block\n comment */ local remark ${NOT_DEFINED} is never substituted\n\
         LOCAL ECHO \"done\"\n",
    );
    ws.run(&[script.to_str().expect("UTF-8 path")])
        .exits(0)
        .says(&["hello world\nit's world, quoted\ndone\n"]);
}

#[test]
fn substitution_is_recursive_and_command_line_defines_take_part() {
    let ws = Workspace::new();
    ws.run(&[
        "-D",
        "greeting=hello ${WHO}",
        "-c",
        "local define who \"world\"\nlocal echo ${Greeting}!",
    ])
    .exits(0)
    .says(&["hello world!\n"]);
    let cycle = ws.run(&["-D", "a=${b}", "-D", "b=x${A}", "-c", "local echo ${a}"]);
    cycle
        .exits(1)
        .warns(&["refers to itself", "break the cycle"]);
    assert_eq!(cycle.stdout, "", "nothing is echoed from a cycle");
}

#[test]
fn an_undefined_name_fails_its_statement_and_stops_the_run() {
    let ws = Workspace::new();
    let out = ws.run_c("local echo before\nlocal echo ${NOPE}\nlocal echo after");
    out.exits(1)
        .warns(&["error: -c:2:1: '${NOPE}' is not defined"]);
    assert_eq!(out.stdout, "before\n", "the run stopped at the failure");
    assert_eq!(
        out.stderr.matches("-c:2:1").count(),
        1,
        "the place is named once: {}",
        out.stderr
    );
}

#[test]
fn undefine_removes_a_name_and_refuses_an_unknown_one() {
    let ws = Workspace::new();
    ws.run_c("local define x 'one'\nlocal echo ${x}\nlocal undefine X\nlocal echo ${x}")
        .exits(1)
        .says(&["one\n"])
        .warns(&["-c:4:1", "'${x}' is not defined"]);
    ws.run_c("local undefine never_defined")
        .exits(1)
        .warns(&["'never_defined' is not defined, so it cannot be undefined"]);
}

#[test]
fn include_is_relative_to_the_including_file_and_shares_defines() {
    let ws = Workspace::new();
    // A decoy next to the main script: a path resolved from the wrong folder picks it.
    ws.write("two.sql", "local echo decoy\n");
    ws.write(
        "lib/one.sql",
        "local echo one\nlocal include 'two.sql'\nlocal define from_include 'shared'\n",
    );
    ws.write("lib/two.sql", "local echo two\n");
    let main = ws.write(
        "main.sql",
        "local include 'lib/one.sql'\nlocal echo ${FROM_INCLUDE}\n",
    );
    // Run from another folder: the main script's own folder is the base, not the cwd.
    let elsewhere = tempfile::tempdir().expect("a folder");
    let out = Outcome::of(ws.preauth().current_dir(elsewhere.path()).arg(&main));
    out.exits(0);
    assert_eq!(out.stdout, "one\ntwo\nshared\n");
}

#[test]
fn include_of_a_missing_file_names_it_and_fails() {
    let ws = Workspace::new();
    let out = ws.run_c("local include 'missing.sql'\nlocal echo after");
    out.exits(1)
        .warns(&["cannot read included script", "missing.sql"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn an_include_cycle_stops_at_the_depth_limit() {
    let ws = Workspace::new();
    ws.write("b.sql", "local echo in b\nlocal include 'a.sql'\n");
    let a = ws.write("a.sql", "local echo in a\nlocal include 'b.sql'\n");
    let out = ws.run(&[a.to_str().expect("UTF-8 path")]);
    out.exits(1)
        .warns(&["nests deeper than", "levels; look for an include cycle"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() > 2, "it went round: {lines:?}");
    for (level, line) in lines.iter().enumerate() {
        let expected = if level % 2 == 0 { "in a" } else { "in b" };
        assert_eq!(*line, expected, "each level ran once, in turn: {lines:?}");
    }
}

#[test]
fn a_failing_statement_stops_the_run_with_exit_code_1() {
    let ws = Workspace::new();
    let out = ws.run_c(&format!("local echo one\n{FAILING}\nlocal echo two"));
    out.exits(1)
        .warns(&["error: -c:2:1: no connection named 'no-such-connection'"]);
    assert_eq!(out.stdout, "one\n", "later statements did not run");
}

#[test]
fn a_parse_error_anywhere_runs_nothing_and_writes_nothing() {
    let ws = Workspace::new();
    let script = ws.write(
        "bad.sql",
        "local echo first\n\
         create platform 'acme' authorize url 'https://idp.invalid/a' token url 'https://idp.invalid/t';\n\
         show connectionz;\n",
    );
    let path = script.to_str().expect("UTF-8 path");
    let out = ws.run(&[path]);
    out.exits(2).warns(&[
        "bad.sql:3:6",
        "found 'connectionz'",
        "did you mean 'connection'?",
    ]);
    assert_eq!(out.stdout, "", "not even the first statement ran");
    assert!(
        !ws.settings().exists(),
        "a parse error created the settings folder"
    );

    // With a settings folder in place, it is left byte for byte as it was.
    ws.run_c("create platform 'first' authorize url 'https://idp.invalid/a' token url 'https://idp.invalid/t';")
        .exits(0);
    let before = ws.settings_snapshot();
    assert!(!before.is_empty());
    ws.run(&[path]).exits(2);
    ws.run_c("drop connection if exists 'x'; refresh all connections older than;")
        .exits(2);
    assert_eq!(ws.settings_snapshot(), before);
}

#[test]
fn on_error_exit_warning_ends_the_run_with_exit_code_3() {
    let ws = Workspace::new();
    let out = ws.run_c(&on_error_script("exit warning"));
    out.exits(3).warns(&["no connection named"]);
    assert_eq!(out.stdout, "before\n");
}

#[test]
fn on_error_continue_runs_on_and_exits_1() {
    let ws = Workspace::new();
    let out = ws.run_c(&on_error_script("continue"));
    out.exits(1).warns(&["no connection named"]);
    assert_eq!(out.stdout, "before\nafter\n");
}

#[test]
fn on_error_ignore_forgets_the_failure() {
    let ws = Workspace::new();
    let out = ws.run_c(&on_error_script("ignore"));
    out.exits(0).warns(&["no connection named", "(ignored)"]);
    assert_eq!(out.stdout, "before\nafter\n");
}

#[test]
fn on_error_exit_success_and_failure_end_the_run_with_their_codes() {
    let ws = Workspace::new();
    for (mode, code) in [("exit success", 0), ("exit failure", 1), ("default", 1)] {
        let out = ws.run_c(&on_error_script(mode));
        out.exits(code);
        assert_eq!(out.stdout, "before\n", "{mode} stops at the failure");
    }
    // `default` after `continue` restores stopping.
    let out = ws.run_c(&format!(
        "local on error continue\n{FAILING}\nlocal on error default\n{FAILING}\nlocal echo never"
    ));
    out.exits(1);
    assert_eq!(out.stderr.matches("no connection named").count(), 2);
    assert_eq!(out.stdout, "");
}

/// A custom platform created by the first statement and listed by the last one, which
/// lacks its `;`: the listing proves both ran.
const TWO_STATEMENTS: &str = "create platform 'chan' authorize url 'https://idp.invalid/a'\n  \
                              token url 'https://idp.invalid/t';\nshow platforms";

#[test]
fn statements_come_from_a_file_from_c_and_from_standard_input() {
    let file_ws = Workspace::new();
    let script = file_ws.write("two.sql", TWO_STATEMENTS);
    let c_ws = Workspace::new();
    let outcomes = [
        file_ws.run(&[script.to_str().expect("UTF-8 path")]),
        c_ws.run_c(TWO_STATEMENTS),
        piped(&Workspace::new(), &[], TWO_STATEMENTS),
        piped(&Workspace::new(), &["-"], TWO_STATEMENTS),
    ];
    for out in &outcomes {
        out.exits(0)
            .says(&["platform 'chan' created in", "\nchan "]);
    }
}

/// `preauth ARGS` with `input` piped to standard input.
fn piped(ws: &Workspace, args: &[&str], input: &str) -> Outcome {
    let mut child = ws
        .preauth()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("preauth starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("the statements are written");
    let out = child.wait_with_output().expect("preauth ends");
    Outcome {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8"),
    }
}

#[test]
fn piped_errors_name_stdin_and_a_missing_file_is_a_usage_error() {
    let ws = Workspace::new();
    piped(&ws, &[], "local echo ok\nshow connectionz")
        .exits(2)
        .warns(&["<stdin>:2:6"]);
    ws.run(&["no-such-script.sql"])
        .exits(2)
        .warns(&["cannot read no-such-script.sql"]);
}

#[test]
fn echo_prints_each_statement_before_it_runs_with_secrets_redacted() {
    let ws = Workspace::new();
    let secret = "hunter2-literal-secret";
    let out = ws.run(&[
        "--echo",
        "-c",
        &format!("encrypt value '{secret}';\nlocal echo shown\nshow platforms;"),
    ]);
    out.exits(0)
        .warns(&[
            "> encrypt value '<redacted>';",
            "> local echo shown;",
            "> show platforms;",
        ])
        .says(&["dk1:", "shown\n"])
        .keeps_secret(&[secret]);
    // Without --echo nothing of the statements is printed.
    let quiet = ws.run_c("local echo shown");
    assert_eq!(quiet.stderr, "");
}

#[test]
fn advance_sandbox_clock_needs_the_embedded_sandbox() {
    let ws = Workspace::new();
    ws.run_c("advance sandbox clock by 10 minutes;")
        .exits(1)
        .warns(&["works only in a run started with --sandbox"]);
    let out = ws.run(&[
        "--sandbox",
        "-c",
        "local echo ${SANDBOX_URL}\nadvance sandbox clock by 2 days;",
    ]);
    out.exits(0)
        .says(&["http://127.0.0.1:", "sandbox clock now at "]);
}
