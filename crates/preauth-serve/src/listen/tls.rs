//! TLS of its own: the certificate chain and private key from PEM files, checked at start
//! and read again on [`Certificates::reload`] (SIGHUP), and a listener that does each
//! handshake in a task of its own.
//!
//! Invariant: the accept loop never waits on a client. A handshake runs in a task with a
//! deadline ([`HANDSHAKE_TIMEOUT`]); finished streams reach the server through a channel,
//! so one slow or broken client cannot hold up the others.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject as _, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::http1::{Accepting, Listener};

/// The longest a client may take over its TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most handshakes under way at once; past that, accepting waits for one to end.
const MAX_HANDSHAKES: usize = 1024;

/// The most finished connections waiting for the server to take them.
const QUEUE: usize = 64;

/// The largest PEM file read: certificate chains and keys are a few KiB.
const MAX_PEM_LEN: u64 = 1024 * 1024;

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first (`-----BEGIN CERTIFICATE-----`).
    pub cert: PathBuf,
    /// Its private key, unencrypted: PKCS#8 (`PRIVATE KEY`), RSA (`RSA PRIVATE KEY`) or
    /// SEC1 (`EC PRIVATE KEY`); readable by its owner only (or also by its group when
    /// root owns it).
    pub key: PathBuf,
}

/// Which of the two files an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `--tls-cert`.
    Certificate,
    /// `--tls-key`.
    Key,
}

impl fmt::Display for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsFile::Certificate => "TLS certificate file (--tls-cert)",
            TlsFile::Key => "TLS key file (--tls-key)",
        })
    }
}

/// Why the TLS files cannot be served with. The contents of the key file never appear.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file does not exist.
    #[error("the {file} {} does not exist; give the path of a PEM file", path.display())]
    Missing {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
    },
    /// The file could not be opened or read.
    #[error("cannot read the {file} {}: {source}; give the path of a PEM file that the user preauth runs as can read", path.display())]
    Unreadable {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file is far larger than a certificate chain or key.
    #[error("the {file} {} is larger than {MAX_PEM_LEN} bytes; is it the right file?", path.display())]
    TooLarge {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
    },
    /// The file is not PEM text, or a PEM section in it is damaged.
    #[error(
        "the {file} {} is not a PEM file (text between -----BEGIN and -----END lines); convert a DER file with `openssl {} -inform der -in FILE -out FILE.pem`",
        path.display(),
        if *file == TlsFile::Certificate { "x509" } else { "pkey" }
    )]
    NotPem {
        /// Which file.
        file: TlsFile,
        /// Its path.
        path: PathBuf,
    },
    /// The certificate file is PEM but holds no certificate.
    #[error("the TLS certificate file (--tls-cert) {} holds no certificate; give the PEM certificate chain, the server's certificate first", path.display())]
    NoCertificate {
        /// Its path.
        path: PathBuf,
    },
    /// The key file is PEM but holds no unencrypted private key.
    #[error("the TLS key file (--tls-key) {} holds no unencrypted private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY); give the certificate's key, decrypted with `openssl pkey`", path.display())]
    NoKey {
        /// Its path.
        path: PathBuf,
    },
    /// The key file may be read by other users.
    #[error(
        "the TLS key file (--tls-key) {} is accessible to other users (mode {mode:03o}); run `chmod 600 {}` (or 0640 when root owns it and the group is the service's)",
        path.display(),
        path.display()
    )]
    KeyPermissions {
        /// Its path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The private key is not the key of the certificate.
    #[error("the private key in {} does not belong to the certificate in {}; give --tls-key the key the certificate was issued for", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the certificate or the key for another reason.
    #[error("cannot serve TLS with the certificate {} and the key {}: {source}; give a certificate chain and key that rustls supports (RSA, ECDSA P-256/P-384 or Ed25519)", cert.display(), key.display())]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

impl TlsFiles {
    /// Reads and checks both files; the certificate to serve and the acceptor that
    /// serves it (HTTP/1.1 by ALPN).
    pub(crate) fn acceptor(&self) -> Result<(Arc<Certificates>, TlsAcceptor), TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certificates = Arc::new(Certificates {
            current: RwLock::new(Arc::new(self.certified_key(&provider)?)),
            files: self.clone(),
            provider: Arc::clone(&provider),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| self.refused(source))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certificates) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((certificates, TlsAcceptor::from(Arc::new(config))))
    }

    /// The chain and key of both files, checked to belong together.
    fn certified_key(&self, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
        let cert_pem = read(TlsFile::Certificate, &self.cert)?;
        let key_pem = read(TlsFile::Key, &self.key)?;
        let chain = certificates(&self.cert, &cert_pem)?;
        let key = private_key(&self.key, &key_pem)?;
        let certified =
            CertifiedKey::from_der(chain, key, provider).map_err(|source| self.refused(source))?;
        Ok(certified)
    }

    /// What rustls's refusal of these files means.
    fn refused(&self, source: rustls::Error) -> TlsError {
        match source {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::Mismatch {
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                }
            }
            source => TlsError::Refused {
                cert: self.cert.clone(),
                key: self.key.clone(),
                source,
            },
        }
    }
}

