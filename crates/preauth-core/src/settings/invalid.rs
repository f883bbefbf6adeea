//! The store errors about one connection (or label) in one settings file: unusable,
//! not representable in XML, or refused by the protector.

use std::path::Path;

use crate::store::StoreError;

use super::xml::Unrepresentable;

/// A protector's refusal for connection (or label) `name` in `path`.
pub(super) fn protect(
    path: &Path,
    name: &str,
    source: crate::protector::ProtectError,
) -> StoreError {
    StoreError::Protect {
        path: path.to_path_buf(),
        name: name.to_string(),
        source,
    }
}

pub(super) fn invalid(path: &Path, name: &str, message: String) -> StoreError {
    StoreError::InvalidConnection {
        path: path.to_path_buf(),
        name: name.to_string(),
        message,
    }
}

pub(super) fn invalid_message(path: &Path, name: &str, message: &str) -> StoreError {
    invalid(path, name, message.to_string())
}

pub(super) fn unrepresentable(path: &Path, name: &str, c: Unrepresentable) -> StoreError {
    invalid(
        path,
        name,
        format!(
            "a value contains character U+{:04X}, which a settings file cannot hold; remove it",
            u32::from(c.0)
        ),
    )
}
