//! The envelope format: pure encoding and decoding, no cryptography (see [`Envelope`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Mode;
use crate::error::{Error, Result};
use crate::fingerprint::{HINT_TAG_LEN, HINTS_LEN, Source};
use crate::kdf::{KEY_ID_LEN, KdfParams, SALT_LEN};

/// The prefix of every envelope this version writes.
pub const PREFIX: &str = "dk1:";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const AEAD_TAG_LEN: usize = 16;
const HEADER_LEN: usize = 3 + 12 + SALT_LEN + KEY_ID_LEN + 1 + HINTS_LEN + NONCE_LEN;
const _: () = assert!(
    HEADER_LEN.is_multiple_of(3),
    "to_text encodes the header on its own"
);

/// The longest envelope text accepted (1 MiB); longer input is refused before decoding.
pub const MAX_ENVELOPE_LEN: usize = 1024 * 1024;

/// The longest plaintext (in bytes) that fits in one envelope.
pub const MAX_PLAINTEXT_LEN: usize =
    (MAX_ENVELOPE_LEN - PREFIX.len()) / 4 * 3 - HEADER_LEN - AEAD_TAG_LEN;

/// A decoded envelope: one printable, versioned token that fits an XML attribute.
///
/// ```text
/// dk1:<base64url without padding of:>
///   offset size  field
///        0    1  version (1)
///        1    1  mode (1 = device, 2 = passphrase, 3 = key file)
///        2    1  KDF (1 = Argon2id v1.3)
///        3    4  m, memory in KiB (u32 little endian)
///        7    4  t, passes (u32 LE)
///       11    4  p, lanes (u32 LE)
///       15   16  salt
///       31    8  key id: 8 bytes of SHA-256 over the derived key
///       39    1  source mask (bit 0 machine-id, 1 DMI product UUID, 2 CPU brand; 0 otherwise)
///       40    8  hints: 2-byte keyed tags of the host secret and each source (0 when unused)
///       48   24  XChaCha20-Poly1305 nonce
///       72  n+16 ciphertext and tag
/// ```
///
/// The associated data is `dk1:` + the 72 header bytes + the caller's label, so every header
/// field and the label are authenticated. Decoding is strict: canonical base64 (no padding, no
/// stray trailing bits, no whitespace) and every reserved bit zero, so one envelope has exactly
/// one text form. Parsing checks the format only; opening needs the right
/// [`DeviceKey`](crate::DeviceKey).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub(crate) mode: Mode,
    pub(crate) kdf: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) key_id: [u8; KEY_ID_LEN],
    pub(crate) mask: u8,
    pub(crate) hints: [u8; HINTS_LEN],
    pub(crate) nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    pub(crate) sealed: Vec<u8>,
}

