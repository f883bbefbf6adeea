//! Showing text longer than the terminal through a pager, as psql does.
//!
//! [`show`] prints text that fits the terminal (or goes anywhere but a terminal) directly,
//! and pipes longer text through `$PAGER`, `less -FRX` when it is unset. `$PAGER` is split
//! at white space and started without a shell; set it empty to never page. A pager that
//! cannot be started is no error: the text is printed directly.

use std::io::{self, IsTerminal, Write};
use std::process::{Command, Stdio};

/// The pager when `$PAGER` is not set: quits at once when the text fits (`-F`), keeps
/// colours (`-R`) and leaves the text on the screen (`-X`).
const DEFAULT_PAGER: &str = "less -FRX";

/// Prints `text` on standard output, through the pager when standard output is a terminal
/// and `text` has more lines than it.
pub(crate) fn show(text: &str) {
    let longer_than_terminal = io::stdout().is_terminal()
        && terminal_rows().is_some_and(|rows| text.lines().count() >= rows);
    if !longer_than_terminal || !through_pager(text) {
        print!("{text}");
        let _ = io::stdout().flush();
    }
}

/// Pipes `text` through the pager and waits for it; `false` when there is none to start.
fn through_pager(text: &str) -> bool {
    let command = std::env::var("PAGER").unwrap_or_else(|_| DEFAULT_PAGER.to_owned());
    let mut words = command.split_whitespace();
    let Some(program) = words.next() else {
        return false;
    };
    let _ = io::stdout().flush();
    let Ok(mut child) = Command::new(program)
        .args(words)
        .stdin(Stdio::piped())
        .spawn()
    else {
        return false;
    };
    // Ctrl-C belongs to the pager (less pages back on it); the shell must outlive it.
    let _ignored = IgnoreInterrupts::start();
    if let Some(mut stdin) = child.stdin.take() {
        // The pager may quit before reading everything (`q` in less): not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    true
}

/// The number of rows of the terminal on standard output: asked of the terminal, else
/// `$LINES`.
fn terminal_rows() -> Option<usize> {
    terminal_rows_asked().or_else(|| {
        std::env::var("LINES")
            .ok()
            .and_then(|lines| lines.trim().parse().ok())
            .filter(|rows| *rows > 0)
    })
}

fn terminal_rows_asked() -> Option<usize> {
    crate::terminal::size().map(|(rows, _)| rows)
}

/// While alive, Ctrl-C (SIGINT) does not end this process; the previous handling comes
/// back, flags and all, when it is dropped.
struct IgnoreInterrupts {
    #[cfg(unix)]
    previous: Option<libc::sigaction>,
}

impl IgnoreInterrupts {
    #[cfg(unix)]
    fn start() -> Self {
        // SAFETY: both structs are plain data that sigaction reads or fills; an all-zero
        // sigaction is valid (no flags, empty mask) before its handler is set.
        let previous = unsafe {
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            libc::sigemptyset(&mut ignore.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(libc::SIGINT, &ignore, &mut previous) == 0).then_some(previous)
        };
        Self { previous }
    }

    #[cfg(not(unix))]
    fn start() -> Self {
        Self {}
    }
}

#[cfg(unix)]
impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: restores the disposition that `start` read, unchanged.
            unsafe {
                libc::sigaction(libc::SIGINT, previous, std::ptr::null_mut());
            }
        }
    }
}
