//! What a connection name may be: it becomes part of a file name
//! (`settings-<NAME>.xml`), so it must be one on every system, and must not read as
//! another name.

use crate::store::StoreError;

/// Connection names are at most this many characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Connection names are at most this many bytes in UTF-8, so that every file made
/// from one (`.settings-<NAME>.xml.tmp-<pid>-<random>`, 45 bytes more) stays within
/// the 255 bytes a file name may have.
pub const MAX_NAME_BYTES: usize = 200;

/// Whether `c` is in Unicode's general category Cf (format characters: bidirectional
/// overrides and isolates, zero-width spaces and joiners, the byte order mark, tags …),
/// as of Unicode 15.1. Such characters are invisible, so a name holding one reads as
/// another name (`settings-\u{202e}lmx.evil` shows as `settings-live.xml`).
fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Checks that `name` can be a connection name and part of a file name: non-empty,
/// at most [`MAX_NAME_CHARS`] characters, no path separators or characters Windows
/// forbids in file names, no control or invisible formatting characters, not starting
/// with a dot and not ending with a dot or space.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("it is longer than 100 characters")
    } else if name.len() > MAX_NAME_BYTES {
        Some(
            "it is longer than 200 bytes in UTF-8 (letters outside ASCII take 2 to 4 bytes), which file names cannot hold; choose a shorter name",
        )
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.chars().any(is_format_char) {
        Some(
            "it contains an invisible formatting character (such as a right-to-left override or a zero-width space), which would make the name read as another one",
        )
    } else if name.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']) {
        Some("it contains one of / \\ : * ? \" < > |, which file names cannot hold")
    } else if name.starts_with('.') {
        Some("it starts with a dot")
    } else if name.ends_with(['.', ' ']) || name.starts_with(' ') {
        Some("it starts with a space or ends with a dot or space")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidName {
            name: name
                .chars()
                .filter(|c| !c.is_control() && !is_format_char(*c))
                .take(MAX_NAME_CHARS)
                .collect(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_file_names_are_refused() {
        for bad in [
            "",
            ".hidden",
            "a/b",
            "a\\b",
            "tab\there",
            "x.",
            &"n".repeat(101),
            "c:d",
        ] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(
            matches!(validate_name(&"€".repeat(80)), Err(StoreError::InvalidName { reason, .. }) if reason.contains("200 bytes")),
            "80 characters of three bytes each fit in characters but not in bytes"
        );
        for good in [
            "acme-nl",
            "Acme NL 2",
            "ö-ü",
            &"n".repeat(100),
            &"ö".repeat(100 / 2),
        ] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }
}
