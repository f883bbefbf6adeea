//! The authorization endpoint and the pages behind it (both platforms).
//!
//! Flow: `GET authorize` checks the client and the redirect URI (error page when either is
//! wrong: a redirect to an unverified URI would be an open redirector), then the remaining
//! parameters (errors now go back to the redirect URI), then shows the login page, the
//! consent page, and finally redirects with a code. A session cookie skips the login page
//! next time unless `force_login=1`; a remembered consent skips the consent page.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::{Host, Url};

use crate::App;
use crate::approve::Login;
use crate::pages::{self, PageError};
use crate::params::Params;
use crate::platform::{PENDING_LIFETIME, Platform, SESSION_LIFETIME};
use crate::state::{AuthRequest, CodeGrant, Pending, SandboxState, Session, Store};
use crate::tokens::{self, TokenDigest, digest, same_secret};

/// The name of the login session cookie.
const SESSION_COOKIE: &str = "sandbox_session";

/// `GET /api/oauth2/auth`.
pub(crate) async fn exact(
    State(state): State<SandboxState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    authorize(&state, Platform::Exact, query.as_deref(), &headers)
}

/// `GET /auth/authentication/connect/authorize`.
pub(crate) async fn twinfield(
    State(state): State<SandboxState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    authorize(&state, Platform::Twinfield, query.as_deref(), &headers)
}

fn authorize(
    state: &SandboxState,
    platform: Platform,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let params = Params::parse(query.unwrap_or_default().as_bytes())
        .map_err(PageError::DuplicateParameter)?;
    let client_id = params
        .get("client_id")
        .ok_or(PageError::MissingParameter("client_id"))?;
    let app = state.app(client_id).ok_or(PageError::UnknownClient)?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(PageError::MissingParameter("redirect_uri"))?;
    if !redirect_registered(app, redirect_uri) {
        return Err(PageError::RedirectNotRegistered);
    }
    let mut request = AuthRequest {
        platform,
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: params.get("state").map(str::to_owned),
        scope: params.get("scope").map(str::to_owned),
        nonce: None,
        code_challenge: None,
    };
    if let Err((code, description)) = check_request(platform, &params, &mut request) {
        return Ok(redirect_error(state, &request, code, description));
    }
    let force_login = match platform {
        Platform::Exact => matches!(params.get("force_login"), Some("1" | "true")),
        Platform::Twinfield => params.get("prompt") == Some("login"),
    };

    let now = state.clock().now();
    let mut store = state.store();
    store.counters.authorize_requests += 1;
    if state.auto_approve() {
        return Ok(issue_code(state, &mut store, request, now));
    }
    let session = if force_login {
        None
    } else {
        live_session(&store, headers, now)
    };
    let tx = tokens::transaction_id();
    let response = match session {
        Some(sid)
            if store
                .sessions
                .get(&sid)
                .is_some_and(|s| s.consented.contains(&request.client_id)) =>
        {
            return Ok(issue_code(state, &mut store, request, now));
        }
        Some(_) => pages::consent(platform, &request.client_id, request.scope.as_deref(), &tx),
        None => pages::login(platform, &request.client_id, &tx, None),
    };
    store.pending.insert(
        digest(&tx),
        Pending {
            request,
            created: now,
            session,
        },
    );
    store.added(now);
    Ok(response)
}

/// Checks what can be refused with a redirect; fills in the platform's extra parameters.
fn check_request(
    platform: Platform,
    params: &Params,
    request: &mut AuthRequest,
) -> Result<(), (&'static str, &'static str)> {
    match params.get("response_type") {
        None => return Err(("invalid_request", "The response_type parameter is missing.")),
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
    }
    if platform == Platform::Exact {
        return Ok(());
    }
    request.nonce = Some(
        params
            .get("nonce")
            .ok_or(("invalid_request", "The nonce parameter is required."))?
            .to_owned(),
    );
    if !request
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|scope| scope == "openid"))
    {
        return Err(("invalid_scope", "The scope must include openid."));
    }
    if let Some(challenge) = params.get("code_challenge") {
        if params.get("code_challenge_method") != Some("S256") {
            return Err((
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            ));
        }
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(("invalid_request", "The code_challenge is malformed."));
        }
        request.code_challenge = Some(challenge.to_owned());
    } else if params.contains("code_challenge_method") {
        return Err((
            "invalid_request",
            "The code_challenge parameter is missing.",
        ));
    }
    Ok(())
}

/// Whether `uri` is registered for `app`: exactly, or (RFC 8252 §7.3) as a loopback IP
/// literal `http` URI that differs only in its port.
fn redirect_registered(app: &App, uri: &str) -> bool {
    app.redirect_uris
        .iter()
        .any(|registered| registered == uri || same_loopback_but_port(registered, uri))
}

fn same_loopback_but_port(registered: &str, presented: &str) -> bool {
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    let loopback_ip = match r.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    loopback_ip
        && r.scheme() == "http"
        && p.scheme() == "http"
        && r.host() == p.host()
        && r.path() == p.path()
        && r.query() == p.query()
        && p.fragment().is_none()
        && p.username().is_empty()
        && p.password().is_none()
}

