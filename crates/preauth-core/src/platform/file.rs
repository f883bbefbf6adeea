//! The platforms file: user-defined platforms, one XML element each.
//!
//! ```xml
//! <platforms>
//!   <platform id="acme-idp" issuer="https://login.acme.example/realm"
//!             authorizeUrl="/realm/authorize" tokenUrl="/realm/token"
//!             clientAuth="basic" scopes="openid offline_access" pkce="true"/>
//! </platforms>
//! ```
//!
//! Every error names the file, line and column; unknown attributes are errors (a typo
//! must not silently drop PKCE).

use std::path::Path;
use std::time::Duration;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::generic::GenericPlatform;
use super::record::{ClientAuth, Platform, PlatformError};
use crate::documents::Documents;

/// The document (a file in the settings folder, or a row of a shared store) that holds
/// the user-defined platforms.
pub const PLATFORMS_FILE: &str = "platforms.xml";

/// Adds `spec` to the platforms document of `docs` (created when missing), durably and
/// only when the whole document still parses afterwards. Attributes not given keep their
/// defaults.
pub fn append(docs: &dyn Documents, spec: &GenericPlatform) -> Result<(), PlatformError> {
    let failed = |e| PlatformError::Store {
        action: "write",
        source: Box::new(e),
    };
    let location = docs.location_of(PLATFORMS_FILE);
    let path = Path::new(&location);
    let mut locked = docs.lock(PLATFORMS_FILE).map_err(failed)?;
    let previous = locked
        .read()
        .map_err(failed)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let element = element(spec);
    let text = match &previous {
        None => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<platforms>\n{element}\n</platforms>\n"
        ),
        Some(text) => match text.rfind("</platforms>") {
            Some(end) => format!("{}{element}\n{}", &text[..end], &text[end..]),
            None => {
                return Err(malformed(
                    text,
                    path,
                    text.len() as u64,
                    "the file has no closing </platforms>; fix it by hand first".into(),
                ));
            }
        },
    };
    parse(&text, path)?;
    locked.write(text.as_bytes()).map_err(failed)
}

/// One `<platform …/>` line for `spec`.
fn element(spec: &GenericPlatform) -> String {
    let mut attrs = vec![("id", spec.id.clone())];
    if let Some(issuer) = &spec.issuer {
        attrs.push(("issuer", issuer.clone()));
    }
    attrs.push(("authorizeUrl", spec.authorize_url.clone()));
    attrs.push(("tokenUrl", spec.token_url.clone()));
    attrs.push((
        "clientAuth",
        match spec.client_auth {
            ClientAuth::HttpBasic => "basic".into(),
            ClientAuth::FormBody => "body".into(),
        },
    ));
    if !spec.scopes.is_empty() {
        attrs.push(("scopes", spec.scopes.join(" ")));
    }
    attrs.push(("pkce", spec.pkce.to_string()));
    if !spec.consent_for_offline_access {
        attrs.push(("promptConsent", "false".into()));
    }
    if !spec.issues_refresh_tokens {
        attrs.push(("issuesRefreshTokens", "false".into()));
    }
    if spec.iss_required {
        attrs.push(("requireIss", "true".into()));
    }
    if spec.refresh_token_rotates {
        attrs.push(("rotatesRefreshTokens", "true".into()));
    }
    if let Some(calls) = spec.token_calls_per_day {
        attrs.push(("tokenCallsPerDay", calls.to_string()));
    }
    if let Some(errors) = spec.token_errors_per_hour_block {
        attrs.push(("tokenErrorsPerHourBlock", errors.to_string()));
    }
    if !spec.extra_authorize_params.is_empty() {
        let params = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&spec.extra_authorize_params)
            .finish();
        attrs.push(("extraParams", params));
    }
    let attrs: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", quick_xml::escape::escape(v.as_str())))
        .collect();
    format!("  <platform {}/>", attrs.join(" "))
}

