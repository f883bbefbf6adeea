//! `${NAME}` substitution from `local define`.
//!
//! Substitution is textual, case-insensitive and recursive: the value of a define may refer to
//! other defines, up to [`MAX_SUBSTITUTION_DEPTH`] levels, and a define that refers back to
//! itself is an error. An undefined name is an error naming it.
//!
//! **For the interpreter:** substitution applies to a statement's raw text just before that
//! statement is parsed (see [`crate::RawStatement::substitute_and_parse`]), so defines made
//! earlier in the same run are visible. `local remark` is never substituted.

use std::collections::HashMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::limits::{MAX_SUBSTITUTED_BYTES, MAX_SUBSTITUTION_DEPTH};

/// Why `${NAME}` substitution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubstituteError {
    /// A referenced name has no define.
    #[error("'${{{name}}}' is not defined; define it first with local define {name} \"…\"")]
    Undefined {
        /// The name as written.
        name: String,
    },
    /// A define refers back to itself.
    #[error("'${{{name}}}' refers to itself ({chain}); break the cycle")]
    Cycle {
        /// The name that closes the cycle.
        name: String,
        /// The chain of names, e.g. `A -> B -> A`.
        chain: String,
    },
    /// Defines nest too deeply.
    #[error("substituting '${{{name}}}' nests deeper than {limit} levels; simplify the defines")]
    TooDeep {
        /// The name at which the limit was hit.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The result would be too large.
    #[error("substitution produces more than {limit} bytes; simplify the defines")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// `${` is not followed by a name and `}`.
    #[error("'${{' is not followed by a name and '}}'; write a reference as ${{NAME}}")]
    Malformed,
}

/// The variables set by `local define`, with case-insensitive names. Values are wiped when
/// replaced, removed or dropped; `Debug` shows names only.
#[derive(Default, Clone)]
pub struct Defines {
    /// Keyed by the lower-case name.
    entries: HashMap<String, Entry>,
}

#[derive(Clone)]
struct Entry {
    /// The name as first written.
    name: String,
    value: Zeroizing<String>,
    /// Set by `local define encrypted`: the value is a decrypted secret.
    secret: bool,
}

impl Defines {
    /// No defines.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (replacing any value under any capitalisation).
    pub fn define(&mut self, name: &str, value: impl Into<String>) {
        self.insert(name, value.into(), false);
    }

    /// Sets `name` to a secret (the decrypted value of `local define encrypted`).
    pub fn define_secret(&mut self, name: &str, value: impl Into<String>) {
        self.insert(name, value.into(), true);
    }

    fn insert(&mut self, name: &str, value: String, secret: bool) {
        self.entries.insert(
            name.to_ascii_lowercase(),
            Entry {
                name: name.to_owned(),
                value: Zeroizing::new(value),
                secret,
            },
        );
    }

    /// Removes `name`; returns whether it was defined.
    pub fn undefine(&mut self, name: &str) -> bool {
        self.entries.remove(&name.to_ascii_lowercase()).is_some()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entry(name).map(|e| e.value.as_str())
    }

    /// Whether `name` holds a secret (set with [`Defines::define_secret`]).
    pub fn is_secret(&self, name: &str) -> bool {
        self.entry(name).is_some_and(|e| e.secret)
    }

    /// The names, as first written, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.values().map(|e| e.name.as_str())
    }

    /// How many names are defined.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is defined.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(&name.to_ascii_lowercase())
    }
}

impl fmt::Debug for Defines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Defines")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Replaces every `${NAME}` in `text` by the value of `NAME`, recursively.
///
/// ```
/// use preauth_script::{Defines, substitute};
/// let mut defines = Defines::new();
/// defines.define("env", "prod");
/// defines.define("Name", "app-${ENV}");
/// assert_eq!(substitute("show connection '${name}'", &defines).unwrap(), "show connection 'app-prod'");
/// ```
pub fn substitute(text: &str, defines: &Defines) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    expand(text, defines, &mut out, &mut Vec::new())?;
    Ok(out)
}

/// Appends `text` with its references expanded to `out`; `stack` holds the lower-case names
/// being expanded (its length is the depth).
fn expand(
    text: &str,
    defines: &Defines,
    out: &mut String,
    stack: &mut Vec<String>,
) -> Result<(), SubstituteError> {
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${") {
        out.push_str(before);
        let name_len = reference_name_len(after).ok_or(SubstituteError::Malformed)?;
        let (name, after_name) = after.split_at(name_len);
        let key = name.to_ascii_lowercase();
        let entry = defines
            .entries
            .get(&key)
            .ok_or_else(|| SubstituteError::Undefined {
                name: name.to_owned(),
            })?;
        if stack.contains(&key) {
            let chain = stack
                .iter()
                .filter_map(|k| defines.entries.get(k).map(|e| e.name.as_str()))
                .chain([entry.name.as_str()])
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(SubstituteError::Cycle {
                name: name.to_owned(),
                chain,
            });
        }
        if stack.len() >= MAX_SUBSTITUTION_DEPTH {
            return Err(SubstituteError::TooDeep {
                name: name.to_owned(),
                limit: MAX_SUBSTITUTION_DEPTH,
            });
        }
        stack.push(key);
        expand(&entry.value, defines, out, stack)?;
        stack.pop();
        if out.len() > MAX_SUBSTITUTED_BYTES {
            return Err(SubstituteError::TooLarge {
                limit: MAX_SUBSTITUTED_BYTES,
            });
        }
        rest = after_name.strip_prefix('}').unwrap_or(after_name);
    }
    out.push_str(rest);
    if out.len() > MAX_SUBSTITUTED_BYTES {
        return Err(SubstituteError::TooLarge {
            limit: MAX_SUBSTITUTED_BYTES,
        });
    }
    Ok(())
}

/// The length of the name in `NAME}…` (letters, digits, `_`; not starting with a digit),
/// if a `}` follows it.
fn reference_name_len(after: &str) -> Option<usize> {
    let bytes = after.as_bytes();
    let len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let starts_well = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
    (starts_well && bytes.get(len) == Some(&b'}')).then_some(len)
}
