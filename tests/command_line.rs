//! The command line itself: `-c` and `-f` as in psql, a suggestion for a mistyped
//! subcommand, an empty `PREAUTH_SETTINGS_DIR`, and help pages with examples.

mod common;

use common::{Outcome, Workspace};

#[test]
fn repeated_c_and_f_run_in_the_order_given_in_one_session() {
    let ws = Workspace::new();
    ws.write("middle.sql", "local echo from the file ${WHO}\n");
    let run = ws.run(&[
        "-c",
        "local define WHO world",
        "-f",
        "middle.sql",
        "-c",
        "local echo last",
        "--file",
        "middle.sql",
    ]);
    run.exits(0);
    assert_eq!(
        run.stdout, "from the file world\nlast\nfrom the file world\n",
        "{run:#?}"
    );
}

#[test]
fn a_failing_script_stops_the_run_and_a_syntax_error_anywhere_stops_it_before_anything_runs() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.settings()).expect("a settings folder");
    let failed = ws.run(&[
        "-c",
        "local echo first",
        "-c",
        "show connection 'nosuch'",
        "-c",
        "local echo not reached",
    ]);
    failed.exits(1).says(&["first"]).warns(&["nosuch"]);
    assert!(!failed.stdout.contains("not reached"), "{failed:#?}");

    let syntax = ws.run(&["-c", "local echo first", "-c", "shwo platforms"]);
    syntax.exits(2).warns(&["did you mean 'show'?"]);
    assert!(!syntax.stdout.contains("first"), "{syntax:#?}");

    // `local on error continue` carries over to the next script; the run still fails.
    let continued = ws.run(&[
        "-c",
        "local on error continue",
        "-c",
        "show connection 'nosuch'",
        "-c",
        "local echo reached",
    ]);
    continued.exits(1).says(&["reached"]);
}

#[test]
fn a_missing_file_named_like_a_subcommand_gets_a_suggestion() {
    let ws = Workspace::new();
    ws.run(&["tokn"])
        .exits(2)
        .warns(&["cannot read tokn", "did you mean 'token'?"]);
    ws.run(&["chekc"])
        .exits(2)
        .warns(&["did you mean 'check'?"]);
    let far = ws.run(&["nightly"]);
    far.exits(2).warns(&["cannot read nightly"]);
    assert!(!far.stderr.contains("did you mean"), "{far:#?}");
}

#[test]
fn an_empty_settings_dir_variable_counts_as_unset() {
    let ws = Workspace::new();
    let home = ws.path().join("home");
    std::fs::create_dir_all(&home).expect("a home folder");
    let run = |statements: &str| {
        Outcome::of(
            ws.preauth()
                .env("PREAUTH_SETTINGS_DIR", "")
                .env("HOME", &home)
                .args(["-c", statements]),
        )
    };
    // ~/.preauth is the folder: a reader is told it is missing, a writer creates it.
    run("show connections")
        .exits(1)
        .warns(&[".preauth does not exist"]);
    run("create api key 'jobs' scope token").exits(0);
    assert!(home.join(".preauth").is_dir());
}

#[test]
fn statements_that_only_read_never_create_a_settings_folder() {
    let ws = Workspace::new();
    let typo = ws.path().join("typo");
    let typo_arg = typo.to_str().expect("UTF-8 path");
    for statements in [
        "show connections",
        "show connection 'acme'",
        "local echo 'checking'; check connections",
        "show api keys; show machines",
    ] {
        let run = ws.run(&["--settings-dir", typo_arg, "-c", statements]);
        run.exits(1).warns(&[
            &format!("settings folder {typo_arg} does not exist"),
            "--settings-dir",
        ]);
        assert_eq!(run.stderr.lines().count(), 1, "one sentence: {run:#?}");
        assert!(!run.stdout.contains("name"), "no table: {run:#?}");
        assert!(!typo.exists(), "{statements}: the folder was created");
    }
    // Statements that store something still create it.
    ws.run(&[
        "--settings-dir",
        typo_arg,
        "-c",
        "create api key 'jobs' scope token; show api keys",
    ])
    .exits(0)
    .says(&["jobs"]);
    assert!(typo.is_dir());
    ws.run(&["--settings-dir", typo_arg, "-c", "show connections"])
        .exits(0);
}

