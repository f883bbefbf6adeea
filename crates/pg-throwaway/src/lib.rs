//! A throwaway PostgreSQL cluster for tests, started from the installed server binaries.
//!
//! [`Cluster::start`] finds `initdb` and `pg_ctl` (in `PATH`, then in
//! `/usr/lib/postgresql/*/bin` and `/usr/pgsql-*/bin`, newest version first), initialises a
//! data directory inside a new temporary directory, starts a server on `127.0.0.1` at a free
//! port (with its Unix socket in the same temporary directory, never in `/var/run`) and creates
//! one database. Authentication is `trust` for the superuser `postgres`, so a URL needs no
//! password. When the test process runs as root, the server runs as the `postgres` OS user
//! (PostgreSQL refuses to run as root). The server runs with `fsync = off`: a throwaway
//! cluster needs no crash safety, and commits are much faster without it.
//!
//! [`shared`] gives every test in one test binary the same cluster, started on first use;
//! tests isolate from each other with [`Cluster::new_database`]. When PostgreSQL is not
//! installed, [`shared`] prints one `skipped: …` line and returns `None`, unless the
//! environment variable `PREAUTH_REQUIRE_COMPONENTS` is set (CI sets it): then it panics.
//!
//! ```no_run
//! let Some(pg) = pg_throwaway::shared() else { return };
//! let url = pg.new_database("lifecycle_refresh");
//! // … connect to `url` (postgres://postgres@127.0.0.1:PORT/lifecycle_refresh)
//! ```
//!
//! # Cleanup
//!
//! An owned [`Cluster`] stops its server (`pg_ctl stop -m fast`) and removes its directory when
//! dropped. The shared cluster lives in a static, which is never dropped, and a test process
//! can also die by a signal; so every cluster also has a watchdog process (see
//! [`Cluster::start`]) that stops the server and removes the directory as soon as the test
//! process is gone, however it ended.
//!
//! The environment variable `PG_THROWAWAY_BINDIR` names the directory to take the binaries
//! from instead of searching (for a particular PostgreSQL version, or to test the skip).

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The database [`Cluster::start`] creates; [`Cluster::url`] points to it.
pub const DATABASE: &str = "test";

/// The PostgreSQL superuser of the cluster (authentication is `trust`).
pub const SUPERUSER: &str = "postgres";

/// The variable that turns "PostgreSQL is not installed here" from a skip into a failure.
pub const REQUIRE_VARIABLE: &str = "PREAUTH_REQUIRE_COMPONENTS";

/// The variable naming the directory holding `initdb` and `pg_ctl`, instead of searching.
pub const BINDIR_VARIABLE: &str = "PG_THROWAWAY_BINDIR";

/// Why no cluster could be started: PostgreSQL is not installed, or a step of the start
/// failed. The reason is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    reason: String,
}

impl Unavailable {
    fn new(reason: impl Into<String>) -> Self {
        // One line, so that the skip message stays one line.
        let reason = reason.into();
        let reason = reason
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        Unavailable { reason }
    }

    /// The reason, as one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Unavailable {}

/// Whether `PREAUTH_REQUIRE_COMPONENTS` is set to something non-empty: then a missing
/// PostgreSQL fails the tests instead of skipping them.
pub fn required() -> bool {
    std::env::var_os(REQUIRE_VARIABLE).is_some_and(|v| !v.is_empty())
}

/// The cluster shared by every test of this test process, started on first use.
///
/// `None` when no cluster can be started: then the first call prints one line
/// `skipped: <reason>` to stderr (past the test harness's output capture, so it is seen
/// once per test binary) and later calls return `None` silently. When
/// `PREAUTH_REQUIRE_COMPONENTS` is set, it panics with the reason instead, in every test
/// that asks.
///
/// The cluster is never dropped; its watchdog stops the server and removes its directory
/// when the test process exits.
pub fn shared() -> Option<&'static Cluster> {
    static SHARED: OnceLock<Result<Cluster, Unavailable>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        let started = Cluster::start();
        if let Err(why) = &started
            && !required()
        {
            skip_line(why);
        }
        started
    });
    match started {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            assert!(!required(), "{REQUIRE_VARIABLE} is set, but {why}");
            None
        }
    }
}

