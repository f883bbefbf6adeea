//! The audit log: one line on standard error (the service's journal) for every change
//! and every refused login, naming who (the login link, an API key by its name) and the
//! connection, never a secret.

/// Writes one line about what `who` did: names and actions only, never a secret.
pub(crate) fn audit(who: &str, what: std::fmt::Arguments<'_>) {
    eprintln!("preauth serve: {who}: {what}");
}

/// Who called the API: the name of the key it presented (put in the request's
/// extensions by the key check).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) String);

impl Caller {
    /// The caller as the log names it.
    pub(crate) fn who(&self) -> String {
        format!("API key '{}'", self.0)
    }
}

/// Refusals logged one by one per minute; more are counted and summed up in one line.
const REFUSALS_PER_MINUTE: u32 = 20;

/// Keeps a flood of refused requests (forged returns to `/callback`, say) from flooding
/// the log: the first [`REFUSALS_PER_MINUTE`] of a minute are logged one by one, the
/// rest are counted, and the count is logged with the next refusal after that minute
/// (or when the server stops).
#[derive(Debug)]
pub(crate) struct Throttle {
    /// What is refused, as the sum names it ("refused returns to /callback").
    what: &'static str,
    window: std::sync::Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: Option<std::time::Instant>,
    logged: u32,
    held_back: u64,
}

impl Throttle {
    /// A throttle for refusals of one kind, `what` in the sum.
    pub(crate) fn new(what: &'static str) -> Throttle {
        Throttle {
            what,
            window: std::sync::Mutex::default(),
        }
    }

    /// Logs what `who` was refused, unless the minute's share is used up.
    pub(crate) fn refused(&self, who: &str, what: std::fmt::Arguments<'_>) {
        let now = std::time::Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let over = window
            .start
            .is_none_or(|start| now.duration_since(start) >= std::time::Duration::from_secs(60));
        if over {
            self.sum_up(&mut window);
            *window = Window {
                start: Some(now),
                ..Window::default()
            };
        }
        if window.logged < REFUSALS_PER_MINUTE {
            window.logged += 1;
            audit(who, what);
        } else {
            window.held_back += 1;
        }
    }

    /// Logs how many refusals were held back, if any.
    fn sum_up(&self, window: &mut Window) {
        if window.held_back > 0 {
            audit(
                "refusals",
                format_args!(
                    "{} more {} in the minute after the first {REFUSALS_PER_MINUTE} logged (not logged one by one)",
                    window.held_back, self.what
                ),
            );
            window.held_back = 0;
        }
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        let mut window = std::mem::take(self.window.get_mut().unwrap_or_else(|e| e.into_inner()));
        self.sum_up(&mut window);
    }
}
