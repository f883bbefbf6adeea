//! Logins and sessions of the web pages: the one-time login URL printed at start, an
//! admin API key, and the session cookie with its CSRF token.
//!
//! - Session ids and the login token are 256 random bits; only their SHA-256 is kept.
//! - A visitor who has not logged in gets an anonymous session too (short-lived), so
//!   that the login form carries a CSRF token like every other form.
//! - Logging in always starts a new session (a session id known before the login is
//!   worth nothing after it).
//! - Cookies are `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when browsers
//!   reach the server over HTTPS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use maud::Markup;
use preauth_core::api_keys::KeyFingerprint;
use preauth_core::flow::random_token;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::page_error::PageError;

/// The name of the session cookie.
pub(crate) const COOKIE: &str = "preauth_session";

/// How long a logged-in session lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The cookie of a visitor who has not logged in: a random value that the login form's
/// CSRF token is signed over. The server keeps nothing for such a visitor.
const ANONYMOUS_COOKIE: &str = "preauth_visitor";

/// How long the login form of a visitor who has not logged in can be sent.
const ANONYMOUS_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long the login URL printed at start can be used (once).
pub(crate) const LOGIN_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// The most sessions kept at once: visitors cannot grow the server's memory at will.
const MAX_SESSIONS: usize = 10_000;

/// The SHA-256 of a session id or login token.
type Digest32 = [u8; 32];

fn digest(text: &str) -> Digest32 {
    Sha256::digest(text.as_bytes()).into()
}

/// One session.
struct Session {
    csrf: String,
    /// Who logged in (`login link` or `API key 'name'`); `None` before the login.
    user: Option<String>,
    /// The API key that opened the session, which must still be there (and admin) for
    /// the session to go on.
    key: Option<KeyFingerprint>,
    expires: Instant,
    /// A message for the next page shown (set after a redirect).
    flash: Option<Markup>,
}

/// What a request learns of its session.
#[derive(Clone)]
pub(crate) struct Visitor {
    /// The session id (the cookie's value).
    id: String,
    /// The CSRF token every form of this session carries.
    pub(crate) csrf: String,
    /// Who logged in, when someone did.
    pub(crate) user: Option<String>,
    /// The API key that opened the session, if one did.
    pub(super) key: Option<KeyFingerprint>,
    /// The message left for this page, taken from the session.
    pub(crate) flash: Option<Markup>,
    /// A `Set-Cookie` value when this request started the session.
    pub(crate) set_cookie: Option<String>,
}

impl Visitor {
    /// Who this is, for the log: who logged in, or "a visitor".
    pub(crate) fn who(&self) -> &str {
        self.user.as_deref().unwrap_or("a visitor")
    }

    /// Checks the CSRF token a form sent (in constant time).
    pub(crate) fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        if bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

/// The sessions of this process (they end when it stops).
pub(crate) struct Sessions {
    sessions: Mutex<HashMap<Digest32, Session>>,
    /// The one-time login token and until when it works; `None` once used.
    login: Mutex<Option<(Digest32, Instant)>>,
    /// Whether cookies get `Secure`.
    secure: bool,
    /// The key the login form's CSRF tokens are signed with (random, for this process).
    signing_key: Hmac<Sha256>,
}

impl Sessions {
    /// New sessions, and (when `login_link`) the one-time login token to print.
    pub(crate) fn new(
        secure: bool,
        login_link: bool,
    ) -> Result<(Sessions, Option<String>), PageError> {
        let token = login_link.then(random).transpose()?;
        let login = token
            .as_deref()
            .map(|t| (digest(t), Instant::now() + LOGIN_LINK_LIFETIME));
        let sessions = Sessions {
            sessions: Mutex::new(HashMap::new()),
            login: Mutex::new(login),
            secure,
            signing_key: Hmac::new_from_slice(random()?.as_bytes())
                .map_err(|e| PageError::Internal(format!("no signing key: {e}")))?,
        };
        Ok((sessions, token))
    }