/// Start an owned cluster (for a test that stops, kills or reconfigures its server), with
/// the same policy as [`shared`]: `None` when none can be started (with the process's one
/// `skipped: …` line, if not said yet), a panic instead when `PREAUTH_REQUIRE_COMPONENTS`
/// is set.
pub fn start_or_skip() -> Option<Cluster> {
    match Cluster::start() {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            assert!(!required(), "{REQUIRE_VARIABLE} is set, but {why}");
            skip_line(&why);
            None
        }
    }
}

/// One `skipped: …` line per test process, however many tests skip.
fn skip_line(why: &Unavailable) {
    static SAID: std::sync::Once = std::sync::Once::new();
    // `eprintln!` would be captured by the test harness and shown only for failing tests;
    // writing to the stderr handle directly is not captured.
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "skipped: {why}");
    });
}

/// A running PostgreSQL server with its own data directory, listening on `127.0.0.1` at a
/// port of its own and on a Unix socket in its own temporary directory.
///
/// Dropping it stops the server (`pg_ctl stop -m fast`) and removes the directory.
#[derive(Debug)]
pub struct Cluster {
    bin_dir: PathBuf,
    /// Holds `data/` (the cluster), `socket/` (the Unix socket) and `server.log`.
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    /// The OS user the server runs as when the test process is root; `None`: this process's.
    server_user: Option<OsUser>,
    port: u16,
    running: bool,
    watchdog: Option<Child>,
}

#[derive(Debug, Clone, Copy)]
struct OsUser {
    uid: u32,
    gid: u32,
}

/// How many times [`Cluster::start`] picks another port when the one it picked got taken
/// between picking and binding.
const PORT_ATTEMPTS: usize = 5;