/// Parses a platforms file's text (see the module doc).
pub(super) fn parse(text: &str, path: &Path) -> Result<Vec<Platform>, PlatformError> {
    let mut reader = Reader::from_str(text);
    let mut platforms = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        let before = reader.buffer_position();
        let at = |message: String| malformed(text, path, before, message);
        let event = reader
            .read_event()
            .map_err(|e| malformed(text, path, reader.error_position(), e.to_string()))?;
        match event {
            Event::Eof if !saw_root => {
                return Err(at("the file has no <platforms> element".into()));
            }
            Event::Eof if depth > 0 => {
                return Err(at("the <platforms> element is not closed".into()));
            }
            Event::Eof => return Ok(platforms),
            Event::Start(e) if !saw_root && e.name().as_ref() == b"platforms" => {
                (depth, saw_root) = (1, true);
            }
            Event::Empty(e) if !saw_root && e.name().as_ref() == b"platforms" => saw_root = true,
            Event::Empty(e) | Event::Start(e) if depth == 1 && e.name().as_ref() == b"platform" => {
                platforms.push(platform(&e).map_err(at)?);
            }
            Event::End(e) if depth == 1 && e.name().as_ref() == b"platforms" => depth = 0,
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                return Err(at(format!(
                    "unexpected element <{name}>; the file holds <platforms> with <platform …/> elements"
                )));
            }
            Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => {
                return Err(at(
                    "unexpected text; only <platform …/> elements belong here".into(),
                ));
            }
            _ => {}
        }
    }
}