/// The certificate and key served: read from the [`TlsFiles`] at start, and again by
/// [`Certificates::reload`], so that a renewed certificate is served without a restart
/// (and without logging anyone out of the pages).
pub struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Reads and checks the files again and serves them to the next handshakes; when
    /// they cannot be served with, the error, and the certificate served stays the one
    /// loaded before.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(self.files.certified_key(&self.provider)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The files read.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of debug output.
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

/// The bytes of `path` (at most [`MAX_PEM_LEN`]); a key file must be its owner's alone.
fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    let io_error = |source: io::Error| match source.kind() {
        io::ErrorKind::NotFound => TlsError::Missing {
            file,
            path: path.to_owned(),
        },
        _ => TlsError::Unreadable {
            file,
            path: path.to_owned(),
            source,
        },
    };
    let opened = File::open(path).map_err(io_error)?;
    // The permissions of the file opened, not of whatever the path names a moment later.
    let metadata = opened.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(io_error(io::Error::other("it is not a regular file")));
    }
    if file == TlsFile::Key
        && let Some(mode) = devicekey::secret_file_too_open(&metadata)
    {
        return Err(TlsError::KeyPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    opened
        .take(MAX_PEM_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_PEM_LEN {
        return Err(TlsError::TooLarge {
            file,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Every PEM section of `bytes`, whatever its kind; `None` when the file is not PEM.
fn sections(bytes: &[u8]) -> Option<Vec<(SectionKind, Vec<u8>)>> {
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .ok()?;
    // A file without a single BEGIN line is not PEM (a DER file, or another file).
    let has_begin = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    has_begin.then_some(sections)
}

/// The certificates of the file at `path`, in order.
fn certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let sections = sections(bytes).ok_or_else(|| TlsError::NotPem {
        file: TlsFile::Certificate,
        path: path.to_owned(),
    })?;
    let chain: Vec<_> = sections
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

/// The first private key of the file at `path`.
fn private_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let sections = sections(bytes).ok_or_else(|| TlsError::NotPem {
        file: TlsFile::Key,
        path: path.to_owned(),
    })?;
    sections
        .into_iter()
        .find_map(|(kind, der)| PrivateKeyDer::from_pem(kind, der))
        .ok_or_else(|| TlsError::NoKey {
            path: path.to_owned(),
        })
}

/// A TLS stream and the address of its client.
type Accepted = (TlsStream<TcpStream>, SocketAddr);

/// The server's side of TLS: connections whose handshake has finished.
pub(crate) struct TlsListener {
    /// Finished handshakes; the accept loop stops when this is dropped.
    streams: mpsc::Receiver<Accepted>,
}

impl TlsListener {
    /// Starts accepting on `tcp`, shaking hands with `acceptor`.
    pub(crate) fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let (sender, streams) = mpsc::channel(QUEUE);
        tokio::spawn(accept_loop(Accepting::new(tcp), acceptor, sender));
        TlsListener { streams }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;

    async fn accept(&mut self) -> Accepted {
        match self.streams.recv().await {
            Some(accepted) => accepted,
            // The accept loop ends only when this listener is dropped; were it to end
            // otherwise, no connection would come any more.
            None => std::future::pending().await,
        }
    }
}

/// Accepts connections until the server drops its [`TlsListener`]; each handshake runs
/// in a task of its own, bounded in time and in number.
async fn accept_loop(mut tcp: Accepting, acceptor: TlsAcceptor, sender: mpsc::Sender<Accepted>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            () = sender.closed() => return,
            permit = Arc::clone(&handshakes).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = sender.closed() => return,
            accepted = tcp.next() => accepted,
        };
        let (acceptor, sender) = (acceptor.clone(), sender.clone());
        tokio::spawn(async move {
            // A failed or late handshake (plain HTTP, a scanner, a stalled client) is
            // dropped without an answer.
            if let Ok(Ok(tls)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                // The server stopped meanwhile: the connection is closed.
                let _ = sender.send((tls, peer)).await;
            }
            drop(permit);
        });
    }
}
