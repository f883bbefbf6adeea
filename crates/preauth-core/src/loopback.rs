//! The loopback redirect listener (RFC 8252 §7.3).
//!
//! When a connection's redirect URI is `http://127.0.0.1:PORT/path`, `http://[::1]:PORT/path`
//! or `http://localhost:PORT/path` (`localhost` binds 127.0.0.1, RFC 8252 §8.3), the
//! listener binds exactly that address and port, answers exactly that path (others get
//! 404), and takes ONE callback whose `state` is the one expected. A callback with
//! another or no `state` gets an error page and is ignored; the listener keeps waiting
//! until the timeout. It never opens a browser: the caller shows the URL.
//!
//! The HTTP it speaks is the least a browser needs: one `GET` request line and headers
//! (at most 8 KiB, read within a few seconds), one short HTML answer, connection closed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use url::Url;

use crate::flow::{self, Callback};
use crate::secret::StateToken;

/// Longest request head read.
const MAX_REQUEST: usize = 8 * 1024;

/// Time a browser connection gets to send its request line and headers.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a loopback redirect URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackTarget {
    /// The address to bind (an IP literal; `localhost` becomes 127.0.0.1).
    pub addr: SocketAddr,
    /// The path to answer (`/callback`).
    pub path: String,
}

/// Why the loopback listener could not deliver a return URL.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    /// The redirect URI is not a loopback `http` URI with an explicit port.
    #[error(
        "the redirect URL '{0}' is not http://127.0.0.1:PORT/…, http://[::1]:PORT/… or http://localhost:PORT/…; paste the return URL instead"
    )]
    NotLoopback(String),
    /// The address could not be bound (port taken, no IPv6).
    #[error(
        "cannot listen on {addr} for the redirect: {source}; free the port or paste the return URL instead"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// No valid callback arrived in time.
    #[error("no browser came back to {url} within {} seconds; start the authorization again or paste the return URL", .timeout.as_secs())]
    TimedOut {
        /// The redirect URL waited on.
        url: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// Accepting connections failed.
    #[error("the redirect listener on {addr} failed: {source}")]
    Accept {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// The loopback target of a redirect URI, or `None` when it is not one (then the user
/// pastes the return URL).
pub fn loopback_target(redirect_url: &str) -> Option<LoopbackTarget> {
    let url = Url::parse(redirect_url).ok()?;
    if url.scheme() != "http" || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let ip = match url.host()? {
        url::Host::Ipv4(ip) if ip == Ipv4Addr::LOCALHOST => IpAddr::V4(ip),
        url::Host::Ipv6(ip) if ip == Ipv6Addr::LOCALHOST => IpAddr::V6(ip),
        url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        _ => return None,
    };
    let port = url.port()?;
    Some(LoopbackTarget {
        addr: SocketAddr::new(ip, port),
        path: url.path().to_string(),
    })
}

/// A bound loopback listener waiting for one callback.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    target: LoopbackTarget,
    redirect_url: String,
}

impl LoopbackListener {
    /// Binds the redirect URI's address and port. Bind before showing the
    /// authorization URL, so a taken port is reported before the user logs in.
    pub async fn bind(redirect_url: &str) -> Result<LoopbackListener, LoopbackError> {
        let target = loopback_target(redirect_url)
            .ok_or_else(|| LoopbackError::NotLoopback(redirect_url.to_string()))?;
        let listener =
            TcpListener::bind(target.addr)
                .await
                .map_err(|source| LoopbackError::Bind {
                    addr: target.addr,
                    source,
                })?;
        Ok(LoopbackListener {
            listener,
            target,
            redirect_url: redirect_url.to_string(),
        })
    }

    /// Where it listens.
    pub fn target(&self) -> &LoopbackTarget {
        &self.target
    }

    /// Waits for the one callback carrying `state` and returns its query (to be handed
    /// to the lifecycle's `finish_authorization`). Callbacks with another `state` are
    /// answered with an error page and ignored. Stops listening when it returns.
    pub async fn wait(
        self,
        state: &StateToken,
        timeout: Duration,
    ) -> Result<String, LoopbackError> {
        let (tx, mut rx) = mpsc::channel::<String>(1);
        let addr = self.target.addr;
        let mut handlers = tokio::task::JoinSet::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => {
                    return Err(LoopbackError::TimedOut { url: self.redirect_url, timeout });
                }
                Some(query) = rx.recv() => return Ok(query),
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|source| LoopbackError::Accept { addr, source })?;
                    let path = self.target.path.clone();
                    let expected = state.clone();
                    let tx = tx.clone();
                    handlers.spawn(async move {
                        if let Some(query) = serve(stream, &path, &expected).await {
                            let _ = tx.send(query).await;
                        }
                    });
                }
            }
        }
    }
}

