//! Serving HTTP/1.1 connections (plain or TLS) with the limits `axum::serve` lacks: a
//! header-read timeout that also closes idle kept-alive connections, a cap on the
//! connections open at once (past it a short 503 rather than a stall), the client's
//! address on every request, and a stop that lets the requests in flight finish.
//!
//! Invariants: the accept loop never waits on a client (each connection, and each
//! refusal, runs in a task of its own), and never stops accepting before the shutdown
//! signal: a failed accept (out of file descriptors) pauses it briefly, a full house
//! answers 503.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1::Builder;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

/// The longest a client may take to send the whole header of a request, counted from
/// when the connection is ready for one: accepted (after the TLS handshake, under TLS),
/// or the previous answer sent. Since hyper starts counting when the previous answer is
/// sent, this is also the idle keep-alive timeout: a job that asks again within it keeps
/// its connection, one that pauses longer opens a new one (a millisecond on a LAN),
/// while an idle client holds a connection slot for at most this long.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection refused for want of a slot gets to take its 503 and close.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// The most refusals being written at once; past that, a connection is closed without
/// an answer (the client sees a reset, and its retry usually finds room).
const MAX_REFUSALS: usize = 256;

/// The most bytes of a refused client's request read (and dropped) before closing.
const REFUSAL_DRAIN: usize = 64 * 1024;

/// Events of one kind (failed accepts, refusals) closer together than this belong to
/// one burst, which is said on standard error once.
const BURST_GAP: Duration = Duration::from_secs(10);

/// How long accepting pauses after a failure other than a client gone (out of file
/// descriptors): short, since connections closing free descriptors all the time.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The body of the answer to a connection past the cap.
const TOO_MANY: &str = r#"{"error":"busy","message":"too many connections; try again shortly"}"#;

/// The answer to a connection past the cap, written as it is accepted, without reading
/// its request.
fn too_many() -> String {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncache-control: no-store\r\ncontent-length: {}\r\n\r\n{TOO_MANY}",
        TOO_MANY.len()
    )
}

/// Where connections come from: a TCP listener, or the TLS handshakes on one.
pub(crate) trait Listener: Send + 'static {
    /// The stream of one connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection and its client's address; waits until there is one (never
    /// fails: failures are handled inside). Cancel-safe.
    fn accept(&mut self) -> impl Future<Output = (Self::Io, SocketAddr)> + Send;
}

/// When an event that is said once a burst last happened.
#[derive(Default)]
struct Burst {
    last: Option<Instant>,
}

impl Burst {
    /// Notes an event now; whether it starts a new burst (none within [`BURST_GAP`]
    /// before it), and so is to be said.
    fn starts(&mut self) -> bool {
        let now = Instant::now();
        let new = self.last.is_none_or(|last| now - last > BURST_GAP);
        self.last = Some(now);
        new
    }
}

/// A TCP listener whose accept failures pause it rather than end it.
pub(crate) struct Accepting {
    tcp: TcpListener,
    /// Failed accepts for want of resources.
    failures: Burst,
}

impl Accepting {
    /// Accepts on `tcp`.
    pub(crate) fn new(tcp: TcpListener) -> Accepting {
        Accepting {
            tcp,
            failures: Burst::default(),
        }
    }

    /// The next TCP connection. A client that went away before it was accepted costs
    /// nothing; any other failure (out of file descriptors) is said on standard error
    /// once a burst and pauses accepting for [`ACCEPT_PAUSE`].
    pub(crate) async fn next(&mut self) -> (TcpStream, SocketAddr) {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        loop {
            match self.tcp.accept().await {
                Ok(accepted) => return accepted,
                Err(error)
                    if matches!(
                        error.kind(),
                        ConnectionAborted | ConnectionRefused | ConnectionReset
                    ) => {}
                Err(error) => {
                    if self.failures.starts() {
                        eprintln!(
                            "preauth serve: accepting connections fails ({error}); trying again every {} ms (raise the open-file limit, LimitNOFILE, or lower --max-connections)",
                            ACCEPT_PAUSE.as_millis()
                        );
                    }
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            }
        }
    }
}

impl Listener for Accepting {
    type Io = TcpStream;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        self.next().await
    }
}

