//! A headless Chromium driven through chromedriver (WebDriver), for the end-to-end tests of
//! web pages, with a small blocking API so that tests stay plain `#[test]` functions.
//!
//! Each [`Browser`] has a chromedriver and a Chromium of its own, with a fresh profile in a
//! temporary folder that also serves as their `HOME` (Chromium's crash database lands
//! there, not in the user's `~/.config`). chromedriver picks a free port of 127.0.0.1 itself
//! (`--port=0`) and says which, so two tests can never race for one port.
//!
//! Only loopback is ever contacted: `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE
//! 127.0.0.1` makes every host name but the literal `127.0.0.1` fail to resolve inside the
//! browser, without a DNS query, and `--no-proxy-server` keeps a proxy from the
//! environment out. A redirect to `https://example.invalid/callback?code=…` therefore ends
//! on Chromium's error page (`net::ERR_NAME_NOT_RESOLVED`) while [`Browser::current_url`]
//! still says where it went.
//!
//! Without chromedriver or Chromium, [`Browser::start_or_skip`] prints one `skipped: …`
//! line naming what is missing and returns `None`, unless `PREAUTH_REQUIRE_COMPONENTS` is
//! set (CI sets it): then it panics, by the rule of `pg_throwaway::required`. The variables
//! `PREAUTH_CHROMEDRIVER` and `PREAUTH_CHROMIUM` name other binaries (or a missing one, to
//! see the skip).
//!
//! ```ignore
//! let Some(browser) = Browser::start_or_skip("logs_in") else { return };
//! browser.goto(&url);
//! browser.fill("input[name=user]", "demo");
//! browser.click("button[type=submit]");
//! assert!(browser.current_url().starts_with("https://example.invalid/callback?"));
//! ```
//!
//! Every method panics on failure, naming the test, the selector and the current URL.
//! Dropping a [`Browser`] kills chromedriver's process group, Chromium included, and
//! removes the temporary folder. That is the job of a watchdog (`/bin/sh` blocked reading
//! a pipe only this process holds), so it also happens when the test process dies without
//! dropping it, by a signal or a Ctrl-C included.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tempfile::TempDir;

/// The variable naming the chromedriver to use instead of searching.
pub const CHROMEDRIVER_VARIABLE: &str = "PREAUTH_CHROMEDRIVER";

/// The variable naming the Chromium binary to use instead of `/usr/bin/chromium`.
pub const CHROMIUM_VARIABLE: &str = "PREAUTH_CHROMIUM";

/// How to get what is missing, for the skip line and the panic.
const INSTALL_HINT: &str = "install Debian's packages with `apt-get install --no-install-recommends \
     chromium chromium-driver` (.ci/run does so as root)";

/// The longest chromedriver and Chromium may take to start, and a page to load.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How long [`Browser::click`] waits for a navigation to start before it takes the click
/// for one that starts none.
pub const CLICK_GRACE: Duration = Duration::from_millis(500);

/// Chromium's command line: headless, loopback only, nothing phoning home, a fresh
/// profile (appended), a desktop-sized window.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    // Root in a container has no user namespace for the sandbox.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1280,900",
];

/// One cookie of the current page, as the browser holds it (its value left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieFlags {
    /// The cookie's name.
    pub name: String,
    /// `HttpOnly`: out of reach of scripts.
    pub http_only: bool,
    /// `Secure`: sent over HTTPS only.
    pub secure: bool,
    /// `SameSite` as the browser reports it: `Some("Strict")`, `Some("Lax")`,
    /// `Some("None")`, or `None` when it reports nothing.
    pub same_site: Option<String>,
    /// The cookie's path, when the browser reports one.
    pub path: Option<String>,
}

/// A headless Chromium of one test; see the module documentation.
pub struct Browser {
    /// The test's name, in every panic message.
    test: String,
    /// Runs the WebDriver client; only while a method blocks on it.
    runtime: tokio::runtime::Runtime,
    /// `None` only while starting.
    client: Option<Client>,
    /// chromedriver, leader of a process group of its own that holds Chromium.
    driver: Child,
    /// Kills chromedriver's process group and removes `dir` once its standard input closes.
    watchdog: Child,
    /// `profile/` (Chromium's user data), `home/` (its `HOME`), `chromedriver.log`.
    dir: TempDir,
}