impl Envelope {
    /// Decodes `text`, checking prefix, size, encoding and every header field.
    ///
    /// Errors: [`Error::UnsupportedVersion`] for another `dkN:` prefix, [`Error::Malformed`]
    /// saying what is wrong for anything else that is not a `dk1:` envelope. Never panics.
    pub fn parse(text: &str) -> Result<Envelope> {
        if text.len() > MAX_ENVELOPE_LEN {
            return Err(malformed("it is longer than 1 MiB"));
        }
        let Some(body) = text.strip_prefix(PREFIX) else {
            return Err(match version_prefix(text) {
                Some(prefix) => Error::UnsupportedVersion {
                    prefix: prefix.to_owned(),
                },
                None => malformed("it does not start with `dk1:`"),
            });
        };
        let mut bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| malformed("it is not canonical unpadded base64url"))?;
        if bytes.len() < HEADER_LEN + AEAD_TAG_LEN {
            return Err(malformed("it is too short (truncated?)"));
        }
        let mut reader = Reader(bytes.get(..HEADER_LEN).unwrap_or_default());
        let [version, mode, kdf] = reader.take()?;
        if version != VERSION {
            return Err(malformed(
                "its version byte does not match the `dk1:` prefix",
            ));
        }
        let mode = match mode {
            1 => Mode::Device,
            2 => Mode::Passphrase,
            3 => Mode::KeyFile,
            4 => Mode::DataKey,
            _ => return Err(malformed("its mode byte is unknown")),
        };
        if kdf != KDF_ARGON2ID {
            return Err(malformed("its key-derivation function is unknown"));
        }
        let kdf = KdfParams {
            memory_kib: u32::from_le_bytes(reader.take()?),
            iterations: u32::from_le_bytes(reader.take()?),
            parallelism: u32::from_le_bytes(reader.take()?),
        };
        if kdf.argon2_params().is_err() {
            return Err(malformed("its key-derivation parameters are invalid"));
        }
        let envelope = Envelope {
            mode,
            kdf,
            salt: reader.take()?,
            key_id: reader.take()?,
            mask: u8::from_le_bytes(reader.take()?),
            hints: reader.take()?,
            nonce: reader.take()?,
            // The header is parsed: keep the rest in the same buffer.
            sealed: {
                bytes.drain(..HEADER_LEN);
                bytes
            },
        };
        envelope.check_sources()?;
        Ok(envelope)
    }

    /// The mode the envelope was sealed in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The Argon2id parameters the envelope asks for.
    pub fn kdf_params(&self) -> KdfParams {
        self.kdf
    }

    /// The fingerprint sources the key was bound to (empty for a passphrase or a key file).
    pub fn sources(&self) -> Vec<Source> {
        Source::from_mask(self.mask).collect()
    }

    /// The envelope's text: `dk1:` and base64url without padding.
    pub fn to_text(&self) -> String {
        let encoded_len = (HEADER_LEN + self.sealed.len()).div_ceil(3) * 4;
        let mut text = String::with_capacity(PREFIX.len() + encoded_len);
        text.push_str(PREFIX);
        // The header is a whole number of 3-byte groups, so encoding it and the sealed bytes
        // one after the other gives the encoding of both, without copying them together.
        URL_SAFE_NO_PAD.encode_string(self.header(), &mut text);
        URL_SAFE_NO_PAD.encode_string(&self.sealed, &mut text);
        text
    }

    /// The associated data: prefix, header and label.
    pub(crate) fn associated_data(&self, label: &str) -> Vec<u8> {
        [PREFIX.as_bytes(), &self.header(), label.as_bytes()].concat()
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mode = match self.mode {
            Mode::Device => 1,
            Mode::Passphrase => 2,
            Mode::KeyFile => 3,
            Mode::DataKey => 4,
        };
        let mut header = [0u8; HEADER_LEN];
        let parts: [&[u8]; 9] = [
            &[VERSION, mode, KDF_ARGON2ID],
            &self.kdf.memory_kib.to_le_bytes(),
            &self.kdf.iterations.to_le_bytes(),
            &self.kdf.parallelism.to_le_bytes(),
            &self.salt,
            &self.key_id,
            &[self.mask],
            &self.hints,
            &self.nonce,
        ];
        let mut rest = &mut header[..];
        for part in parts {
            let (head, tail) = rest.split_at_mut(part.len());
            head.copy_from_slice(part);
            rest = tail;
        }
        header
    }

    /// Rejects source masks and hints this version would never write.
    fn check_sources(&self) -> Result<()> {
        let known = Source::ALL.iter().fold(0, |mask, s| mask | s.bit());
        if self.mask & !known != 0 {
            return Err(malformed("its source mask names an unknown source"));
        }
        match self.mode {
            Mode::Device if self.mask & Source::MachineId.bit() == 0 => Err(malformed(
                "it is bound to a device but not to its machine-id",
            )),
            Mode::Passphrase if self.mask != 0 || self.hints != [0; HINTS_LEN] => Err(malformed(
                "it is sealed with a passphrase but records device sources",
            )),
            Mode::KeyFile if self.mask != 0 || self.hints != [0; HINTS_LEN] => Err(malformed(
                "it is sealed with a key file but records device sources",
            )),
            Mode::DataKey if self.mask != 0 || self.hints != [0; HINTS_LEN] => Err(malformed(
                "it is sealed with a data key but records device sources",
            )),
            _ => {
                let unused_hints = Source::ALL
                    .into_iter()
                    .zip(self.hints.chunks_exact(HINT_TAG_LEN).skip(1))
                    .any(|(source, tag)| {
                        self.mask & source.bit() == 0 && tag.iter().any(|&b| b != 0)
                    });
                if unused_hints {
                    Err(malformed("it has a hint for a source it does not use"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Whether `text` looks like an envelope of any version (`dk` + digits + `:`), as opposed to a
/// plaintext value. It does not check the rest; [`Envelope::parse`] does.
pub fn is_envelope(text: &str) -> bool {
    version_prefix(text).is_some()
}

/// The `dkN:` prefix of `text`, if it has one (N: 1 to 3 digits).
fn version_prefix(text: &str) -> Option<&str> {
    let digits = text.strip_prefix("dk")?;
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    if !(1..=3).contains(&end) || !digits.get(end..)?.starts_with(':') {
        return None;
    }
    text.get(..end + 3)
}

fn malformed(what: &'static str) -> Error {
    Error::Malformed { what }
}

/// Reads fixed-size fields from the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| malformed("it is too short (truncated?)"))?;
        self.0 = rest;
        Ok(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(mode: Mode) -> Envelope {
        let device = mode == Mode::Device;
        Envelope {
            mode,
            kdf: KdfParams::DEFAULT,
            salt: [1; SALT_LEN],
            key_id: [2; KEY_ID_LEN],
            mask: if device { 0b101 } else { 0 },
            hints: if device {
                [3, 4, 5, 6, 0, 0, 7, 8]
            } else {
                [0; HINTS_LEN]
            },
            nonce: [9; NONCE_LEN],
            sealed: vec![10; 40],
        }
    }

    #[test]
    fn header_round_trips() {
        for mode in [Mode::Device, Mode::Passphrase, Mode::KeyFile] {
            let envelope = sample(mode);
            let text = envelope.to_text();
            assert!(text.starts_with(PREFIX));
            assert_eq!(Envelope::parse(&text).unwrap(), envelope);
        }
    }

    #[test]
    fn header_layout_matches_the_docs() {
        assert_eq!(HEADER_LEN, 72);
        let header = sample(Mode::Device).header();
        assert_eq!(&header[..3], &[1, 1, 1]);
        assert_eq!(&header[3..7], &19456u32.to_le_bytes());
        assert_eq!(header[39], 0b101);
        assert_eq!(&header[48..], &[9; NONCE_LEN]);
    }

    #[test]
    fn the_mode_byte_marks_a_key_file() {
        let header = sample(Mode::KeyFile).header();
        assert_eq!(&header[..3], &[1, 3, 1]);
        let text = sample(Mode::KeyFile).to_text();
        assert_eq!(Envelope::parse(&text).unwrap().mode(), Mode::KeyFile);
        // A key-file envelope never records device sources or hints.
        let with_sources = Envelope {
            mask: 0b001,
            ..sample(Mode::KeyFile)
        };
        assert!(matches!(
            Envelope::parse(&with_sources.to_text()),
            Err(Error::Malformed { what }) if what.contains("key file")
        ));
        let with_hints = Envelope {
            hints: [1, 0, 0, 0, 0, 0, 0, 0],
            ..sample(Mode::KeyFile)
        };
        assert!(Envelope::parse(&with_hints.to_text()).is_err());
        // Mode bytes past the last one known are refused.
        let mut bytes = URL_SAFE_NO_PAD
            .decode(text.strip_prefix(PREFIX).unwrap())
            .unwrap();
        bytes[1] = 5;
        let unknown = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(matches!(
            Envelope::parse(&unknown),
            Err(Error::Malformed {
                what: "its mode byte is unknown"
            })
        ));
    }

    #[test]
    fn version_prefixes() {
        assert_eq!(version_prefix("dk1:abc"), Some("dk1:"));
        assert_eq!(version_prefix("dk123:"), Some("dk123:"));
        assert_eq!(version_prefix("dk1234:"), None);
        assert_eq!(version_prefix("dk:"), None);
        assert_eq!(version_prefix("dkx:"), None);
        assert_eq!(version_prefix("dk1"), None);
        assert_eq!(version_prefix("Server=x;dk1:"), None);
    }

    #[test]
    fn plaintext_limit_keeps_text_under_the_limit() {
        let envelope = Envelope {
            sealed: vec![0; MAX_PLAINTEXT_LEN + AEAD_TAG_LEN],
            ..sample(Mode::Device)
        };
        let text = envelope.to_text();
        assert!(text.len() <= MAX_ENVELOPE_LEN);
        assert_eq!(Envelope::parse(&text).unwrap(), envelope);
    }
}