/// Serves `app` on the connections of `listener`, at most `max_connections` at once,
/// until `shutdown` resolves; then stops accepting (the listener is closed), closes idle
/// connections and waits for the requests in flight to be answered.
pub(crate) async fn serve<L: Listener>(
    mut listener: L,
    app: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut builder = Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let (stop, stopping) = watch::channel(false);
    // Each connection holds a sender; `recv` answers `None` once all have ended.
    let (open, mut all_closed) = mpsc::channel::<Infallible>(1);
    let mut refusals_said = Burst::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                let connection = Connection {
                    builder: builder.clone(),
                    app: app.clone(),
                    peer,
                    stopping: stopping.clone(),
                    _slot: slot,
                    _open: open.clone(),
                };
                tokio::spawn(connection.serve(io));
            }
            Err(_) => {
                if refusals_said.starts() {
                    eprintln!(
                        "preauth serve: {max_connections} connections are open, as many as --max-connections allows; new ones are answered 503 until some close"
                    );
                }
                refuse(io, &refusals);
            }
        }
    }
    drop(listener);
    // Every connection sees the change, also one that has not looked yet.
    let _ = stop.send(true);
    drop(open);
    let _ = all_closed.recv().await;
}

/// One connection being served, and what it holds while it is open.
struct Connection {
    builder: Builder,
    app: Router,
    peer: SocketAddr,
    stopping: watch::Receiver<bool>,
    /// Its place among the `max_connections`.
    _slot: OwnedSemaphorePermit,
    /// Keeps [`serve`] waiting at shutdown until this connection ends.
    _open: mpsc::Sender<Infallible>,
}

impl Connection {
    /// Serves requests on `io` until the client closes, a timeout closes it, or the
    /// server stops: then the request in flight is answered, and an idle connection is
    /// closed at once.
    async fn serve<Io: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut self, io: Io) {
        let app = TowerToHyperService::new(self.app);
        let peer = self.peer;
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.call(request)
        });
        let mut connection = pin!(self.builder.serve_connection(TokioIo::new(io), service));
        tokio::select! {
            // An error is the client's (gone, too slow, not HTTP); nothing to say.
            _ = connection.as_mut() => return,
            _ = self.stopping.wait_for(|stop| *stop) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
    }
}

/// Answers [`too_many`] on `io` and closes it, in a task of its own (at most
/// [`MAX_REFUSALS`] at once; past that, `io` is closed at once).
fn refuse<Io: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    mut io: Io,
    refusals: &Arc<Semaphore>,
) {
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            io.write_all(too_many().as_bytes()).await?;
            io.shutdown().await?;
            // Closing with the request unread would reset the connection, and the
            // client could lose the answer: read it first, until the client closes.
            let mut sink = [0u8; 4096];
            let mut read = 0;
            while read < REFUSAL_DRAIN {
                match io.read(&mut sink).await? {
                    0 => break,
                    n => read += n,
                }
            }
            Ok::<(), io::Error>(())
        })
        .await;
        drop(permit);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = too_many();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "busy");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("\r\nretry-after: 1\r\nconnection: close\r\n"));
    }

    /// `GET path` on `stream`, kept alive; the answer's body (as `content-length` says).
    async fn get(stream: &mut TcpStream, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.expect("an answer"));
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("a length")
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        String::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn requests_know_their_client_and_a_stop_answers_the_one_in_flight() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = tcp.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/peer",
                axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    peer.to_string()
                }),
            )
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(Accepting::new(tcp), app, 8, async {
            let _ = stopped.await;
        }));
        let mut idle = TcpStream::connect(address).await.unwrap();
        assert_eq!(
            get(&mut idle, "/peer").await,
            idle.local_addr().unwrap().to_string()
        );
        let mut busy = TcpStream::connect(address).await.unwrap();
        let in_flight = tokio::spawn(async move { get(&mut busy, "/slow").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        assert_eq!(in_flight.await.unwrap(), "done");
        // The idle connection is closed at once, not after the header timeout.
        let end = tokio::time::timeout(Duration::from_secs(2), idle.read_u8()).await;
        assert!(matches!(end, Ok(Err(_))), "{end:?}");
        tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .expect("serve returns once the last connection closed")
            .unwrap();
        assert!(
            TcpStream::connect(address).await.is_err(),
            "no longer listening"
        );
    }
}