impl Browser {
    /// A new chromedriver and headless Chromium for `test_name`, connected; `None` after
    /// one `skipped: …` line when either is not installed (a panic instead when
    /// `PREAUTH_REQUIRE_COMPONENTS` is set). Panics when they are installed but do not
    /// start, with chromedriver's log.
    pub fn start_or_skip(test_name: &str) -> Option<Browser> {
        let (driver, chromium) = match binaries() {
            Ok(found) => found,
            Err(why) => {
                assert!(
                    !pg_throwaway::required(),
                    "{} is set, but {why}",
                    pg_throwaway::REQUIRE_VARIABLE
                );
                // Past the test harness's capture, as pg-throwaway's skip line.
                let _ = writeln!(std::io::stderr(), "skipped: {test_name}: {why}");
                return None;
            }
        };
        Some(Browser::start(test_name, &driver, &chromium))
    }

    fn start(test: &str, driver_path: &Path, chromium: &Path) -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("preauth-browser-")
            .tempdir()
            .expect("a temporary folder for the browser");
        let home = dir.path().join("home");
        std::fs::create_dir(&home).expect("the browser's home folder");
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("chromedriver's log file");
        let driver = Command::new(driver_path)
            .arg("--port=0")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver's log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: {} does not start: {e}", driver_path.display()));
        let watchdog = Command::new("/bin/sh")
            .arg("-c")
            .arg("read -r _ignored; kill -KILL \"-$1\" 2>/dev/null; rm -rf \"$2\"")
            .arg("preauth-browser-watchdog")
            .arg(driver.id().to_string())
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Not in the test run's process group, so that a Ctrl-C leaves it to clean up.
            .process_group(0)
            .spawn();
        let watchdog = match watchdog {
            Ok(watchdog) => watchdog,
            Err(e) => {
                let mut driver = driver;
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("{test}: the browser's watchdog (/bin/sh) does not start: {e}");
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the WebDriver client");
        let mut browser = Browser {
            test: test.to_string(),
            runtime,
            client: None,
            driver,
            watchdog,
            dir,
        };
        // From here on a panic drops `browser`, which cleans up what was started.
        let port = browser.driver_port(&log_path);
        let profile = browser.dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "timeouts": { "pageLoad": START_LIMIT.as_millis() as u64 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let connected = browser.runtime.block_on(async {
            tokio::time::timeout(
                START_LIMIT,
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&url),
            )
            .await
        });
        match connected {
            Ok(Ok(client)) => browser.client = Some(client),
            Ok(Err(e)) => panic!(
                "{test}: Chromium does not start under chromedriver: {e}\n{}",
                tail(&log_path)
            ),
            Err(_) => panic!(
                "{test}: Chromium did not start within {START_LIMIT:?}\n{}",
                tail(&log_path)
            ),
        }
        browser
    }

    /// The port chromedriver says it listens on, once it says so.
    fn driver_port(&mut self, log_path: &Path) -> u16 {
        const READY: &str = "started successfully on port ";
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            if let Some(at) = log.find(READY) {
                let digits: String = log[at + READY.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(port) = digits.parse() {
                    return port;
                }
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("{}: chromedriver ended ({status}):\n{log}", self.test);
            }
            assert!(
                Instant::now() < deadline,
                "{}: chromedriver did not start within {START_LIMIT:?}:\n{log}",
                self.test
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("connected when started")
    }

    /// Runs one WebDriver step to its end.
    fn run<T>(&self, step: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(step)
    }

    /// Where the browser is, for panic messages (never panics itself).
    fn here(&self) -> String {
        self.run(self.client().current_url())
            .map_or_else(|e| format!("(no URL: {e})"), |u| u.to_string())
    }

    /// Panics with what failed, on which page.
    fn fail(&self, what: &str, error: impl std::fmt::Display) -> ! {
        panic!("{}: {what} on {}: {error}", self.test, self.here())
    }

    /// The element `css` matches, or a panic.
    fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.run(self.client().find(Locator::Css(css)))
            .unwrap_or_else(|e| self.fail(&format!("no element matches `{css}`"), e))
    }

    /// Opens `url` and waits for it to load; panics when it does not load, an error page
    /// included (see [`Browser::try_goto`]).
    pub fn goto(&self, url: &str) {
        if let Err(e) = self.try_goto(url) {
            panic!("{}: {url} does not load: {e}", self.test);
        }
    }

    /// Opens `url` and waits for it to load; the browser's error, such as
    /// `unknown error: net::ERR_NAME_NOT_RESOLVED` for a host other than 127.0.0.1, when
    /// it shows an error page instead.
    pub fn try_goto(&self, url: &str) -> Result<(), String> {
        self.run(self.client().goto(url)).map_err(|e| e.to_string())
    }

    /// The URL of the current page (that of the failed request on an error page).
    pub fn current_url(&self) -> String {
        self.run(self.client().current_url())
            .unwrap_or_else(|e| panic!("{}: no current URL: {e}", self.test))
            .to_string()
    }

    /// The current page's title.
    pub fn title(&self) -> String {
        self.run(self.client().title())
            .unwrap_or_else(|e| self.fail("no title", e))
    }

    /// Clears the field `css` matches and types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let field = self.element(css);
        self.run(async {
            field.clear().await?;
            field.send_keys(text).await
        })
        .unwrap_or_else(|e| self.fail(&format!("cannot type into `{css}`"), e));
    }

    /// Clicks the element `css` matches and lets a navigation it starts (a link, a form
    /// submission and its redirects) load. chromedriver alone does not always wait for a
    /// form's submission, which starts a moment after the click; so this waits until the
    /// page it clicked on is gone and the next one has loaded, or for [`CLICK_GRACE`]
    /// when no navigation starts. For a click that changes the page in place, see
    /// [`Browser::click_in_place`].
    pub fn click(&self, css: &str) {
        // A mark on the page clicked on; a new document has none.
        self.execute("window.__preauthClickedOn = true; return null;");
        self.click_in_place(css);
        let grace = Instant::now() + CLICK_GRACE;
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let state = self.run(self.client().execute(
                "return [window.__preauthClickedOn === true, document.readyState];",
                Vec::new(),
            ));
            // A script can fail while a navigation replaces the page: ask again.
            if let Ok(serde_json::Value::Array(state)) = state {
                let same_page = state.first().and_then(serde_json::Value::as_bool);
                match (same_page, state.get(1).and_then(serde_json::Value::as_str)) {
                    (Some(true), _) if Instant::now() > grace => return,
                    (Some(false), Some("complete")) => return,
                    _ => {}
                }
            }
            if Instant::now() > deadline {
                self.fail(
                    &format!("the page after clicking `{css}` did not load"),
                    format!("still loading after {START_LIMIT:?}"),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Clicks the element `css` matches, and returns at once (chromedriver's own wait
    /// aside): for a click that runs a script or opens a disclosure.
    pub fn click_in_place(&self, css: &str) {
        let element = self.element(css);
        self.run(element.click())
            .unwrap_or_else(|e| self.fail(&format!("cannot click `{css}`"), e));
    }

    /// Waits until the current URL starts with `prefix`; panics after `timeout`.
    pub fn wait_for_url(&self, prefix: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url();
            if url.starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still on {url} after {timeout:?}, not on {prefix}…",
                self.test
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The rendered text of the element `css` matches.
    pub fn text(&self, css: &str) -> String {
        let element = self.element(css);
        self.run(element.text())
            .unwrap_or_else(|e| self.fail(&format!("no text of `{css}`"), e))
    }

    /// The attribute `name` of the element `css` matches, `None` when it has none.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let element = self.element(css);
        self.run(element.attr(name))
            .unwrap_or_else(|e| self.fail(&format!("no attribute {name} of `{css}`"), e))
    }

    /// Whether some element matches `css` now.
    pub fn exists(&self, css: &str) -> bool {
        self.run(self.client().find_all(Locator::Css(css)))
            .map(|found| !found.is_empty())
            .unwrap_or_else(|e| self.fail(&format!("cannot look for `{css}`"), e))
    }

    /// Waits until some element matches `css`; panics after `timeout`.
    pub fn wait_for(&self, css: &str, timeout: Duration) {
        self.run(
            self.client()
                .wait()
                .at_most(timeout)
                .every(Duration::from_millis(25))
                .for_element(Locator::Css(css)),
        )
        .unwrap_or_else(|e| self.fail(&format!("no `{css}` within {timeout:?}"), e));
    }

    /// The current page's HTML as the browser holds it now.
    pub fn source(&self) -> String {
        self.run(self.client().source())
            .unwrap_or_else(|e| self.fail("no page source", e))
    }

    /// Runs `script` (a function body: `return document.title`) in the page; what it
    /// returns, as JSON.
    pub fn execute(&self, script: &str) -> serde_json::Value {
        self.run(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| self.fail(&format!("script `{script}` failed"), e))
    }

    /// Saves a screenshot of the viewport as `<target>/test-artifacts/<name>.png` (the
    /// target folder this test was built in); returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .run(self.client().screenshot())
            .unwrap_or_else(|e| self.fail("no screenshot", e));
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("{}: cannot create {}: {e}", self.test, dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("{}: cannot write {}: {e}", self.test, path.display()));
        path
    }

    /// Resizes the window to `width` × `height` CSS pixels (as a phone: 390 × 844).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.run(self.client().set_window_size(width, height))
            .unwrap_or_else(|e| self.fail(&format!("cannot resize to {width}x{height}"), e));
    }

    /// The cookies the browser holds for the current page, with their flags.
    pub fn cookies(&self) -> Vec<CookieFlags> {
        let cookies = self
            .run(self.client().get_all_cookies())
            .unwrap_or_else(|e| self.fail("no cookies", e));
        cookies
            .iter()
            .map(|c| CookieFlags {
                name: c.name().to_string(),
                http_only: c.http_only().unwrap_or(false),
                secure: c.secure().unwrap_or(false),
                same_site: c.same_site().map(|s| s.to_string()),
                path: c.path().map(str::to_string),
            })
            .collect()
    }

    /// Presses and releases `key` (such as `Key::Enter`) on the focused element, as a
    /// keyboard does.
    pub fn press(&self, key: Key) {
        let key = char::from(key);
        let keys = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.run(self.client().perform_actions(keys))
            .unwrap_or_else(|e| self.fail(&format!("cannot press {key:?}"), e));
    }

    /// Presses Tab: the focus moves to the next element in keyboard order.
    pub fn press_tab(&self) {
        self.press(Key::Tab);
    }

    /// The focused element as a selector: `#id` when it has an id, else its tag with its
    /// name (`input[name="user"]`) or alone (`body`).
    pub fn focused_element(&self) -> String {
        let described = self.execute(
            "const e = document.activeElement;\n\
             if (!e) return '';\n\
             if (e.id) return '#' + e.id;\n\
             const tag = e.tagName.toLowerCase();\n\
             const name = e.getAttribute('name');\n\
             return name ? tag + '[name=\"' + name + '\"]' : tag;",
        );
        described.as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // No WebDriver goodbye: closing the session costs half a second, and killing the
        // process group ends Chromium as surely (its crash handlers, in sessions of their
        // own, end with it). The watchdog kills the group and removes the folder once its
        // input closes. chromedriver is reaped only after that, so its id (the group's)
        // cannot be reused in between.
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// chromedriver and Chromium, or one sentence saying what is missing and how to get it.
fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let driver = match std::env::var_os(CHROMEDRIVER_VARIABLE) {
        Some(path) => executable(Path::new(&path)).ok_or_else(|| {
            format!("{CHROMEDRIVER_VARIABLE} names {path:?}, which is not an executable")
        }),
        None => executable(Path::new("/usr/bin/chromedriver"))
            .or_else(|| on_path("chromedriver"))
            .ok_or_else(|| {
                "chromedriver is not installed (no /usr/bin/chromedriver, none on PATH)".to_string()
            }),
    };
    let chromium = match std::env::var_os(CHROMIUM_VARIABLE) {
        Some(path) => executable(Path::new(&path)).ok_or_else(|| {
            format!("{CHROMIUM_VARIABLE} names {path:?}, which is not an executable")
        }),
        None => executable(Path::new("/usr/bin/chromium"))
            .or_else(|| on_path("chromium"))
            .ok_or_else(|| {
                "Chromium is not installed (no /usr/bin/chromium, none on PATH)".to_string()
            }),
    };
    match (driver, chromium) {
        (Ok(driver), Ok(chromium)) => Ok((driver, chromium)),
        (Err(why), Ok(_)) | (Ok(_), Err(why)) => Err(format!("{why}; {INSTALL_HINT}")),
        (Err(driver), Err(chromium)) => Err(format!("{driver}, {chromium}; {INSTALL_HINT}")),
    }
}

/// `path` when it is an executable file.
fn executable(path: &Path) -> Option<PathBuf> {
    let metadata = std::fs::metadata(path).ok()?;
    (metadata.is_file() && metadata.permissions().mode() & 0o111 != 0).then(|| path.to_owned())
}

/// The executable `name` in a folder of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| executable(&dir.join(name)))
}

/// `test-artifacts/` in the target folder this test binary was built for (the parent of
/// cargo's `CARGO_TARGET_TMPDIR`, which honours `CARGO_TARGET_DIR`).
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-artifacts")
}

/// The end of chromedriver's log, for a panic message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    format!("chromedriver's log:\n{}", lines[start..].join("\n"))
}
