//! The key slots of a shared store (`--store postgres://…`) under concurrent changes and
//! behind preauth's back: the binary as users run it, against a throwaway PostgreSQL
//! cluster (one per test binary, a database per test) and `preauth sandbox` on loopback.
//! Two machines that drop each other at once never leave the store without a slot, and
//! a store whose slots are all gone is reported as broken, never given a new data key.

mod common;

use std::io::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{DAY, Outcome, SandboxProcess, Workspace};

/// A machine using the store at `url` under `name`, with a device key of its own.
fn machine(url: &str, name: &str) -> Workspace {
    Workspace::new()
        .with_env("PREAUTH_STORE", url)
        .with_env("PREAUTH_MACHINE", name)
}

/// Connection 'acme', registered from tokens a sandbox issued, in database `name` of
/// its own on the shared cluster, by machine 'alpha', the store's first.
struct Acme {
    url: String,
    /// Kept running for the store's connection.
    _sandbox: SandboxProcess,
    alpha: Workspace,
    /// The refresh token 'acme' was registered with.
    refresh_token: String,
}

impl Acme {
    /// `None` when PostgreSQL is not installed (after the one skip line).
    fn new(name: &str) -> Option<Acme> {
        let url = pg_throwaway::shared()?.new_database(name);
        let sandbox = SandboxProcess::start(&[]);
        let alpha = machine(&url, "alpha");
        let tokens = sandbox.issue_tokens(1);
        alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
        Some(Acme {
            url,
            _sandbox: sandbox,
            alpha,
            refresh_token: tokens[0].refresh_token.clone(),
        })
    }
}

/// `newcomer` (called `name`) enrolled with a code that `enrolled` makes.
fn enroll(enrolled: &Workspace, newcomer: &Workspace, name: &str) {
    let made = enrolled.run_c("enroll machine");
    made.exits(0);
    let code = made.stdout.trim().to_string();
    newcomer
        .run_c(&format!("enroll machine with code '{code}'"))
        .exits(0)
        .says(&[&format!("this machine is enrolled as '{name}'")]);
}

