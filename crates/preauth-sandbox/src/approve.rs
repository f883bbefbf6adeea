//! A scripted user agent that logs in and consents on the sandbox's pages.

use std::fmt;
use std::net::IpAddr;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use url::{Host, Url};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::SandboxError;

/// What a person types on the sandbox's login page.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password (redacted in `Debug`).
    pub password: String,
    /// The 2FA (TOTP) code (redacted in `Debug`).
    pub totp: String,
}

impl Login {
    /// The demo user's name.
    pub const DEMO_USER: &'static str = "demo";
    /// The demo user's password; public on purpose, it only works on the sandbox.
    pub const DEMO_PASSWORD: &'static str = "demo";
    /// The demo user's 2FA code (fixed: the sandbox has no authenticator app).
    pub const DEMO_TOTP: &'static str = "123456";

    /// The sandbox's built-in user: `demo` / `demo`, 2FA code `123456`.
    pub fn demo() -> Login {
        Login {
            user: Self::DEMO_USER.to_owned(),
            password: Self::DEMO_PASSWORD.to_owned(),
            totp: Self::DEMO_TOTP.to_owned(),
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .field("totp", &"[redacted]")
            .finish()
    }
}

/// Opens `authorize_url`, fills in the login (user, password, 2FA) and consent pages as a
/// person would (choosing "Allow"), and returns the final redirect URL (the registered
/// `redirect_uri` with `code` and `state`) without following it. With auto-approve, or a
/// remembered login and consent, the first answer is already that redirect.
///
/// Only talks to 127.0.0.1, `::1` or `localhost`, and never through a proxy.
pub async fn approve(authorize_url: &str, login: &Login) -> Result<String, SandboxError> {
    let url = Url::parse(authorize_url).map_err(|e| SandboxError::InvalidUrl(e.to_string()))?;
    ensure_loopback(&url)?;
    let client = Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .build()
        .map_err(|source| http_error(&url, source))?;

    let answer = client.get(url.clone()).send().await;
    let mut html = match read(&url, answer, "opening the authorize URL").await? {
        Answer::Redirect(location) => return Ok(location),
        Answer::Page(html) => html,
    };
    if let Some(form) = Form::find(&html, "login") {
        let mut fields = form.hidden.clone();
        fields.push(("user".to_owned(), Zeroizing::new(login.user.clone())));
        fields.push((
            "password".to_owned(),
            Zeroizing::new(login.password.clone()),
        ));
        fields.push(("totp".to_owned(), Zeroizing::new(login.totp.clone())));
        html = match submit(&client, &url, &form, &fields, "submitting the login form").await? {
            Answer::Redirect(location) => return Ok(location),
            Answer::Page(html) => html,
        };
        if Form::find(&html, "login").is_some() {
            return Err(SandboxError::LoginRejected {
                message: text_of(&html, "error").unwrap_or_else(|| "no reason given".to_owned()),
            });
        }
    }
    let step = "submitting the consent form";
    let form = Form::find(&html, "consent").ok_or(SandboxError::UnexpectedPage {
        status: 200,
        step: "looking for the consent form",
    })?;
    let mut fields = form.hidden.clone();
    fields.push(("decision".to_owned(), Zeroizing::new("allow".to_owned())));
    match submit(&client, &url, &form, &fields, step).await? {
        Answer::Redirect(location) => Ok(location),
        Answer::Page(_) => Err(SandboxError::UnexpectedPage { status: 200, step }),
    }
}

fn ensure_loopback(url: &Url) -> Result<(), SandboxError> {
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback && matches!(url.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err(SandboxError::NotLoopback {
            host: url.host_str().unwrap_or_default().to_owned(),
        })
    }
}

/// The URL without query or fragment, for error messages (the query may carry `state`).
fn http_error(url: &Url, source: reqwest::Error) -> SandboxError {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    SandboxError::Http {
        url: shown.to_string(),
        source: source.without_url(),
    }
}

enum Answer {
    /// A redirect: its `Location`, not followed.
    Redirect(String),
    /// A 200 page's HTML.
    Page(String),
}

async fn read(
    url: &Url,
    answer: Result<Response, reqwest::Error>,
    step: &'static str,
) -> Result<Answer, SandboxError> {
    let response = answer.map_err(|source| http_error(url, source))?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(SandboxError::UnexpectedPage {
                status: status.as_u16(),
                step,
            })?;
        return Ok(Answer::Redirect(location.to_owned()));
    }
    let html = response
        .text()
        .await
        .map_err(|source| http_error(url, source))?;
    if status == StatusCode::OK {
        return Ok(Answer::Page(html));
    }
    match text_of(&html, "message") {
        Some(message) if status.is_client_error() => Err(SandboxError::Refused {
            status: status.as_u16(),
            message,
        }),
        _ => Err(SandboxError::UnexpectedPage {
            status: status.as_u16(),
            step,
        }),
    }
}

