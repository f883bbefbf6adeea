//! The browser step of `preauthenticate`: open the URL, then take the return URL from
//! whichever comes first — the loopback listener, a paste at the terminal, or the user
//! agent itself (the sandbox's scripted login).

use std::future::Future;
use std::io::BufRead;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use preauth_core::loopback::{LoopbackError, LoopbackListener, loopback_target};
use preauth_core::secret::StateToken;

use super::exec_error::ExecError;

/// How long a person gets to log in (with 2FA) before the listener gives up.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The future returned by [`UserAgent::open`].
pub type UserAgentFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>>;

/// Something that shows an authorization URL to the user.
pub trait UserAgent: Send + Sync {
    /// Opens `url` (a browser, a command). Returns the return URL when the agent saw it
    /// itself (a scripted login that did not deliver it to the loopback listener), else
    /// `None`. An `Err` is a sentence saying why the URL could not be opened; the URL has
    /// been printed anyway, so callers treat it as a warning.
    fn open<'a>(&'a self, url: &'a str) -> UserAgentFuture<'a>;
}

/// Where the return URL is expected.
pub(super) enum Return {
    /// The loopback listener is bound and waits.
    Listener(LoopbackListener),
    /// Only a paste (or a later `exchange code url`) can bring it.
    Paste,
}

impl Return {
    /// Binds the loopback listener when `redirect_url` is a loopback URL. Binding comes
    /// before the URL is shown, so a taken port is reported before anyone logs in.
    pub(super) async fn prepare(redirect_url: &str) -> Result<Return, ExecError> {
        if loopback_target(redirect_url).is_none() {
            return Ok(Return::Paste);
        }
        LoopbackListener::bind(redirect_url)
            .await
            .map(Return::Listener)
            .map_err(ExecError::from)
    }

    /// Opens `url` with `agent` and waits for the return URL. `None` means nothing can
    /// bring it in this run (batch, no loopback): the caller explains `exchange code url`.
    pub(super) async fn wait(
        self,
        agent: &dyn UserAgent,
        url: &str,
        state: &StateToken,
        interactive: bool,
    ) -> Result<Option<String>, ExecError> {
        let listening = match self {
            Return::Listener(listener) => {
                let state = state.clone();
                Some(tokio::spawn(async move {
                    listener.wait(&state, LOGIN_TIMEOUT).await
                }))
            }
            Return::Paste => None,
        };
        let (seen, opened) = match agent.open(url).await {
            Ok(seen) => (seen, true),
            Err(why) => {
                eprintln!("note: {why}; open the URL above yourself");
                (None, false)
            }
        };
        if let Some(seen) = seen {
            if let Some(task) = listening {
                task.abort();
            }
            return Ok(Some(seen));
        }
        match (listening, interactive) {
            // No terminal and no browser: nothing will come back soon; the caller says how
            // to finish with `exchange code url` instead of waiting for [`LOGIN_TIMEOUT`].
            (Some(task), false) if !opened => {
                task.abort();
                Ok(None)
            }
            (Some(task), false) => Ok(Some(joined(task.await)?)),
            (Some(mut task), true) => {
                eprintln!(
                    "Waiting for the browser to come back (or paste the URL it landed on and press Enter)..."
                );
                let result = paste_or_listener(state, Some(&mut task)).await;
                task.abort();
                result
            }
            (None, true) => {
                eprintln!("Paste the URL your browser landed on and press Enter:");
                paste_or_listener(state, None).await
            }
            (None, false) => Ok(None),
        }
    }
}

/// The loopback listener's task.
type ListenerTask = tokio::task::JoinHandle<Result<String, LoopbackError>>;