/// Answers one browser connection; returns the query when it is the expected callback.
async fn serve(mut stream: TcpStream, path: &str, expected: &StateToken) -> Option<String> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .ok()
        .flatten();
    let Some(target) = head.as_deref().and_then(request_target) else {
        respond(
            &mut stream,
            400,
            "Bad request",
            "This address only takes the sign-in redirect.",
        )
        .await;
        return None;
    };
    let (req_path, query) = target.split_once('?').unwrap_or((target, ""));
    if req_path != path {
        respond(
            &mut stream,
            404,
            "Not found",
            "This address only takes the sign-in redirect.",
        )
        .await;
        return None;
    }
    let matches = flow::parse_return(query)
        .ok()
        .and_then(|cb| {
            cb.state()
                .map(|s| crate::secret::ct_eq_str(s, expected.secret()))
        })
        .unwrap_or(false);
    if !matches {
        respond(
            &mut stream,
            400,
            "Sign-in not recognised",
            "This redirect does not belong to the sign-in preauth is waiting for. Close this tab and use the link preauth printed.",
        )
        .await;
        return None;
    }
    let denied = matches!(flow::parse_return(query), Ok(Callback::Denied { .. }));
    if denied {
        respond(
            &mut stream,
            200,
            "Sign-in refused",
            "The platform refused the sign-in; preauth shows why. You can close this tab.",
        )
        .await;
    } else {
        respond(
            &mut stream,
            200,
            "Signed in",
            "preauth received the sign-in. You can close this tab.",
        )
        .await;
    }
    Some(query.to_string())
}

/// Reads up to the end of the request head (`\r\n\r\n`), at most [`MAX_REQUEST`] bytes.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
    String::from_utf8(buf).ok()
}

/// The request target of `GET <target> HTTP/1.x`.
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if method != "GET"
        || !version.starts_with("HTTP/1.")
        || parts.next().is_some()
        || !target.starts_with('/')
    {
        return None;
    }
    Some(target)
}

/// Writes a short HTML page and closes.
async fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_follow_rfc8252() {
        let t = loopback_target("http://localhost:53682/callback");
        assert_eq!(
            t,
            Some(LoopbackTarget {
                addr: "127.0.0.1:53682".parse().expect("literal"),
                path: "/callback".into()
            })
        );
        assert_eq!(
            loopback_target("http://[::1]:8080/cb").map(|t| t.addr),
            "[::1]:8080".parse().ok()
        );
        assert_eq!(loopback_target("https://127.0.0.1:8080/cb"), None);
        assert_eq!(
            loopback_target("http://127.0.0.1/cb"),
            None,
            "an explicit port is needed"
        );
        assert_eq!(loopback_target("http://10.0.0.1:8080/cb"), None);
        assert_eq!(loopback_target("https://example.invalid/callback"), None);
    }

    #[test]
    fn request_line_is_read_strictly() {
        assert_eq!(
            request_target("GET /cb?code=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("/cb?code=1")
        );
        assert_eq!(request_target("POST /cb HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("GET http://x/cb HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("GET /cb HTTP/2\r\n\r\n"), None);
    }
}