    /// The session of `headers`' cookie, if it is alive; its flash message is taken.
    pub(super) fn find(&self, headers: &HeaderMap) -> Option<Visitor> {
        let id = cookie(headers, COOKIE)?;
        let mut sessions = self.lock();
        let key = digest(id);
        let session = sessions.get_mut(&key)?;
        if session.expires <= Instant::now() {
            sessions.remove(&key);
            return None;
        }
        Some(Visitor {
            id: id.to_string(),
            csrf: session.csrf.clone(),
            user: session.user.clone(),
            key: session.key.clone(),
            flash: session.flash.take(),
            set_cookie: None,
        })
    }

    /// The session of `headers`, or else an anonymous visitor, for whom the server keeps
    /// nothing: the login form's CSRF token is signed over a random cookie of the
    /// browser's, so a flood of visitors costs no memory and locks nobody out.
    pub(crate) fn visitor(&self, headers: &HeaderMap) -> Result<Visitor, PageError> {
        if let Some(visitor) = self.find(headers) {
            return Ok(visitor);
        }
        let (nonce, set_cookie) = match cookie(headers, ANONYMOUS_COOKIE) {
            Some(nonce) => (nonce.to_string(), None),
            None => {
                let nonce = random()?;
                let set = self.named_cookie(ANONYMOUS_COOKIE, &nonce, ANONYMOUS_LIFETIME.as_secs());
                (nonce, Some(set))
            }
        };
        Ok(Visitor {
            csrf: self.sign(&nonce),
            id: nonce,
            user: None,
            key: None,
            flash: None,
            set_cookie,
        })
    }