fn live_session(store: &Store, headers: &HeaderMap, now: SystemTime) -> Option<TokenDigest> {
    let sid = digest(session_cookie(headers)?);
    store
        .sessions
        .get(&sid)
        .filter(|s| s.created + SESSION_LIFETIME > now)
        .map(|_| sid)
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// 302 to the request's redirect URI with `pairs`, then `state`, then (Twinfield) `iss`.
fn redirect(state: &SandboxState, request: &AuthRequest, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return PageError::RedirectNotRegistered.into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
        if request.platform == Platform::Twinfield {
            query.append_pair("iss", &state.twinfield_issuer());
        }
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => PageError::RedirectNotRegistered.into_response(),
    }
}

fn redirect_error(
    state: &SandboxState,
    request: &AuthRequest,
    code: &str,
    description: &str,
) -> Response {
    redirect(
        state,
        request,
        &[("error", code), ("error_description", description)],
    )
}

fn issue_code(
    state: &SandboxState,
    store: &mut Store,
    request: AuthRequest,
    now: SystemTime,
) -> Response {
    let code = match request.platform {
        Platform::Exact => tokens::exact_code(),
        Platform::Twinfield => tokens::opaque(),
    };
    let response = redirect(state, &request, &[("code", &code)]);
    store.codes.insert(
        digest(&code),
        CodeGrant {
            request,
            issued: now,
            used: false,
        },
    );
    store.counters.codes_issued += 1;
    store.added(now);
    response
}

/// `POST` of the login form: user, password, 2FA code.
pub(crate) async fn login(
    State(state): State<SandboxState>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).map_err(PageError::DuplicateParameter)?;
    let tx = form.get("tx").ok_or(PageError::MissingParameter("tx"))?;
    let now = state.clock().now();
    let mut store = state.store();
    let pending = store
        .pending
        .get(&digest(tx))
        .filter(|p| p.created + PENDING_LIFETIME > now)
        .ok_or(PageError::PendingExpired)?;
    let request = pending.request.clone();
    if !credentials_match(&form) {
        return Ok(pages::login(
            request.platform,
            &request.client_id,
            tx,
            Some("The user name, password or verification code is incorrect."),
        ));
    }
    let session_id = tokens::opaque();
    let sid = digest(&session_id);
    store.sessions.insert(
        sid,
        Session {
            created: now,
            consented: Default::default(),
        },
    );
    if let Some(pending) = store.pending.get_mut(&digest(tx)) {
        pending.session = Some(sid);
    }
    store.counters.logins += 1;
    store.added(now);
    let mut response = pages::consent(
        request.platform,
        &request.client_id,
        request.scope.as_deref(),
        tx,
    );
    let cookie = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn credentials_match(form: &Params) -> bool {
    let demo = Login::demo();
    let field = |name| form.get(name).unwrap_or_default();
    // Evaluate all three so the time taken does not tell which one was wrong.
    let user = same_secret(field("user"), &demo.user);
    let password = same_secret(field("password"), &demo.password);
    let totp = same_secret(field("totp").trim(), &demo.totp);
    user & password & totp
}

/// `POST` of the consent form: `decision=allow` or `decision=deny`.
pub(crate) async fn consent(
    State(state): State<SandboxState>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Params::parse(&body).map_err(PageError::DuplicateParameter)?;
    let tx = digest(form.get("tx").ok_or(PageError::MissingParameter("tx"))?);
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(PageError::NoDecision),
    };
    let now = state.clock().now();
    let mut store = state.store();
    let sid = match store.pending.get(&tx) {
        Some(p) if p.created + PENDING_LIFETIME > now => p.session.ok_or(PageError::NotLoggedIn)?,
        _ => return Err(PageError::PendingExpired),
    };
    let Some(pending) = store.pending.remove(&tx) else {
        return Err(PageError::PendingExpired);
    };
    if !allow {
        return Ok(redirect_error(
            &state,
            &pending.request,
            "access_denied",
            "The user denied access.",
        ));
    }
    if let Some(session) = store.sessions.get_mut(&sid) {
        session.consented.insert(pending.request.client_id.clone());
    }
    Ok(issue_code(&state, &mut store, pending.request, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_only() {
        let app = App::demo();
        assert!(redirect_registered(&app, "http://127.0.0.1:53682/callback"));
        assert!(redirect_registered(&app, "http://127.0.0.1:40000/callback"));
        assert!(redirect_registered(&app, "http://127.0.0.1/callback"));
        assert!(redirect_registered(
            &app,
            "https://example.invalid/callback"
        ));
        assert!(!redirect_registered(&app, "http://127.0.0.1:40000/other"));
        assert!(!redirect_registered(&app, "http://[::1]:53682/callback"));
        assert!(!redirect_registered(
            &app,
            "http://localhost:53682/callback"
        ));
        assert!(!redirect_registered(
            &app,
            "https://example.invalid:8443/callback"
        ));
        assert!(!redirect_registered(
            &app,
            "http://127.0.0.1:1/callback?x=1"
        ));
        assert!(!redirect_registered(&app, "http://127.0.0.1:1/callback#f"));
    }
}
