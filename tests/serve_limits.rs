//! `preauth serve` against clients that hold connections without finishing a request: a
//! silent socket, one trickling header lines, an idle kept-alive one (each closed after
//! the 10-second header-read timeout, also under TLS after the handshake), and more
//! connections than `--max-connections` (the next one answered 503 at once, and served
//! again once they close). The tests wait out the real timeout, in parallel.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Workspace;
use common::serve::Server;

/// The header-read timeout of `preauth serve`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a test waits for the server to close a connection: the timeout and slack
/// for a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(25);

/// A connection to `server` (its URL's host and port).
fn connect(server: &Server) -> TcpStream {
    let address = server.url.split("://").nth(1).expect("a URL");
    TcpStream::connect(address).expect("a connection")
}

/// Whether `stream` has been closed by the server: it reads the end of the stream (or a
/// reset) within `wait`; anything the server sends first is returned with it.
fn closed<S: Read>(stream: &mut S, wait: Duration, set_timeout: impl Fn(Duration)) -> bool {
    set_timeout(wait);
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            // A reset, or (under TLS) the end without a close_notify.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                ) =>
            {
                return true;
            }
            Err(e) => panic!("reading failed: {e}"),
        }
    }
}

/// Waits until the server closes `stream`; how long that took. Panics after
/// [`CLOSED_WITHIN`].
fn time_to_close(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let timeouts = stream.try_clone().unwrap();
    let is_closed = closed(stream, CLOSED_WITHIN, |wait| {
        timeouts.set_read_timeout(Some(wait)).unwrap()
    });
    assert!(
        is_closed,
        "the server still holds the connection after {CLOSED_WITHIN:?}"
    );
    started.elapsed()
}

/// Asserts that `took` is the header-read timeout, give or take a loaded machine.
fn is_the_header_timeout(took: Duration) {
    assert!(
        took >= HEADER_TIMEOUT - Duration::from_secs(1),
        "closed after {took:?}, before the client had its 10 seconds"
    );
}

#[test]
fn a_silent_connection_is_closed_after_the_header_timeout() {
    let ws = Workspace::new();
    let server = Server::start(&ws, &[]);
    let mut silent = connect(&server);
    is_the_header_timeout(time_to_close(&mut silent));
    // Others were served meanwhile.
    assert_eq!(
        common::http("GET", &format!("{}/healthz", server.url), None).0,
        200
    );
}

#[test]
fn a_connection_trickling_header_lines_is_closed_after_the_header_timeout() {
    let ws = Workspace::new();
    let server = Server::start(&ws, &[]);
    let mut slow = connect(&server);
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let timeouts = slow.try_clone().unwrap();
    let set_timeout = |wait| timeouts.set_read_timeout(Some(wait)).unwrap();
    let mut line = 0;
    let took = loop {
        // A header line every two seconds: each one arrives well within any
        // per-read timeout, but the header never ends.
        if closed(&mut slow, Duration::from_secs(2), set_timeout) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < CLOSED_WITHIN,
            "the server still holds the connection after {line} header lines"
        );
        line += 1;
        if slow
            .write_all(format!("X-Line-{line}: slow\r\n").as_bytes())
            .is_err()
        {
            break started.elapsed(); // closed between two lines
        }
    };
    is_the_header_timeout(took);
    assert!(line >= 3, "only {line} lines were sent");
}

#[test]
fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let ws = Workspace::new();
    let server = Server::start(&ws, &[]);
    let mut kept = connect(&server);
    for _ in 0..2 {
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let answer = read_answer(&mut kept);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(!answer.contains("connection: close"), "{answer}");
    }
    // The clock starts again with each answer: this one had its 10 seconds after the
    // second answer.
    is_the_header_timeout(time_to_close(&mut kept));
}

/// One whole answer (with a `content-length`) read from `stream`, as text.
fn read_answer(stream: &mut impl Read) -> String {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).expect("an answer"), 1, "cut short");
        answer.push(byte[0]);
    }
    let head = String::from_utf8(answer).expect("a text head");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .expect("a content-length")
        .parse()
        .expect("a number");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the body");
    head + &String::from_utf8_lossy(&body)
}

