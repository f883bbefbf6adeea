//! How authorization URLs reach a browser.
//!
//! - [`SystemBrowser`]: `$BROWSER` when set, else `xdg-open` on a desktop session (on
//!   Windows the shell's handler for `https:` URLs, as `start` uses), else
//!   an error saying there is no browser (the URL is always printed, so a person can open it
//!   anywhere; a batch run then says how to finish instead of waiting).
//! - [`SandboxLogin`]: the sandbox's scripted login as the demo user, for `--sandbox`
//!   runs and as `preauth sandbox --approve URL`.

use std::process::{Command, Stdio};

use preauth_core::loopback::loopback_target;
use preauth_script::interpreter::{UserAgent, UserAgentFuture};

/// Opens URLs with the user's browser.
#[derive(Debug, Default)]
pub struct SystemBrowser;

impl UserAgent for SystemBrowser {
    fn open<'a>(&'a self, url: &'a str) -> UserAgentFuture<'a> {
        Box::pin(async move {
            let mut command = match std::env::var("BROWSER")
                .ok()
                .filter(|b| !b.trim().is_empty())
            {
                Some(browser) => {
                    let mut words = browser.split_whitespace();
                    let program = words.next().unwrap_or_default().to_string();
                    let mut command = Command::new(program);
                    command.args(words);
                    command
                }
                #[cfg(windows)]
                None => return shell_open(url).map(|()| None),
                #[cfg(not(windows))]
                None if has_desktop() => Command::new("xdg-open"),
                #[cfg(not(windows))]
                None => {
                    return Err(
                        "there is no browser here (BROWSER is not set and there is no desktop session)"
                            .into(),
                    );
                }
            };
            let mut child = command
                .arg(url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| format!("could not start the browser: {e}"))?;
            // Reap the browser when it ends, without waiting for it here.
            std::thread::spawn(move || child.wait());
            Ok(None)
        })
    }
}

/// Opens `url` with the shell's handler for its scheme (`ShellExecuteW`, what `start URL`
/// does, without a command line for `cmd` to reinterpret `&` and `%` in).
#[cfg(windows)]
fn shell_open(url: &str) -> Result<(), String> {
    use windows_sys::Win32::UI::Shell::ShellExecuteW;
    use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("only http and https URLs are opened in a browser".into());
    }
    let wide = |text: &str| text.encode_utf16().chain(Some(0)).collect::<Vec<u16>>();
    let (verb, file) = (wide("open"), wide(url));
    // SAFETY: both strings are NUL-terminated and outlive the call; the rest may be null.
    let code = unsafe {
        ShellExecuteW(
            std::ptr::null_mut(),
            verb.as_ptr(),
            file.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            SW_SHOWNORMAL,
        )
    };
    // Values above 32 mean success (the HINSTANCE is a legacy status code).
    if code as usize > 32 {
        Ok(())
    } else {
        Err(format!(
            "could not open a browser (ShellExecute status {})",
            code as usize
        ))
    }
}

#[cfg(not(windows))]
fn has_desktop() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// Logs in on the sandbox as the demo user and brings the return URL back.
#[derive(Debug, Default)]
pub struct SandboxLogin;

impl SandboxLogin {
    /// Logs in at `url`; a loopback return URL is delivered to its listener (as a
    /// browser would follow the redirect) and `None` returned, any other is returned.
    pub async fn login(url: &str) -> Result<Option<String>, String> {
        let login = preauth_sandbox::Login::demo();
        let back = preauth_sandbox::approve(url, &login)
            .await
            .map_err(|e| format!("the sandbox login failed: {e}"))?;
        // The return URL carries `code` and `state`; whether it goes to a loopback
        // listener is decided by the redirect URL it starts with.
        let redirect = back.split(['?', '#']).next().unwrap_or_default();
        if loopback_target(redirect).is_none() {
            return Ok(Some(back));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        client
            .get(&back)
            .send()
            .await
            .map_err(|e| format!("could not deliver the return URL to the listener: {e}"))?;
        Ok(None)
    }
}

impl UserAgent for SandboxLogin {
    fn open<'a>(&'a self, url: &'a str) -> UserAgentFuture<'a> {
        Box::pin(Self::login(url))
    }
}