#[test]
fn a_mistyped_subcommand_with_arguments_gets_a_suggestion() {
    let ws = Workspace::new();
    let typo = ws.run(&["tokn", "acme"]);
    typo.exits(2)
        .warns(&["did you mean 'token'?", "preauth token acme"]);
    assert!(!typo.stderr.contains("unexpected argument"), "{typo:#?}");
    ws.run(&["chekc", "--warn-days", "3"])
        .exits(2)
        .warns(&["did you mean 'check'?", "preauth check --warn-days 3"]);
    // A script file of that name is a script, whatever it is called.
    ws.write("tokn", "local echo ran\n");
    let file = ws.run(&["tokn", "extra"]);
    file.exits(2);
    assert!(!file.stderr.contains("did you mean"), "{file:#?}");
}

#[test]
fn every_help_page_has_examples_and_sandbox_help_shows_only_its_own_options() {
    let ws = Workspace::new();
    for page in [
        &["--help"][..],
        &["token", "--help"],
        &["check", "--help"],
        &["sandbox", "--help"],
    ] {
        ws.run(page).exits(0).says(&["Examples:\n  preauth"]);
    }
    let main = ws.run(&["--help"]);
    main.says(&["-f, --file <FILE>", "-c, --command <STATEMENTS>"]);

    let sandbox = ws.run(&["sandbox", "--help"]);
    sandbox.says(&[
        "--port",
        "--apps",
        "\"redirect_uris\"",
        "\"access_token_seconds\"",
        "POST /sandbox/clock/advance?seconds=N",
        "POST /sandbox/faults",
        "{\"fault\":\"drop_after_rotate\"}",
        "{\"fault\":\"delay\",\"millis\":250}",
        "{\"fault\":\"http500\"}",
        "{\"fault\":\"invalid_json\"}",
        "{\"fault\":\"plain_text400\"}",
        "GET  /sandbox/counters",
    ]);
    for other in ["--settings-dir", "--format", "--lock-timeout"] {
        assert!(!sandbox.stdout.contains(other), "{other} in {sandbox:#?}");
    }
    // The options the other commands share still work before and after them.
    let missing = ws.path().join("nowhere");
    let missing = missing.to_str().expect("UTF-8 path");
    ws.run(&["--settings-dir", missing, "check"])
        .exits(3)
        .says(&["nowhere"]);
    ws.run(&["check", "--settings-dir", missing])
        .exits(3)
        .says(&["nowhere"]);
}

#[test]
fn the_sandbox_on_a_taken_port_says_to_give_another() {
    let ws = Workspace::new();
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = held.local_addr().unwrap().port().to_string();
    let outcome = ws.run(&["sandbox", "--port", &port]);
    outcome.exits(1).warns(&[
        &format!("cannot listen on 127.0.0.1:{port}"),
        "give --port another port, or --port 0 for a free one",
    ]);
    assert_eq!(outcome.stdout, "");
}

#[test]
fn a_connection_to_the_embedded_sandbox_of_an_earlier_run_is_explained_and_can_be_moved() {
    let ws = Workspace::new();
    let login = common::preauthenticate("${SANDBOX_URL}", &common::loopback_redirect(), "demo");
    ws.run(&["--sandbox", "-c", &login]).exits(0);

    // The next run has a new sandbox on a new port: trying again cannot help, and it says so.
    let again = ws.run(&["--sandbox", "-c", "refresh connection 'demo' force"]);
    again.exits(1).warns(&[
        "note: connection 'demo' was made against a sandbox at http://127.0.0.1:",
        "that no longer runs",
        "so trying again will not reach it",
    ]);
    let advice = again
        .stderr
        .split('`')
        .rev()
        .nth(1)
        .expect("the statement last in backquotes")
        .to_string();
    assert_eq!(
        advice,
        "alter connection 'demo' set api url '${SANDBOX_URL}'; preauthenticate connection 'demo'"
    );
    // The advice works, in a run of its own.
    ws.run(&[
        "--sandbox",
        "-c",
        &format!("{advice}; show connection 'demo'"),
    ])
    .exits(0)
    .says(&["valid"]);

    // A run that succeeds, or one without the sandbox, has nothing to explain.
    let fine = ws.run(&["--sandbox", "-c", "show connections"]);
    assert!(!fine.exits(0).stderr.contains("note:"), "{fine:#?}");
}