#[test]
fn past_max_connections_a_new_connection_is_answered_503_until_some_close() {
    let ws = Workspace::new();
    let mut server = Server::start(&ws, &["--max-connections", "20"]);
    let health = format!("{}/healthz", server.url);
    let mut idle: Vec<TcpStream> = (0..20).map(|_| connect(&server)).collect();
    // Each one was accepted and holds its slot: it sends a request and reads the answer.
    for stream in &mut idle {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        assert!(read_answer(stream).starts_with("HTTP/1.1 200 "));
    }
    for _ in 0..3 {
        let refused = common::exchange("GET", &health, "", "");
        assert_eq!(refused.status, 503, "{refused:?}");
        assert_eq!(refused.header("retry-after"), "1");
        assert_eq!(refused.header("connection"), "close");
        let body: serde_json::Value = serde_json::from_str(&refused.body).expect("JSON");
        assert_eq!(body["message"], "too many connections; try again shortly");
    }
    idle.clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::http("GET", &health, None).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "still refused after the 20 closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    // Said once for the burst, not once for each connection refused.
    let said = outcome
        .stderr
        .matches("as many as --max-connections allows")
        .count();
    assert_eq!(said, 1, "{}", outcome.stderr);
}

#[test]
fn under_tls_a_connection_that_sends_no_header_after_the_handshake_is_closed() {
    let ws = Workspace::new();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    let cert = ws.write("cert.pem", &made.cert.pem());
    let key = ws.write("key.pem", &made.signing_key.serialize_pem());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start(
        &ws,
        &[
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--max-connections",
            "1",
        ],
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let handshake = || {
        let name = "127.0.0.1".try_into().unwrap();
        let tls = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
        let tcp = connect(&server);
        let timeouts = tcp.try_clone().unwrap();
        let mut stream = rustls::StreamOwned::new(tls, tcp);
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the handshake");
        assert!(!stream.conn.is_handshaking());
        (stream, timeouts)
    };
    let (mut stream, timeouts) = handshake();
    // One request answered (so the server holds the connection), then half a request's
    // header, then nothing.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let answered = read_answer(&mut stream);
    assert!(answered.starts_with("HTTP/1.1 200 "), "{answered}");
    let started = Instant::now();
    stream.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    stream.flush().unwrap();
    // It holds the one connection allowed: the next is answered 503, over TLS.
    let (mut next, next_timeouts) = handshake();
    next_timeouts
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    next.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let refused = read_answer(&mut next);
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    let is_closed = closed(&mut stream, CLOSED_WITHIN, |wait| {
        timeouts.set_read_timeout(Some(wait)).unwrap()
    });
    assert!(is_closed, "the server still holds the TLS connection");
    is_the_header_timeout(started.elapsed());
}

#[test]
fn out_of_file_descriptors_the_server_pauses_accepting_says_so_once_and_recovers() {
    let ws = Workspace::new();
    let mut server = Server::start(&ws, &[]);
    let health = format!("{}/healthz", server.url);
    assert_eq!(common::http("GET", &health, None).0, 200);
    // Room for a few more descriptors than the server has open now.
    let open = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .expect("the server's descriptors")
        .count() as u64;
    let limit = libc::rlimit {
        rlim_cur: open + 4,
        rlim_max: open + 4,
    };
    // SAFETY: prlimit(2) on a child this test started and has not reaped, with a valid
    // rlimit; no old limit asked for.
    let set = unsafe {
        libc::prlimit(
            server.pid() as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    let crowd: Vec<TcpStream> = (0..30).map(|_| connect(&server)).collect();
    server.wait_for_stderr(0, "accepting connections fails");
    drop(crowd);
    // The descriptors of the crowd come free; the server accepts again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut probe = connect(&server);
        probe
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        probe
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = probe.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "not accepting again: {answer:?}");
    }
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    let said = outcome
        .stderr
        .matches("accepting connections fails")
        .count();
    assert_eq!(said, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("LimitNOFILE"), "{}", outcome.stderr);
}
