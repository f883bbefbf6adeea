//! `preauth serve --tls-cert --tls-key`: HTTPS of its own with a self-signed certificate for
//! 127.0.0.1 made in the test, and one sentence (exit code 2, nothing listening, nothing
//! written) for each certificate or key it cannot serve with.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::serve::{Keys, Server};
use common::{Outcome, Workspace};

/// A certificate for IP 127.0.0.1 and its key, as PEM files in `dir` (the key 0600).
struct Pem {
    cert: PathBuf,
    key: PathBuf,
    /// The certificate, to trust.
    cert_pem: String,
    /// The certificate in DER, not PEM.
    cert_der: Vec<u8>,
    /// A line of the key's base64, which no output may show.
    key_line: String,
}

impl Pem {
    fn new(dir: &Path, name: &str) -> Pem {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .expect("a self-signed certificate");
        let cert_pem = made.cert.pem();
        let key_pem = made.signing_key.serialize_pem();
        let cert = dir.join(format!("{name}-cert.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert, &cert_pem).unwrap();
        write_mode(&key, key_pem.as_bytes(), 0o600);
        Pem {
            cert,
            key,
            cert_pem,
            cert_der: made.cert.der().to_vec(),
            key_line: key_pem.lines().nth(1).expect("a base64 line").to_string(),
        }
    }

    /// The arguments that serve with this certificate and key.
    fn args(&self) -> [&str; 4] {
        [
            "--tls-cert",
            self.cert.to_str().unwrap(),
            "--tls-key",
            self.key.to_str().unwrap(),
        ]
    }
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A client that trusts only `cert_pem`, none of the usual roots.
fn client(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn serves_https_with_hsts_and_a_stalled_handshake_holds_no_one_up() {
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let pem = Pem::new(ws.path(), "server");
    let mut server = Server::start(&ws, &pem.args());
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let address = server.url.trim_start_matches("https://").to_string();
    // A client that connects and never says hello: the next one is served all the same.
    let _stalled = TcpStream::connect(&address).expect("a connection");
    let client = client(&pem.cert_pem);
    runtime().block_on(async {
        let health = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .expect("an HTTPS answer");
        assert_eq!(health.status(), 200);
        assert_eq!(health.version(), reqwest::Version::HTTP_11);
        assert_eq!(
            health.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        assert_eq!(health.text().await.unwrap(), r#"{"status":"ok"}"#);
        // The pages' session cookie is Secure under TLS.
        let login = client
            .get(&server.login)
            .send()
            .await
            .expect("an HTTPS answer");
        assert_eq!(login.status(), 303);
        let cookie = login.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        let listing = client
            .get(format!("{}/api/v1/connections", server.url))
            .bearer_auth(&keys.admin)
            .send()
            .await
            .expect("an HTTPS answer");
        assert_eq!(listing.status(), 200);
        assert_eq!(
            listing.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        // Keys limited to networks are checked against the TLS client's address too.
        for (name, networks, status) in [("here", "'127.0.0.1'", 200), ("ten", "'10.0.0.0/8'", 403)]
        {
            let outcome = ws.run_c(&format!(
                "create api key '{name}' scope admin from {networks}"
            ));
            let limited = outcome.exits(0).stdout.trim().to_string();
            let answer = client
                .get(format!("{}/api/v1/connections", server.url))
                .bearer_auth(&limited)
                .send()
                .await
                .expect("an HTTPS answer");
            assert_eq!(answer.status(), status, "{networks}");
        }
        // Another certificate than the one served is not trusted: the client checks.
        let stranger = Pem::new(ws.path(), "stranger");
        let refused = self::client(&stranger.cert_pem)
            .get(format!("{}/healthz", server.url))
            .send()
            .await;
        assert!(refused.is_err(), "{refused:?}");
    });
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.keeps_secret(&[&pem.key_line]);
}

#[test]
fn plain_http_to_the_tls_port_gets_no_http_answer() {
    let ws = Workspace::new();
    let pem = Pem::new(ws.path(), "server");
    let mut server = Server::start(&ws, &pem.args());
    let address = server.url.trim_start_matches("https://");
    let mut stream = TcpStream::connect(address).expect("a connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    // The server may refuse the handshake and close before the whole request
    // is written: a broken pipe here is one of the right outcomes.
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // The server goes on serving HTTPS.
    let health = runtime().block_on(async {
        client(&pem.cert_pem)
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .map(|r| r.status())
    });
    assert_eq!(health.expect("an HTTPS answer"), 200);
    assert_eq!(server.stop().code, 0);
}

#[test]
fn sighup_serves_a_renewed_certificate_and_keeps_the_old_one_when_the_new_files_are_wrong() {
    let ws = Workspace::new();
    let old = Pem::new(ws.path(), "old");
    let renewed = Pem::new(ws.path(), "renewed");
    let served = Pem::new(ws.path(), "served");
    let install = |pem: &Pem| {
        std::fs::copy(&pem.cert, &served.cert).unwrap();
        std::fs::copy(&pem.key, &served.key).unwrap();
    };
    install(&old);
    let mut server = Server::start(&ws, &served.args());
    let health = |pem: &Pem| {
        runtime().block_on(async {
            client(&pem.cert_pem)
                .get(format!("{}/healthz", server.url))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        })
    };
    assert_eq!(health(&old), Some(200));
    // Renewed files that cannot be served with (a key others may read): the old
    // certificate goes on being served, and the log says why.
    install(&renewed);
    std::fs::set_permissions(&served.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = server.stderr_lines();
    server.signal(libc::SIGHUP);
    let kept = server.wait_for_stderr(before, "SIGHUP");
    assert!(
        kept.contains("still serving the certificate read before") && kept.contains("chmod 600"),
        "{kept}"
    );
    assert_eq!(health(&old), Some(200));
    assert_eq!(
        health(&renewed),
        None,
        "the renewed certificate is not served"
    );
    // Fixed: served from the next handshake on, by the same process.
    std::fs::set_permissions(&served.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = server.stderr_lines();
    server.signal(libc::SIGHUP);
    let read = server.wait_for_stderr(before, "SIGHUP");
    assert!(
        read.contains("serving the TLS certificate read again"),
        "{read}"
    );
    assert_eq!(health(&renewed), Some(200));
    assert_eq!(
        health(&old),
        None,
        "the old certificate is no longer served"
    );
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.keeps_secret(&[&old.key_line, &renewed.key_line]);
}

#[test]
fn sighup_without_tls_leaves_the_server_running() {
    let ws = Workspace::new();
    let mut server = Server::start(&ws, &[]);
    server.signal(libc::SIGHUP);
    server.wait_for_stderr(0, "SIGHUP: nothing to read again");
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    assert_eq!(server.stop().code, 0);
}

/// `preauth serve` on a free port of 127.0.0.1 with `args`, which must fail at start.
fn refused(ws: &Workspace, args: &[&str]) -> Outcome {
    let mut command = ws.preauth();
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args);
    let outcome = Outcome::within(&mut command, Duration::from_secs(60));
    assert_eq!(outcome.code, 2, "{outcome:#?}");
    assert_eq!(outcome.stdout, "", "it listened: {outcome:#?}");
    assert!(
        !ws.settings().exists(),
        "the store was opened: {outcome:#?}"
    );
    outcome
}

/// Asserts that the error is one line, one sentence, naming `path` and holding `advice`.
#[track_caller]
fn one_sentence(outcome: &Outcome, path: &Path, advice: &str) {
    let line = outcome.stderr.trim_end();
    assert!(
        line.starts_with("error: ") && !line.contains('\n'),
        "{outcome:#?}"
    );
    outcome.warns(&[path.to_str().unwrap(), advice]);
}

#[test]
fn certificates_and_keys_it_cannot_serve_with_are_one_sentence_each() {
    let ws = Workspace::new();
    let pem = Pem::new(ws.path(), "server");
    let other = Pem::new(ws.path(), "other");
    let (cert, key) = (pem.cert.to_str().unwrap(), pem.key.to_str().unwrap());
    let missing = ws.path().join("missing.pem");
    let missing_text = missing.to_str().unwrap();

    let outcome = refused(&ws, &["--tls-cert", missing_text, "--tls-key", key]);
    one_sentence(&outcome, &missing, "does not exist");
    let outcome = refused(&ws, &["--tls-cert", cert, "--tls-key", missing_text]);
    one_sentence(&outcome, &missing, "does not exist");

    let der = ws.path().join("cert.der");
    std::fs::write(&der, &pem.cert_der).unwrap();
    let outcome = refused(
        &ws,
        &["--tls-cert", der.to_str().unwrap(), "--tls-key", key],
    );
    one_sentence(&outcome, &der, "is not a PEM file");

    // The two files the wrong way round: no certificate in the one, no key in the other.
    let key_as_cert = ws.path().join("key-as-cert.pem");
    write_mode(&key_as_cert, &std::fs::read(&pem.key).unwrap(), 0o600);
    let outcome = refused(
        &ws,
        &[
            "--tls-cert",
            key_as_cert.to_str().unwrap(),
            "--tls-key",
            key,
        ],
    );
    one_sentence(&outcome, &key_as_cert, "holds no certificate");
    outcome.keeps_secret(&[&pem.key_line]);
    let cert_as_key = ws.path().join("cert-as-key.pem");
    write_mode(&cert_as_key, pem.cert_pem.as_bytes(), 0o600);
    let outcome = refused(
        &ws,
        &[
            "--tls-cert",
            cert,
            "--tls-key",
            cert_as_key.to_str().unwrap(),
        ],
    );
    one_sentence(&outcome, &cert_as_key, "holds no unencrypted private key");

    // A certificate without its key, and a key without its certificate.
    refused(&ws, &["--tls-cert", cert]).warns(&["--tls-key"]);
    refused(&ws, &["--tls-key", key]).warns(&["--tls-cert"]);

    let outcome = refused(
        &ws,
        &["--tls-cert", cert, "--tls-key", other.key.to_str().unwrap()],
    );
    one_sentence(&outcome, &other.key, "does not belong to the certificate");
    outcome.warns(&[cert]).keeps_secret(&[&other.key_line]);

    let open = ws.path().join("open-key.pem");
    write_mode(&open, &std::fs::read(&pem.key).unwrap(), 0o644);
    let outcome = refused(
        &ws,
        &["--tls-cert", cert, "--tls-key", open.to_str().unwrap()],
    );
    one_sentence(&outcome, &open, &format!("chmod 600 {}", open.display()));
    outcome.keeps_secret(&[&pem.key_line]);
}