/// Reads one `<platform …/>` element.
fn platform(e: &BytesStart<'_>) -> Result<Platform, String> {
    let mut spec = GenericPlatform::new("", None, "", "");
    let mut nonce = None;
    let mut seen = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| e.to_string())?
            .trim()
            .to_string();
        if seen.contains(&key) {
            return Err(format!("attribute '{key}' is given twice"));
        }
        match key.as_str() {
            "id" => spec.id = value,
            "name" => spec.display_name = Some(value),
            "provider" => spec.provider = Some(value),
            "issuer" => spec.issuer = Some(value),
            "authorizeUrl" => spec.authorize_url = value,
            "tokenUrl" => spec.token_url = value,
            "meUrl" => spec.me_url = Some(value),
            "clientAuth" => {
                spec.client_auth = match value.to_ascii_lowercase().as_str() {
                    "basic" => ClientAuth::HttpBasic,
                    "body" => ClientAuth::FormBody,
                    _ => {
                        return Err(format!(
                            "clientAuth must be 'basic' or 'body', not '{value}'"
                        ));
                    }
                }
            }
            "scopes" => spec.scopes = value.split_whitespace().map(str::to_string).collect(),
            "pkce" => spec.pkce = boolean(&key, &value)?,
            "nonce" => nonce = Some(boolean(&key, &value)?),
            "rotatesRefreshTokens" => spec.refresh_token_rotates = boolean(&key, &value)?,
            "promptConsent" => spec.consent_for_offline_access = boolean(&key, &value)?,
            "issuesRefreshTokens" => spec.issues_refresh_tokens = boolean(&key, &value)?,
            "requireIss" => spec.iss_required = boolean(&key, &value)?,
            "extraParams" => {
                spec.extra_authorize_params = url::form_urlencoded::parse(value.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            }
            "accessTokenSeconds" => spec.access_token_lifetime = Some(seconds(&key, &value, 1)?),
            "refreshWindowSeconds" => spec.refresh_window = Some(seconds(&key, &value, 1)?),
            "refreshTokenDays" => {
                spec.refresh_token_lifetime = Some(seconds(&key, &value, 24 * 3600)?)
            }
            "tokenCallsPerDay" => spec.token_calls_per_day = Some(count(&key, &value)?),
            "tokenErrorsPerHourBlock" => {
                spec.token_errors_per_hour_block = Some(count(&key, &value)?)
            }
            _ => {
                return Err(format!(
                    "unknown attribute '{key}'; known are id, name, provider, issuer, authorizeUrl, \
                     tokenUrl, meUrl, clientAuth, scopes, pkce, nonce, extraParams, \
                     accessTokenSeconds, refreshWindowSeconds, rotatesRefreshTokens, refreshTokenDays, \
                     promptConsent, issuesRefreshTokens, requireIss, tokenCallsPerDay, \
                     tokenErrorsPerHourBlock"
                ));
            }
        }
        seen.push(key);
    }
    for required in ["id", "authorizeUrl", "tokenUrl"] {
        if !seen.iter().any(|k| k == required) {
            return Err(format!("<platform> needs a '{required}' attribute"));
        }
    }
    spec.nonce = nonce;
    Platform::generic(spec).map_err(|e| e.to_string())
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`).
fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{key} must be true or false, not '{value}'")),
    }
}

/// A whole number of units (seconds or days) as a duration.
fn seconds(key: &str, value: &str, unit: u64) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(unit))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{key} must be a positive whole number, not '{value}'"))
}

/// A positive whole number (a limit).
fn count(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{key} must be a positive whole number, not '{value}'"))
}

/// An error at byte `offset` of `text` (skipping leading whitespace), as line and column.
fn malformed(text: &str, path: &Path, offset: u64, message: String) -> PlatformError {
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let rest = text.get(offset..).unwrap_or("");
    let offset = offset + (rest.len() - rest.trim_start().len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    PlatformError::Malformed {
        path: path.to_path_buf(),
        line: line as u64,
        column: column as u64,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"<?xml version="1.0"?>
<platforms>
  <!-- a comment -->
  <platform id="acme" issuer="https://login.acme.example/realm" authorizeUrl="/realm/auth"
            tokenUrl="https://login.acme.example/realm/token" clientAuth="body"
            scopes="openid offline_access" pkce="false" extraParams="prompt=login&amp;x=1"/>
  <platform id="plain" authorizeUrl="https://idp.example/oauth/authorize" tokenUrl="/oauth/token"/>
</platforms>
"#;

    #[test]
    fn reads_platforms() {
        let ps = parse(FILE, Path::new("platforms.xml")).expect("valid file");
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].client_auth, ClientAuth::FormBody);
        assert!(!ps[0].pkce && ps[0].nonce);
        assert_eq!(ps[0].token_path, "/realm/token");
        assert_eq!(
            ps[0].extra_authorize_params,
            vec![("prompt".into(), "login".into()), ("x".into(), "1".into())]
        );
        assert_eq!(ps[1].base_url(None), Some("https://idp.example"));
        assert!(ps[1].pkce && ps[1].issuer_path.is_none());
    }

    #[test]
    fn consent_and_refresh_token_settings_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("platforms.xml");
        let mut spec = GenericPlatform::new(
            "quiet",
            Some("https://idp.example/realm".into()),
            "/realm/auth",
            "/realm/token",
        );
        spec.scopes = vec!["openid".into(), "offline_access".into()];
        spec.consent_for_offline_access = false;
        spec.issues_refresh_tokens = false;
        spec.token_calls_per_day = Some(500);
        spec.token_errors_per_hour_block = Some(20);
        append(&crate::documents::FolderDocuments::new(dir.path()), &spec).expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("promptConsent=\"false\""), "{text}");
        let read = parse(&text, &path).expect("parses");
        assert!(!read[0].issues_refresh_tokens);
        assert_eq!(read[0].token_calls_per_day, Some(500));
        assert_eq!(read[0].token_errors_per_hour_block, Some(20));
        assert!(
            read[0].extra_authorize_params.is_empty(),
            "no prompt=consent when switched off"
        );
        let default = parse(FILE, Path::new("platforms.xml")).expect("valid file");
        assert!(default[1].issues_refresh_tokens, "on by default");
        assert_eq!(default[1].token_calls_per_day, None, "no limits by default");
        let zero = "<platforms>\n  <platform id=\"x\" authorizeUrl=\"/a\" tokenUrl=\"/t\" tokenCallsPerDay=\"0\"/>\n</platforms>";
        let err = parse(zero, Path::new("p.xml")).err().map(|e| e.to_string());
        assert!(
            err.unwrap_or_default()
                .contains("tokenCallsPerDay must be a positive whole number"),
            "a limit of 0 is refused"
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = "<platforms>\n  <platform id=\"x\" authorizeUrl=\"/a\" tokenUrl=\"/t\" pcke=\"true\"/>\n</platforms>";
        let err = parse(text, Path::new("p.xml")).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.starts_with("p.xml:2:3: unknown attribute 'pcke'"),
            "{err}"
        );
        let err = parse("<platforms>\n<platform id=\"x\"\n", Path::new("p.xml")).err();
        assert!(
            matches!(err, Some(PlatformError::Malformed { line: 2, .. })),
            "{err:?}"
        );
        let err = parse("<other/>", Path::new("p.xml")).err();
        assert!(matches!(
            err,
            Some(PlatformError::Malformed {
                line: 1,
                column: 1,
                ..
            })
        ));
    }
}
