//! The throwaway cluster against the installed PostgreSQL: it starts and answers, databases
//! are separate, it stops on drop, and it does not outlive its test process, whether that
//! process exits or is killed with SIGKILL.
//!
//! Tests that need a process of their own re-run this test binary with only the test
//! `child_process` and `PG_THROWAWAY_TEST_CHILD` naming what that child does.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHILD_VARIABLE: &str = "PG_THROWAWAY_TEST_CHILD";
const MARKER: &str = "pg-throwaway-test-cluster";

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run the command");
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Whether process `pid` runs (a zombie left unreaped by a container's init does not).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    !state.starts_with('Z') && !state.starts_with('X')
}

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1)).is_ok()
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn the_shared_cluster_answers_psql() {
    let Some(pg) = pg_throwaway::shared() else {
        return;
    };
    assert_eq!(
        run(pg.psql(pg_throwaway::DATABASE).args(["-c", "select 1"])),
        "1"
    );
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{}/test", pg.port())
    );
    // The URL itself is what clients get; psql takes it as its connection string.
    let psql = pg.bin_dir().join("psql");
    let answer = run(Command::new(psql)
        .args([
            "-X",
            "-A",
            "-t",
            "-c",
            "select current_user, current_database()",
        ])
        .arg("-d")
        .arg(pg.url()));
    assert_eq!(answer, "postgres|test");
    // Listening on loopback and on the private socket, nowhere else.
    let listen = run(pg.psql("test").args(["-c", "show listen_addresses"]));
    assert_eq!(listen, "127.0.0.1");
    assert!(
        pg.socket_dir()
            .join(format!(".s.PGSQL.{}", pg.port()))
            .exists()
    );
    let fsync = run(pg.psql("test").args(["-c", "show fsync"]));
    assert_eq!(fsync, "off");
}

#[test]
fn new_database_is_a_database_of_its_own() {
    let Some(pg) = pg_throwaway::shared() else {
        return;
    };
    let url = pg.new_database("separate_one");
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{}/separate_one", pg.port())
    );
    let psql = pg.bin_dir().join("psql");
    run(Command::new(&psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(&url)
        .args([
            "-c",
            "create table marker (n int); insert into marker values (7)",
        ]));
    assert_eq!(
        run(pg.psql("separate_one").args(["-c", "select n from marker"])),
        "7"
    );
    let elsewhere = pg
        .psql(pg_throwaway::DATABASE)
        .args(["-c", "select n from marker"])
        .output()
        .unwrap();
    assert!(
        !elsewhere.status.success(),
        "the table leaked into the default database"
    );
}

#[test]
fn new_database_refuses_a_name_in_use() {
    let Some(pg) = pg_throwaway::shared() else {
        return;
    };
    pg.new_database("twice");
    let again = pg
        .try_new_database("twice")
        .expect_err("a second database `twice`");
    assert!(again.reason().contains("already exists"), "{again}");
}

#[test]
fn an_owned_cluster_stops_and_goes_away_on_drop() {
    let began = Instant::now();
    let Some(pg) = pg_throwaway::start_or_skip() else {
        return;
    };
    let startup = began.elapsed();
    eprintln!("cluster started in {} ms", startup.as_millis());
    assert_eq!(
        run(pg.psql(pg_throwaway::DATABASE).args(["-c", "select 1"])),
        "1"
    );
    let pid = pg.postmaster_pid().expect("postmaster.pid");
    let port = pg.port();
    let data_dir = pg.data_dir().to_path_buf();
    assert!(alive(pid) && accepts_connections(port));

    let began = Instant::now();
    drop(pg);
    eprintln!("cluster stopped in {} ms", began.elapsed().as_millis());
    assert!(!alive(pid), "the postmaster still runs after drop");
    assert!(
        !accepts_connections(port),
        "port {port} still open after drop"
    );
    assert!(!data_dir.exists(), "{} left behind", data_dir.display());
}

/// A child process of this test binary that starts the shared cluster and tells where it is.
struct ChildCluster {
    child: std::process::Child,
    pid: u32,
    port: u16,
    data_dir: PathBuf,
}

fn child(mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VARIABLE, mode);
    command
}