impl Cluster {
    /// Start a new cluster, with the database [`DATABASE`].
    ///
    /// Steps: find the binaries; create a temporary directory (owned by the `postgres` OS
    /// user when this process is root; `nobody` when there is no `postgres` user); start the
    /// watchdog; `initdb -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8` (`C` when
    /// that locale is missing); `pg_ctl start -w` on a port found free by binding
    /// `127.0.0.1:0` (another one when the server then cannot bind it); create the database.
    /// Takes about two seconds, nearly all of it `initdb`.
    ///
    /// The watchdog is `/bin/sh` blocked reading a pipe whose only write end this process
    /// holds and never writes to. The kernel closes that end when this process exits, by
    /// any means, SIGKILL included; `read` then returns and the watchdog runs
    /// `pg_ctl stop -m immediate` and removes the directory. (A parent-death signal cannot
    /// do this: the postmaster is started by `pg_ctl`, which exits at once and detaches it
    /// into a session of its own; and an `atexit` hook misses signals.) The watchdog runs in
    /// a process group of its own, so a Ctrl-C aimed at the test run does not kill it first;
    /// it runs as the server's user, the only one `pg_ctl stop` works for. Should the test
    /// process die in the instant between the server's fork and its writing of
    /// `postmaster.pid`, the server still ends: it rechecks that lock file every minute and
    /// shuts down once the directory is gone.
    pub fn start() -> Result<Cluster, Unavailable> {
        let bin_dir = find_bin_dir()?;
        let server_user = if unsafe { libc::geteuid() } == 0 {
            let user = os_user("postgres")
                .or_else(|| os_user("nobody"))
                .ok_or_else(|| {
                    Unavailable::new(
                        "running as root, and there is no `postgres` (or `nobody`) user to run \
                     the PostgreSQL server as",
                    )
                })?;
            Some(user)
        } else {
            None
        };

        let dir = tempfile::Builder::new()
            .prefix("pg-throwaway-")
            .tempdir()
            .map_err(|e| Unavailable::new(format!("cannot create a temporary directory: {e}")))?;
        let data_dir = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        let log_file = dir.path().join("server.log");
        std::fs::create_dir(&socket_dir)
            .and_then(|()| {
                std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| {
                Unavailable::new(format!("cannot create {}: {e}", socket_dir.display()))
            })?;
        if let Some(user) = server_user {
            for path in [dir.path(), &socket_dir] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(|e| {
                    Unavailable::new(format!(
                        "cannot hand {} to the server's user: {e}",
                        path.display()
                    ))
                })?;
            }
        }

        let mut cluster = Cluster {
            bin_dir,
            dir,
            data_dir,
            socket_dir,
            log_file,
            server_user,
            port: 0,
            running: false,
            watchdog: None,
        };
        // From here on, a failure drops `cluster`, which cleans up what was started.
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        cluster.initdb()?;
        cluster.configure()?;
        cluster.start_server()?;
        cluster.create_database(DATABASE)?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:PORT/test`: the URL of the database [`DATABASE`].
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The URL of database `name` on this cluster (which need not exist).
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Create the database `name` and return its URL, so that a test has a database of its
    /// own on the shared cluster.
    ///
    /// `name` is ASCII letters, digits, `_` and `-`, at most 63 bytes (so the URL needs no
    /// escaping). Panics when the name is not, or when the database cannot be created (for
    /// example because it exists: each test should use its own name); see
    /// [`Cluster::try_new_database`].
    pub fn new_database(&self, name: &str) -> String {
        self.try_new_database(name)
            .unwrap_or_else(|why| panic!("{why}"))
    }

    /// [`Cluster::new_database`], with an error instead of a panic.
    pub fn try_new_database(&self, name: &str) -> Result<String, Unavailable> {
        self.create_database(name)?;
        Ok(self.url_of(name))
    }

    /// The TCP port the server listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix socket (`.s.PGSQL.PORT`): a `host` for
    /// clients that prefer a socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory the PostgreSQL binaries are taken from (symbolic links resolved).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The server's log file.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The process id of the postmaster, from `postmaster.pid`; `None` when not running.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let pid_file = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }

    /// A `psql` command (from the cluster's binaries) connected to database `name` over TCP
    /// as the superuser, without `~/.psqlrc`, stopping at the first error, printing bare
    /// unaligned rows; add `-c SQL` or pipe a script to it.
    pub fn psql(&self, name: &str) -> Command {
        let mut command = self.command(&self.tool("psql"), false);
        command
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", SUPERUSER, "-d", name]);
        command
    }

    /// Stop the server now (`pg_ctl stop -m fast`), and say whether it stopped; the directory
    /// stays until the cluster is dropped.
    pub fn stop(&mut self) -> bool {
        self.stop_with("fast")
    }

    /// Stop the server as a crash would (`pg_ctl stop -m immediate`: every session cut, no
    /// shutdown checkpoint), and say whether it stopped. [`Cluster::start_again`] brings it
    /// back on the same port, as a restarted or failed-over server comes back.
    pub fn crash(&mut self) -> bool {
        self.stop_with("immediate")
    }

    fn stop_with(&mut self, mode: &str) -> bool {
        if !self.running {
            return true;
        }
        let stopped = self
            .command(&self.tool("pg_ctl"), true)
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        self.running = !stopped;
        stopped
    }

    /// Start a stopped server again on the port it had (crash recovery runs first when it
    /// was crashed).
    pub fn start_again(&mut self) -> Result<(), Unavailable> {
        if self.running {
            return Ok(());
        }
        let output = self.pg_ctl_start(self.port)?;
        if !output.status.success() {
            return Err(Unavailable::new(format!(
                "pg_ctl start on port {} failed ({}): {}",
                self.port,
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr))
            )));
        }
        self.running = true;
        Ok(())
    }

    /// A command for one of the binaries, with no `PG…` variables inherited (they would
    /// redirect the tools elsewhere), in the cluster's directory, and, when `as_server` and
    /// this process is root, as the server's user: `std` calls setgroups/setgid/setuid in
    /// the child, so this needs neither `runuser` nor `su`.
    fn command(&self, program: &Path, as_server: bool) -> Command {
        let mut command = Command::new(program);
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.as_encoded_bytes().starts_with(b"PG") {
                command.env_remove(name);
            }
        }
        if as_server && let Some(user) = self.server_user {
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    /// `name` from the cluster's binaries; from `PATH` when the binaries' directory lacks
    /// it (client tools may be packaged apart from the server).
    fn tool(&self, name: &str) -> PathBuf {
        let beside = self.bin_dir.join(name);
        if is_executable(&beside) {
            return beside;
        }
        path_dirs()
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
            .unwrap_or(beside)
    }

    fn spawn_watchdog(&self) -> Result<Child, Unavailable> {
        // $1: the directory to remove; the rest: the stop command.
        const SCRIPT: &str = r#"dir=$1; shift
read -r _ignored
"$@" >/dev/null 2>&1
rm -rf "$dir"
"#;
        let mut command = self.command(Path::new("/bin/sh"), true);
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("pg-throwaway-watchdog")
            .arg(self.dir.path())
            .arg(self.tool("pg_ctl"))
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "-t", "60"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        command
            .spawn()
            .map_err(|e| Unavailable::new(format!("cannot start the cluster's watchdog: {e}")))
    }

    fn initdb(&self) -> Result<(), Unavailable> {
        let mut failures = Vec::new();
        // C.UTF-8 gives Unicode-aware lower()/upper(); plain C only where it does not exist.
        for locale in ["C.UTF-8", "C"] {
            let output = self
                .command(&self.tool("initdb"), true)
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8"])
                .arg(format!("--locale={locale}"))
                .output()
                .map_err(|e| Unavailable::new(format!("cannot run initdb: {e}")))?;
            if output.status.success() {
                return Ok(());
            }
            failures.push(format!(
                "initdb --locale={locale} failed ({}): {}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr))
            ));
            // initdb removes what it created when it fails; make sure before the next try.
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
        Err(Unavailable::new(failures.join("; ")))
    }

    /// Settings appended to `postgresql.conf` (later lines win) rather than passed through
    /// `pg_ctl -o`, which goes through a shell: the socket path then needs no shell quoting.
    fn configure(&self) -> Result<(), Unavailable> {
        let socket_dir = self.socket_dir.to_string_lossy().replace('\'', "''");
        let settings = format!(
            "\n# pg-throwaway\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket_dir}'\n\
             # A throwaway cluster: losing it in an OS crash costs nothing, and without fsync\n\
             # commits and checkpoints are much faster.\n\
             fsync = off\n"
        );
        let conf = self.data_dir.join("postgresql.conf");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut file| file.write_all(settings.as_bytes()))
            .map_err(|e| Unavailable::new(format!("cannot write {}: {e}", conf.display())))
    }

    /// `pg_ctl start` of the data directory on `port`, waited for.
    fn pg_ctl_start(&self, port: u16) -> Result<std::process::Output, Unavailable> {
        self.command(&self.tool("pg_ctl"), true)
            .arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-p {port}"))
            .output()
            .map_err(|e| Unavailable::new(format!("cannot run pg_ctl: {e}")))
    }

    fn start_server(&mut self) -> Result<(), Unavailable> {
        let mut why = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let log_before = std::fs::metadata(&self.log_file).map_or(0, |m| m.len());
            let output = self.pg_ctl_start(port)?;
            if output.status.success() {
                self.port = port;
                self.running = true;
                return Ok(());
            }
            let log = std::fs::read(&self.log_file).unwrap_or_default();
            let log = String::from_utf8_lossy(log.get(log_before as usize..).unwrap_or_default());
            why = format!(
                "pg_ctl start failed ({}): {} {}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr)),
                tail(&log)
            );
            // Someone else bound the port between our probe and the server's bind: retry.
            if !log.contains("could not bind") && !log.contains("Address already in use") {
                break;
            }
        }
        Err(Unavailable::new(why))
    }

    fn create_database(&self, name: &str) -> Result<(), Unavailable> {
        if !valid_database_name(name) {
            return Err(Unavailable::new(format!(
                "database name {name:?}: use 1 to 63 ASCII letters, digits, `_` or `-`"
            )));
        }
        let output = self
            .psql("postgres")
            .arg("-c")
            .arg(format!("CREATE DATABASE \"{name}\""))
            .output()
            .map_err(|e| Unavailable::new(format!("cannot run psql: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Unavailable::new(format!(
                "cannot create database {name}: {}",
                tail(&String::from_utf8_lossy(&output.stderr))
            )))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = self.stop();
        if let Some(mut watchdog) = self.watchdog.take() {
            if stopped {
                // Nothing left for it to do; the TempDir removes the directory.
                let _ = watchdog.kill();
            } else {
                // Let it try `-m immediate`: closing its pipe is what it waits for.
                drop(watchdog.stdin.take());
            }
            let _ = watchdog.wait();
        }
    }
}

fn valid_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A port that was free on 127.0.0.1 a moment ago (the kernel's pick for port 0).
fn free_port() -> Result<u16, Unavailable> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| Unavailable::new(format!("cannot bind a port on 127.0.0.1: {e}")))
}

/// The last few lines of a tool's output, for an error message.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" / ")
}

fn path_dirs() -> impl Iterator<Item = PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).collect::<Vec<_>>().into_iter()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn has_server_binaries(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("pg_ctl"))
}

/// Where `initdb` and `pg_ctl` are: `PG_THROWAWAY_BINDIR` alone when set; else the first
/// `PATH` entry holding both (symbolic links resolved, so that `/usr/local/bin/initdb ->
/// /usr/lib/postgresql/15/bin/initdb` gives the directory that also holds `postgres` and
/// `psql`); else the newest `/usr/lib/postgresql/*/bin`, then `/usr/pgsql-*/bin`.
fn find_bin_dir() -> Result<PathBuf, Unavailable> {
    if let Some(dir) = std::env::var_os(BINDIR_VARIABLE).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_binaries(&dir) {
            Ok(dir)
        } else {
            Err(Unavailable::new(format!(
                "no PostgreSQL server binaries (initdb, pg_ctl) in {} ({BINDIR_VARIABLE}); \
                 install postgresql",
                dir.display()
            )))
        };
    }
    for dir in path_dirs() {
        if has_server_binaries(&dir) {
            let resolved = std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
                .filter(|real| has_server_binaries(real));
            return Ok(resolved.unwrap_or(dir));
        }
    }
    for (parent, prefix) in [("/usr/lib/postgresql", ""), ("/usr", "pgsql-")] {
        if let Some(dir) = newest_version_dir(Path::new(parent), prefix) {
            return Ok(dir);
        }
    }
    Err(Unavailable::new(
        "no PostgreSQL server binaries (initdb, pg_ctl) found in PATH or \
         /usr/lib/postgresql/*/bin; install postgresql",
    ))
}

/// The `bin` directory holding the server binaries in `parent/PREFIX<version>`, highest
/// version first (`16` before `9.6`).
fn newest_version_dir(parent: &Path, prefix: &str) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(parent)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = version_of(&name, prefix)?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn version_of(name: &OsStr, prefix: &str) -> Option<Vec<u32>> {
    let version = name.to_str()?.strip_prefix(prefix)?;
    version.split('.').map(|part| part.parse().ok()).collect()
}

/// The uid and gid of OS user `name`.
fn os_user(name: &str) -> Option<OsUser> {
    let name = CString::new(name).ok()?;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: all-zero is a valid `passwd` (null pointers and zero ids); getpwnam_r only
    // writes into it and into `buffer`, whose length it is given.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(OsUser {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn versions_sort_numerically() {
        let dir = tempfile::tempdir().unwrap();
        for version in ["9.6", "16", "15", "notaversion"] {
            let bin = dir.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            for tool in ["initdb", "pg_ctl"] {
                std::fs::write(bin.join(tool), "").unwrap();
                std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
            }
        }
        assert_eq!(
            newest_version_dir(dir.path(), ""),
            Some(dir.path().join("16").join("bin"))
        );
        assert_eq!(
            version_of(&OsString::from("pgsql-13"), "pgsql-"),
            Some(vec![13])
        );
    }

    #[test]
    fn reasons_are_one_line() {
        let why = Unavailable::new("initdb failed:\n  first\n\n  second\n");
        assert_eq!(why.reason(), "initdb failed: / first / second");
    }

    #[test]
    fn database_names_need_no_quoting() {
        for good in ["test", "lifecycle_refresh-2", &"n".repeat(63)] {
            assert!(valid_database_name(good), "{good:?} refused");
        }
        for bad in ["", "a b", "x\"; DROP", "é", &"n".repeat(64)] {
            assert!(!valid_database_name(bad), "{bad:?} accepted");
        }
    }
}