/// Runs `sql` in database `name` of the shared cluster; returns what it printed.
fn psql(name: &str, sql: &str) -> String {
    let cluster = pg_throwaway::shared().expect("the cluster the database is on");
    let out = cluster
        .psql(name)
        .args(["-c", sql])
        .output()
        .expect("psql (installed with the server) runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits (at most 20 s) until `sql`, a count, reaches `at_least` in `database`.
#[track_caller]
fn wait_for(database: &str, sql: &str, at_least: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while psql(database, sql).parse::<u32>().expect("a count") < at_least {
        assert!(Instant::now() < deadline, "never {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A psql session holding a row lock on every key slot (as a slow backup job might),
/// so that statements that change slots queue behind it and go at once when it ends:
/// the help that makes two drops line up every time instead of now and then.
struct SlotsHeld {
    session: Child,
}

impl SlotsHeld {
    fn take(database: &str) -> SlotsHeld {
        let cluster = pg_throwaway::shared().expect("the cluster the database is on");
        let mut session = cluster
            .psql(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("psql starts");
        session
            .stdin
            .as_mut()
            .expect("piped stdin")
            .write_all(b"BEGIN;\nSELECT slot FROM preauth_key_slots FOR UPDATE;\n")
            .expect("psql reads");
        wait_for(
            database,
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'idle in transaction'",
            1,
            "took the row locks",
        );
        SlotsHeld { session }
    }

    /// Ends the session's transaction once `waiting` preauth sessions wait for a lock.
    fn release_when_waited_on(mut self, database: &str, waiting: u32) {
        wait_for(
            database,
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'preauth'
             AND wait_event_type = 'Lock'",
            waiting,
            "had both drops waiting",
        );
        let mut stdin = self.session.stdin.take().expect("piped stdin");
        stdin.write_all(b"COMMIT;\n").expect("psql reads");
        drop(stdin);
        assert!(self.session.wait().expect("psql ends").success());
    }
}

/// How many key slots of machines (not enrollment codes) the store has.
fn machine_slots(database: &str) -> u32 {
    psql(
        database,
        "SELECT count(*) FROM preauth_key_slots WHERE kind <> 'enrollment'",
    )
    .parse()
    .expect("a count")
}

/// Asserts that `ws` opens connection 'acme' with the store's one data key: its plain
/// export holds the refresh token registered at the start.
#[track_caller]
fn opens_acme(ws: &Workspace, refresh_token: &str) {
    ws.run_c("export settings 'acme' plain")
        .exits(0)
        .says(&[&format!("api-refresh-token={refresh_token}")]);
}

#[test]
fn two_machines_dropping_each_other_at_once_always_leave_one_slot() {
    let database = "drop_each_other";
    let Some(acme) = Acme::new(database) else {
        return;
    };
    let (alpha, refresh_token) = (&acme.alpha, acme.refresh_token.as_str());
    let beta = machine(&acme.url, "beta");
    enroll(alpha, &beta, "beta");
    let machines = [("alpha", alpha), ("beta", &beta)];
    for round in 0..20 {
        assert_eq!(machine_slots(database), 2, "round {round} starts with both");
        // Each drops the other, both queued behind a held row lock so that they go at
        // once.
        let held = SlotsHeld::take(database);
        let children: Vec<_> = machines
            .iter()
            .zip(machines.iter().rev())
            .map(|((_, ws), (other, _))| {
                ws.preauth()
                    .args(["-c", &format!("drop machine '{other}'")])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("preauth starts")
            })
            .collect();
        held.release_when_waited_on(database, 2);
        let outcomes: Vec<Outcome> = children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().expect("preauth ends");
                Outcome {
                    code: out.status.code().expect("an exit code"),
                    stdout: String::from_utf8_lossy(&out.stdout).into(),
                    stderr: String::from_utf8_lossy(&out.stderr).into(),
                }
            })
            .collect();
        // Exactly one of them dropped the other; the other was refused.
        let winner = match (outcomes[0].code, outcomes[1].code) {
            (0, 1) => 0,
            (1, 0) => 1,
            _ => panic!("round {round}: one drop must win, one be refused: {outcomes:#?}"),
        };
        let loser = 1 - winner;
        outcomes[winner].says(&[&format!("machine '{}' dropped", machines[loser].0)]);
        outcomes[loser].warns(&["holds the last key slot that opens this store"]);
        assert_eq!(machine_slots(database), 1, "round {round}: one slot left");
        // The winner still opens every connection: the data key is the one it had.
        opens_acme(machines[winner].1, refresh_token);
        machines[loser]
            .1
            .run_c("export settings 'acme'")
            .exits(1)
            .warns(&[&format!(
                "this machine ({}) is not enrolled",
                machines[loser].0
            )]);
        enroll(machines[winner].1, machines[loser].1, machines[loser].0);
        opens_acme(machines[loser].1, refresh_token);
    }
    // The last slot cannot go, even when its own machine asks.
    beta.run_c("drop machine 'alpha'").exits(0);
    beta.run_c("drop machine 'beta'")
        .exits(1)
        .warns(&["'beta' holds the last key slot"]);
    assert_eq!(machine_slots(database), 1);
    opens_acme(&beta, refresh_token);
}

#[test]
fn a_store_whose_slots_were_deleted_behind_its_back_is_refused_not_rekeyed() {
    let database = "slots_deleted";
    let Some(acme) = Acme::new(database) else {
        return;
    };
    let (alpha, refresh_token) = (&acme.alpha, acme.refresh_token.as_str());
    // An operator deletes every slot by hand, keeping a copy first.
    psql(
        database,
        "CREATE TABLE slots_backup AS SELECT * FROM preauth_key_slots",
    );
    psql(database, "DELETE FROM preauth_key_slots");
    let broken = "this shared store holds 1 sealed connection but no machine's key slot";
    for outcome in [
        alpha.run_c("show connections"),
        machine(&acme.url, "gamma").run_c("show connections"),
    ] {
        outcome.exits(1).warns(&[
            broken,
            "will not seal it over with a new data key",
            "restore the table preauth_key_slots from a backup",
            "; redeem an unused enrollment code here with `enroll machine with code '…'`",
        ]);
    }
    alpha.run(&["token", "acme"]).exits(1).warns(&[
        broken,
        "redeem an unused enrollment code here with preauth -c \"enroll machine with code '…'\"",
    ]);
    alpha
        .run(&["check"])
        .exits(3)
        .says(&["UNKNOWN", "no machine's key slot"]);
    assert_eq!(machine_slots(database), 0, "no slot was made");
    // Restored from the copy, the store opens again with its own data key.
    psql(
        database,
        "INSERT INTO preauth_key_slots SELECT * FROM slots_backup",
    );
    opens_acme(alpha, refresh_token);
}

#[test]
fn an_unused_enrollment_code_recovers_a_store_without_machine_slots() {
    let database = "slots_recovered_by_code";
    let Some(acme) = Acme::new(database) else {
        return;
    };
    let (alpha, refresh_token) = (&acme.alpha, acme.refresh_token.as_str());
    let code = alpha.run_c("enroll machine").stdout.trim().to_string();
    psql(
        database,
        "DELETE FROM preauth_key_slots WHERE kind <> 'enrollment'",
    );
    alpha.run_c("show connections").exits(1).warns(&[
        "holds 1 sealed connection and 1 enrollment code but no machine's key slot",
        "redeem an unused enrollment code here with `enroll machine with code '…'`",
    ]);
    assert_eq!(machine_slots(database), 0, "no slot was made");
    alpha
        .run_c(&format!("enroll machine with code '{code}'"))
        .exits(0)
        .says(&["this machine is enrolled as 'alpha'"]);
    opens_acme(alpha, refresh_token);
}