fn start_child(mode: &str) -> ChildCluster {
    let mut child = child(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The harness writes "test child_process ... " before the test runs, so the marker
    // comes in the middle of a line. A thread reads (and then drains) the child's output,
    // so that a child that hangs fails this test instead of blocking it.
    let stdout = child.stdout.take().unwrap();
    let (found, marker) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let line = lines.by_ref().find_map(|line| {
            line.find(MARKER)
                .map(|at| line[at + MARKER.len()..].trim().to_owned())
        });
        let _ = found.send(line);
        lines.for_each(drop);
    });
    let Ok(Some(line)) = marker.recv_timeout(Duration::from_secs(120)) else {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!(
            "the child reported no cluster ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let mut fields = line.splitn(3, ' ');
    let pid = fields.next().unwrap().parse().unwrap();
    let port = fields.next().unwrap().parse().unwrap();
    let data_dir = PathBuf::from(fields.next().unwrap());
    ChildCluster {
        child,
        pid,
        port,
        data_dir,
    }
}

fn assert_gone(pid: u32, port: u16, data_dir: &Path, after: &str) {
    let began = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || !alive(pid)),
        "the postmaster {pid} still runs 10 s after {after}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !data_dir.exists()),
        "{} left behind after {after}",
        data_dir.display()
    );
    assert!(
        !accepts_connections(port),
        "port {port} still open after {after}"
    );
    eprintln!("gone {} ms after {after}", began.elapsed().as_millis());
}

#[test]
fn the_server_dies_with_a_test_process_killed_by_sigkill() {
    if pg_throwaway::shared().is_none() {
        return;
    }
    let mut held = start_child("hold");
    assert!(alive(held.pid) && accepts_connections(held.port));
    held.child.kill().unwrap(); // SIGKILL: no destructor, no atexit, nothing runs
    held.child.wait().unwrap();
    assert_gone(
        held.pid,
        held.port,
        &held.data_dir,
        "SIGKILL of its test process",
    );
}

#[test]
fn the_shared_cluster_stops_when_its_test_process_exits() {
    if pg_throwaway::shared().is_none() {
        return;
    }
    let mut exiting = start_child("exit");
    let status = exiting.child.wait().unwrap();
    assert!(status.success(), "the child failed: {status}");
    assert_gone(
        exiting.pid,
        exiting.port,
        &exiting.data_dir,
        "its test process exited",
    );
}

fn skip_run(require: &str) -> Output {
    child("skip")
        .env(
            pg_throwaway::BINDIR_VARIABLE,
            "/nonexistent/pg-throwaway/bin",
        )
        .env(pg_throwaway::REQUIRE_VARIABLE, require)
        .output()
        .unwrap()
}

#[test]
fn without_postgresql_one_skip_line_or_with_the_variable_a_failure() {
    let skipped = skip_run("");
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("skipped:"))
        .collect();
    assert_eq!(
        lines,
        [
            "skipped: no PostgreSQL server binaries (initdb, pg_ctl) in \
             /nonexistent/pg-throwaway/bin (PG_THROWAWAY_BINDIR); install postgresql"
        ],
        "{stderr}"
    );

    let failed = skip_run("1");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{stderr}");
    assert!(
        stderr.contains("PREAUTH_REQUIRE_COMPONENTS is set, but no PostgreSQL server binaries"),
        "{stderr}"
    );
    assert!(!stderr.contains("skipped:"), "{stderr}");
}

/// Not a test on its own: what the child processes of the tests above do.
#[test]
fn child_process() {
    let Some(mode) = std::env::var_os(CHILD_VARIABLE) else {
        return;
    };
    match mode.to_str().unwrap() {
        "hold" | "exit" => {
            let pg = pg_throwaway::shared().expect("a cluster in the child");
            let pid = pg.postmaster_pid().unwrap();
            // Past the harness's capture, straight to the pipe the parent reads.
            let mut stdout = std::io::stdout();
            writeln!(
                stdout,
                "{MARKER} {pid} {} {}",
                pg.port(),
                pg.data_dir().display()
            )
            .unwrap();
            stdout.flush().unwrap();
            if mode == "hold" {
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
        }
        "skip" => {
            assert!(pg_throwaway::shared().is_none());
            assert!(pg_throwaway::shared().is_none());
        }
        other => panic!("unknown child mode {other}"),
    }
}