async fn submit(
    client: &Client,
    page_url: &Url,
    form: &Form,
    fields: &[(String, Zeroizing<String>)],
    step: &'static str,
) -> Result<Answer, SandboxError> {
    let target = page_url
        .join(&form.action)
        .map_err(|e| SandboxError::InvalidUrl(e.to_string()))?;
    ensure_loopback(&target)?;
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let answer = client.post(target.clone()).form(&pairs).send().await;
    read(&target, answer, step).await
}

/// A form on one of the sandbox's pages: where it posts and its hidden fields.
#[derive(Clone)]
struct Form {
    action: String,
    hidden: Vec<(String, Zeroizing<String>)>,
}

impl Form {
    /// The form with `id="{id}"` in `html`, if any.
    fn find(html: &str, id: &str) -> Option<Form> {
        let marker = format!("<form id=\"{id}\"");
        let start = html.find(&marker)?;
        let rest = html.get(start..)?;
        let end = rest.find("</form>")?;
        let body = rest.get(..end)?;
        let open_tag = body.get(..body.find('>')?)?;
        let action = attribute(open_tag, "action")?;
        let hidden = body
            .split("<input ")
            .skip(1)
            .filter_map(|tag| tag.split('>').next())
            .filter(|tag| attribute(tag, "type").as_deref() == Some("hidden"))
            .filter_map(|tag| {
                Some((
                    attribute(tag, "name")?,
                    Zeroizing::new(attribute(tag, "value")?),
                ))
            })
            .collect();
        Some(Form { action, hidden })
    }
}

/// The unescaped value of `name="..."` in a tag's attributes.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let tag = format!(" {tag}");
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let rest = tag.get(start..)?;
    Some(unescape(rest.get(..rest.find('"')?)?))
}

/// The text of the element with `id="{id}"`.
fn text_of(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let rest = html.get(html.find(&marker)?..)?;
    let rest = rest.get(rest.find('>')? + 1..)?;
    Some(unescape(rest.get(..rest.find('<')?)?))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_forms_and_messages_without_panicking() {
        let html = "<p id=\"error\" role=\"alert\">Bad &amp; wrong</p><form id=\"login\" method=\"post\" action=\"/x\">\n\
<input type=\"hidden\" name=\"tx\" value=\"a&quot;b\">\n<input type=\"text\" name=\"user\"></form>";
        let form = Form::find(html, "login").unwrap();
        assert_eq!(form.action, "/x");
        assert_eq!(form.hidden.len(), 1);
        assert_eq!(form.hidden[0].0, "tx");
        assert_eq!(form.hidden[0].1.as_str(), "a\"b");
        assert_eq!(text_of(html, "error").unwrap(), "Bad & wrong");
        for cut in 0..html.len() {
            if let Some(prefix) = html.get(..cut) {
                let _ = Form::find(prefix, "login");
                let _ = text_of(prefix, "error");
            }
        }
        assert!(Form::find(html, "consent").is_none());
    }

    #[test]
    fn refuses_other_hosts_and_redacts() {
        let url = Url::parse("http://example.com/api/oauth2/auth").unwrap();
        assert!(matches!(
            ensure_loopback(&url),
            Err(SandboxError::NotLoopback { .. })
        ));
        for ok in [
            "http://127.0.0.1:1/",
            "http://[::1]:1/",
            "http://localhost:1/",
        ] {
            assert!(ensure_loopback(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        let shown = format!("{:?}", Login::demo());
        assert!(!shown.contains(Login::DEMO_TOTP));
    }
}