    /// The CSRF token of an anonymous visitor whose cookie holds `nonce`.
    fn sign(&self, nonce: &str) -> String {
        let mut mac = self.signing_key.clone();
        mac.update(b"preauth login form\0");
        mac.update(nonce.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A new session for `user`, opened with API key `key` if one (the old session of
    /// this browser, if any, ends).
    pub(crate) fn log_in(
        &self,
        headers: &HeaderMap,
        user: String,
        key: Option<KeyFingerprint>,
    ) -> Result<Visitor, PageError> {
        self.end(headers);
        self.start(Some(user), key, SESSION_LIFETIME)
    }

    /// Logs in with the one-time login token: a new session when `token` is it and still
    /// works (the old session of this browser ends), else `None`. The session is made
    /// before the token is spent, so that a server too busy for a session keeps the link.
    pub(crate) fn log_in_with_token(
        &self,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<Option<Visitor>, PageError> {
        let visitor = self.start(Some("the login link".into()), None, SESSION_LIFETIME)?;
        if !self.spend_login_token(token) {
            self.lock().remove(&digest(&visitor.id));
            return Ok(None);
        }
        self.end(headers);
        Ok(Some(visitor))
    }

    /// Spends the one-time login token: whether `token` is it and still works.
    fn spend_login_token(&self, token: &str) -> bool {
        let mut login = self.login.lock().unwrap_or_else(|e| e.into_inner());
        let valid = login.as_ref().is_some_and(|(hash, until)| {
            bool::from(hash.ct_eq(&digest(token))) && Instant::now() < *until
        });
        if valid {
            *login = None;
        }
        valid
    }

    /// Ends the session of `headers`, if any.
    pub(crate) fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.lock().remove(&digest(id));
        }
    }

    /// Leaves `message` for the next page the session `visitor` sees.
    pub(crate) fn flash(&self, visitor: &Visitor, message: Markup) {
        if let Some(session) = self.lock().get_mut(&digest(&visitor.id)) {
            session.flash = Some(message);
        }
    }

    /// The `Set-Cookie` value that ends the session cookie in the browser.
    pub(crate) fn expired_cookie(&self) -> String {
        self.cookie_value("", 0)
    }

    fn start(
        &self,
        user: Option<String>,
        key: Option<KeyFingerprint>,
        lifetime: Duration,
    ) -> Result<Visitor, PageError> {
        let (id, csrf) = (random()?, random()?);
        let now = Instant::now();
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() >= MAX_SESSIONS {
            return Err(PageError::Busy);
        }
        sessions.insert(
            digest(&id),
            Session {
                csrf: csrf.clone(),
                user: user.clone(),
                key: key.clone(),
                expires: now + lifetime,
                flash: None,
            },
        );
        Ok(Visitor {
            set_cookie: Some(self.cookie_value(&id, lifetime.as_secs())),
            id,
            csrf,
            user,
            key,
            flash: None,
        })
    }

    fn cookie_value(&self, id: &str, max_age: u64) -> String {
        self.named_cookie(COOKIE, id, max_age)
    }

    fn named_cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest32, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) fn random() -> Result<String, PageError> {
    random_token(32).map_err(|e| PageError::Internal(format!("no random bytes: {e}")))
}

/// The value of cookie `name` in `headers`.
pub(super) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_flood_of_anonymous_visitors_leaves_nothing_behind() {
        let (sessions, token) = Sessions::new(false, true).unwrap();
        for _ in 0..MAX_SESSIONS + 50 {
            let visitor = sessions.visitor(&HeaderMap::new()).expect("no room needed");
            assert!(visitor.set_cookie.is_some() && visitor.user.is_none());
        }
        assert_eq!(
            sessions.lock().len(),
            0,
            "the server keeps nothing for them"
        );
        let signed = sessions
            .log_in_with_token(&HeaderMap::new(), &token.unwrap())
            .unwrap()
            .expect("the link still logs in");
        assert!(signed.user.is_some());
        assert!(sessions.lock().len() <= MAX_SESSIONS);
        // A wrong token spends nothing and leaves no session behind.
        let before = sessions.lock().len();
        assert!(
            sessions
                .log_in_with_token(&HeaderMap::new(), "wrong")
                .unwrap()
                .is_none()
        );
        assert_eq!(sessions.lock().len(), before);
    }

    #[test]
    fn the_login_token_works_once() {
        let (sessions, token) = Sessions::new(false, true).unwrap();
        let token = token.unwrap();
        assert!(!sessions.spend_login_token("wrong"));
        assert!(sessions.spend_login_token(&token));
        assert!(!sessions.spend_login_token(&token));
        let (without, none) = Sessions::new(false, false).unwrap();
        assert!(none.is_none() && !without.spend_login_token(""));
    }

    #[test]
    fn a_login_starts_a_new_session_and_ends_the_old_one() {
        let sessions = Sessions::new(true, false).unwrap().0;
        let anonymous = sessions.visitor(&HeaderMap::new()).unwrap();
        let cookie = anonymous.set_cookie.clone().unwrap();
        assert!(cookie.starts_with(ANONYMOUS_COOKIE));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        // The same browser gets the same signed CSRF token, without a session.
        let browser = with_cookie(&format!("a=b; {ANONYMOUS_COOKIE}={}", anonymous.id));
        let again = sessions.visitor(&browser).unwrap();
        assert!(again.set_cookie.is_none() && again.check_csrf(&anonymous.csrf).is_ok());
        let other = sessions.visitor(&HeaderMap::new()).unwrap();
        assert!(other.check_csrf(&anonymous.csrf).is_err());
        // A server started again signs with another key.
        let restarted = Sessions::new(true, false).unwrap().0;
        assert!(
            restarted
                .visitor(&browser)
                .unwrap()
                .check_csrf(&anonymous.csrf)
                .is_err()
        );
        let old = with_cookie(&format!("{COOKIE}=stale"));
        let signed = sessions.log_in(&old, "login link".into(), None).unwrap();
        assert_ne!(signed.id, anonymous.id);
        assert_ne!(signed.csrf, anonymous.csrf);
        assert!(sessions.find(&old).is_none());
        let new = with_cookie(&format!("{COOKIE}={}", signed.id));
        let found = sessions.find(&new).unwrap();
        assert_eq!(found.user.as_deref(), Some("login link"));
        assert!(found.check_csrf(&signed.csrf).is_ok());
        assert!(found.check_csrf(&anonymous.csrf).is_err());
    }

    #[test]
    fn a_flash_message_is_shown_once() {
        let sessions = Sessions::new(false, false).unwrap().0;
        let visitor = sessions
            .log_in(&HeaderMap::new(), "x".into(), None)
            .unwrap();
        sessions.flash(&visitor, maud::html! { "dropped" });
        let headers = with_cookie(&format!("{COOKIE}={}", visitor.id));
        assert_eq!(
            sessions
                .find(&headers)
                .unwrap()
                .flash
                .map(Markup::into_string)
                .as_deref(),
            Some("dropped")
        );
        assert!(sessions.find(&headers).unwrap().flash.is_none());
    }
}
