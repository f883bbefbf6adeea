//! Ties a login started from the pages to the browser that started it.
//!
//! The platform sends the browser back to `/callback` with the `state` of the login. That
//! alone would let anyone who learns a login's URL (a shared screen, a forwarded link)
//! finish it in their own browser. So when the pages start a login, the browser gets a
//! cookie of its own (`preauth_browser`, random, `SameSite=Lax` so that it comes along on
//! the platform's redirect, which the `Strict` session cookie does not) and the server
//! keeps the state's digest beside the cookie's. `/callback` then finishes such a login
//! only in that browser. A login started elsewhere (a statement, before a restart of
//! this server) has no binding and is judged by its state alone, as before.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::page_error::PageError;
use super::session::{cookie, random};

/// The name of the browser's cookie.
const COOKIE: &str = "preauth_browser";

/// How long a binding is kept: longer than a pending login lives.
const LIFETIME: Duration = Duration::from_secs(3600);

/// The most bindings kept: the oldest make room.
const MAX_BINDINGS: usize = 10_000;

type Digest32 = [u8; 32];

fn digest(text: &str) -> Digest32 {
    Sha256::digest(text.as_bytes()).into()
}

/// The logins started from the pages, by the digest of their state.
pub(crate) struct Bindings {
    /// Whether cookies are `Secure` (the pages are served over https).
    secure: bool,
    by_state: Mutex<HashMap<Digest32, Binding>>,
}

struct Binding {
    browser: Digest32,
    since: Instant,
}

/// What `/callback` may do with a return.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A login of this browser, or one not started from the pages: finish it.
    Finish,
    /// A login the pages started in another browser: refuse it.
    OtherBrowser,
}

impl Bindings {
    /// No bindings yet; cookies `Secure` when `secure`.
    pub(crate) fn new(secure: bool) -> Bindings {
        Bindings {
            secure,
            by_state: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that the browser of `headers` started the login with `state`. Returns the
    /// `Set-Cookie` value that gives the browser its cookie, when it has none yet.
    pub(crate) fn bind(
        &self,
        headers: &HeaderMap,
        state: &str,
    ) -> Result<Option<String>, PageError> {
        let (browser, set_cookie) = match cookie(headers, COOKIE) {
            Some(id) => (id.to_string(), None),
            None => {
                let id = random()?;
                let secure = if self.secure { "; Secure" } else { "" };
                let set = format!(
                    "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
                    LIFETIME.as_secs()
                );
                (id, Some(set))
            }
        };
        let now = Instant::now();
        let mut by_state = self.lock();
        by_state.retain(|_, b| now.duration_since(b.since) < LIFETIME);
        if by_state.len() >= MAX_BINDINGS
            && let Some(oldest) = by_state
                .iter()
                .min_by_key(|(_, b)| b.since)
                .map(|(k, _)| *k)
        {
            by_state.remove(&oldest);
        }
        by_state.insert(
            digest(state),
            Binding {
                browser: digest(&browser),
                since: now,
            },
        );
        Ok(set_cookie)
    }

    /// Judges a return to `/callback` carrying `state` from the browser of `headers`.
    /// A binding is spent when its browser comes back.
    pub(crate) fn judge(&self, headers: &HeaderMap, state: &str) -> Verdict {
        let key = digest(state);
        let mut by_state = self.lock();
        let Some(binding) = by_state.get(&key) else {
            return Verdict::Finish;
        };
        let same = cookie(headers, COOKIE).is_some_and(|id| digest(id) == binding.browser);
        if same {
            by_state.remove(&key);
            Verdict::Finish
        } else {
            Verdict::OtherBrowser
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Digest32, Binding>> {
        self.by_state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};

    fn with_browser(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn only_the_browser_that_started_a_login_finishes_it() {
        let bindings = Bindings::new(true);
        let set = bindings
            .bind(&HeaderMap::new(), "state-1")
            .unwrap()
            .unwrap();
        assert!(set.contains("SameSite=Lax") && set.contains("HttpOnly") && set.contains("Secure"));
        let mine = with_browser(&set);
        // The same browser starting a second login keeps its cookie.
        assert_eq!(bindings.bind(&mine, "state-2").unwrap(), None);
        let other = bindings
            .bind(&HeaderMap::new(), "state-3")
            .unwrap()
            .unwrap();
        assert_eq!(
            bindings.judge(&HeaderMap::new(), "state-1"),
            Verdict::OtherBrowser
        );
        assert_eq!(
            bindings.judge(&with_browser(&other), "state-1"),
            Verdict::OtherBrowser
        );
        assert_eq!(bindings.judge(&mine, "state-1"), Verdict::Finish);
        assert_eq!(bindings.judge(&mine, "state-2"), Verdict::Finish);
        // Not started from the pages (a statement, before a restart): the state decides.
        assert_eq!(
            bindings.judge(&HeaderMap::new(), "state-9"),
            Verdict::Finish
        );
    }
}