/// Reads pasted lines until one is the return URL of this login (`state`), the loopback
/// `listener` (if any) brings it first, or Ctrl-C cancels. A pasted line that is not this
/// login's return URL (a typo, the URL of an older attempt) is explained and another one
/// asked for, while the listener keeps waiting: the login done in the browser, 2FA and
/// all, is not thrown away.
async fn paste_or_listener(
    state: &StateToken,
    mut listener: Option<&mut ListenerTask>,
) -> Result<Option<String>, ExecError> {
    loop {
        let cancel = Arc::new(AtomicBool::new(false));
        let mut paste = tokio::task::spawn_blocking({
            let cancel = Arc::clone(&cancel);
            move || read_pasted_line(&cancel)
        });
        let from_listener = async {
            match listener.as_deref_mut() {
                Some(task) => joined(task.await),
                None => std::future::pending().await,
            }
        };
        let (result, read) = tokio::select! {
            done = from_listener => (Some(done.map(Some)), false),
            pasted = &mut paste => match pasted.ok().flatten() {
                None => (Some(Ok(None)), true),
                Some(line) => match not_this_login(&line, state) {
                    None => (Some(Ok(Some(line))), true),
                    Some(why) => {
                        eprintln!("That is not the return URL of this login: {why}.");
                        eprintln!("Paste the URL your browser landed on and press Enter:");
                        (None, true)
                    }
                },
            },
            _ = tokio::signal::ctrl_c() => (Some(Ok(cancelled())), false),
        };
        cancel.store(true, Ordering::Relaxed);
        if !read {
            // The reader stops within one poll; wait for it, or it would take what is
            // typed at the next prompt.
            let _ = paste.await;
        }
        if let Some(result) = result {
            return result;
        }
    }
}

/// Why `pasted` is not the return URL of the login whose `state` is given, if it is not.
fn not_this_login(pasted: &str, state: &StateToken) -> Option<String> {
    match preauth_core::flow::parse_return(pasted) {
        Err(error) => Some(error.to_string()),
        Ok(callback) => match callback.state() {
            Some(got) if StateToken::new(got).ct_eq(state) => None,
            Some(_) => Some("it belongs to another (older) login attempt".into()),
            None => Some("it carries no 'state'".into()),
        },
    }
}

/// Ctrl-C while waiting for the browser: the shell gets its prompt back, and the caller
/// explains how to finish with `exchange code url`.
fn cancelled() -> Option<String> {
    eprintln!("cancelled");
    None
}

fn joined(
    result: Result<Result<String, LoopbackError>, tokio::task::JoinError>,
) -> Result<String, ExecError> {
    match result {
        Ok(Ok(query)) => Ok(query),
        Ok(Err(error)) => Err(error.into()),
        Err(error) => Err(ExecError::LoopbackStopped(error)),
    }
}

/// Reads one non-empty line from standard input, polling so that it can give up when
/// `cancel` is set (the loopback listener won) without swallowing a later line.
fn read_pasted_line(cancel: &AtomicBool) -> Option<String> {
    while !cancel.load(Ordering::Relaxed) {
        let ready = stdin_ready(200)?;
        if !ready || cancel.load(Ordering::Relaxed) {
            continue;
        }
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => return Some(line.trim().to_string()),
        }
    }
    None
}

/// Whether standard input has something to read within `millis` milliseconds; `None` when it
/// cannot be waited on.
#[cfg(unix)]
fn stdin_ready(millis: i32) -> Option<bool> {
    let mut poll = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `poll` points to one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    (ready >= 0).then_some(ready > 0)
}

/// Whether standard input has something to read within `millis` milliseconds; `None` when it
/// cannot be waited on. A console is signalled by any input event (a key press before Enter
/// too), and a pipe or file is always signalled: then the read waits for a whole line, as it
/// would without this check.
#[cfg(windows)]
fn stdin_ready(millis: u32) -> Option<bool> {
    use windows_sys::Win32::Foundation::{WAIT_OBJECT_0, WAIT_TIMEOUT};
    use windows_sys::Win32::System::Console::{GetStdHandle, STD_INPUT_HANDLE};
    use windows_sys::Win32::System::Threading::WaitForSingleObject;
    // SAFETY: GetStdHandle takes a constant; the handle it gives is not closed here.
    let input = unsafe { GetStdHandle(STD_INPUT_HANDLE) };
    // SAFETY: waiting on a handle of this process, for a bounded time.
    match unsafe { WaitForSingleObject(input, millis) } {
        WAIT_OBJECT_0 => Some(true),
        WAIT_TIMEOUT => Some(false),
        _ => None,
    }
}
