//! One settings file: read with limits, checked for shape, its connections located.
//!
//! Shape: `settings` > `group name=…` > `connection name=…` > `database provider=…
//! connectionString=…`. Anything else (other elements, attributes, comments) is kept.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::store::StoreError;

use super::xml::{Document, Element, LineIndex, Unrepresentable, XmlError};
use crate::connection::fold_name;

/// Settings files larger than this are refused unread.
pub(crate) const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;

const BOM: &str = "\u{feff}";

/// Where one connection is in its file.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    /// The name attribute.
    pub name: String,
    /// Index of the group among the root's children.
    group: usize,
    /// Index of the connection among the group's children.
    index: usize,
    /// 1-based line of the connection element (0 for one not yet written).
    pub line: u64,
}

/// A parsed settings file.
#[derive(Debug, Clone)]
pub(crate) struct SettingsFile {
    /// Where it is.
    pub path: PathBuf,
    doc: Document,
    /// Its connections in document order.
    pub connections: Vec<Located>,
    /// Index into `connections` by folded name ([`fold_name`]), so that the duplicate
    /// check while parsing and [`SettingsFile::find`] take constant time per name.
    by_name: HashMap<String, usize>,
}

impl SettingsFile {
    /// Reads and parses `path`; `None` when there is no such file.
    pub fn read(path: &Path) -> Result<Option<Self>, StoreError> {
        read_limited(path)?
            .map(|bytes| Self::parse(path, bytes))
            .transpose()
    }

    /// Parses `bytes` read from `path`.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self, StoreError> {
        let (doc, body) = parse_document(path, &bytes)?;
        let lines = LineIndex::new(body);
        let at = |offset: usize, message: String| {
            let (line, column) = lines.position(offset);
            malformed(path, line, column, &message)
        };
        let root = doc
            .root()
            .ok_or_else(|| at(0, "the file has no root element".into()))?;
        if !root.name.eq_ignore_ascii_case("settings") {
            return Err(at(
                root.offset,
                format!(
                    "the root element is <{}>; a settings file starts with <settings>",
                    root.name
                ),
            ));
        }
        let mut connections: Vec<Located> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (g, group) in root.children_named("group") {
            for (c, conn) in group.children_named("connection") {
                let (line, column) = lines.position(conn.offset);
                let Some(name) = conn.attr("name").filter(|n| !n.is_empty()) else {
                    return Err(malformed(
                        path,
                        line,
                        column,
                        "a <connection> has no name attribute; give it one",
                    ));
                };
                match by_name.entry(fold_name(name)) {
                    Entry::Occupied(first) => {
                        let first = connections.get(*first.get()).map_or(0, |l| l.line);
                        return Err(malformed(
                            path,
                            line,
                            column,
                            &format!(
                                "connection '{name}' is defined twice in this file (also at line {first}); keep one of them",
                            ),
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(connections.len());
                    }
                }
                connections.push(Located {
                    name: name.to_string(),
                    group: g,
                    index: c,
                    line,
                });
            }
        }
        Ok(SettingsFile {
            path: path.to_path_buf(),
            doc,
            connections,
            by_name,
        })
    }

    /// A new, empty settings file (not yet written).
    pub fn new_empty(path: &Path) -> Result<Self, Unrepresentable> {
        Ok(SettingsFile {
            path: path.to_path_buf(),
            doc: Document::new("settings", &[("version", "5"), ("forcedefault", "false")])?,
            connections: Vec::new(),
            by_name: HashMap::new(),
        })
    }

    /// Copies the namespace declarations (`xmlns`, `xmlns:*`) of `other`'s root, so
    /// that prefixed names in connections copied from it stay bound.
    pub fn adopt_namespaces(&mut self, other: &SettingsFile) -> Result<(), Unrepresentable> {
        let (Some(root), Some(source)) = (self.doc.root_mut(), other.doc.root()) else {
            return Ok(());
        };
        for (name, value) in source.attrs() {
            if name == "xmlns" || name.starts_with("xmlns:") {
                root.set_attr(name, value)?;
            }
        }
        Ok(())
    }

    /// The connection called `name` (compared by [`fold_name`]).
    pub fn find(&self, name: &str) -> Option<&Located> {
        self.by_name
            .get(&fold_name(name))
            .and_then(|&i| self.connections.get(i))
    }

    /// The `group` element holding a connection.
    pub fn group(&self, at: &Located) -> Option<&Element> {
        self.doc.root()?.children.get(at.group)?.as_element()
    }

    /// The `connection` element.
    pub fn connection(&self, at: &Located) -> Option<&Element> {
        self.group(at)?.children.get(at.index)?.as_element()
    }

    fn group_mut(&mut self, at: &Located) -> Option<&mut Element> {
        self.doc
            .root_mut()?
            .children
            .get_mut(at.group)?
            .as_element_mut()
    }

    /// The connection's first `database` element.
    pub fn database(&self, at: &Located) -> Option<&Element> {
        self.connection(at)?.elements().find(|e| is_database(e))
    }

    /// The connection's first `database` element for changing, added when absent.
    pub fn database_mut(&mut self, at: &Located) -> Option<&mut Element> {
        database_in(
            self.group_mut(at)?
                .children
                .get_mut(at.index)?
                .as_element_mut()?,
        )
    }

    /// Adds `connection` to the group named `group_name` (created when absent).
    pub fn insert(&mut self, group_name: &str, connection: Element) -> Result<(), Unrepresentable> {
        let name = connection.attr("name").unwrap_or_default().to_string();
        let Some(root) = self.doc.root_mut() else {
            return Ok(());
        };
        let existing = root.children.iter().position(|n| {
            n.as_element().is_some_and(|g| {
                g.name.eq_ignore_ascii_case("group") && g.attr("name") == Some(group_name)
            })
        });
        let g = match existing {
            Some(g) => g,
            None => {
                root.append_child(Element::new("group", &[("name", group_name)])?, 1);
                root.children.len().saturating_sub(2)
            }
        };
        let Some(group) = root.children.get_mut(g).and_then(|n| n.as_element_mut()) else {
            return Ok(());
        };
        group.append_child(connection, 2);
        let index = group.children.len().saturating_sub(2);
        self.by_name
            .entry(fold_name(&name))
            .or_insert(self.connections.len());
        self.connections.push(Located {
            name,
            group: g,
            index,
            line: 0,
        });
        Ok(())
    }

    /// Removes a connection element (its group stays).
    pub fn remove(&mut self, at: &Located) {
        let removed = self.group_mut(at).map_or(0, |group| {
            let before = group.children.len();
            group.remove_child(at.index);
            before - group.children.len()
        });
        // The connections after it in its group moved up by the nodes removed.
        for later in &mut self.connections {
            if later.group == at.group && later.index > at.index {
                later.index = later.index.saturating_sub(removed);
            }
        }
        let Some(i) = self.by_name.remove(&fold_name(&at.name)) else {
            return;
        };
        if i < self.connections.len() {
            self.connections.remove(i);
        }
        for position in self.by_name.values_mut() {
            if *position > i {
                *position -= 1;
            }
        }
    }

    /// Whether nothing but empty groups is left (so the file can go).
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
            && self.doc.root().is_none_or(|root| {
                root.elements()
                    .all(|g| g.name.eq_ignore_ascii_case("group") && g.elements().next().is_none())
            })
    }

    /// The file's new content.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.doc.to_text().into_bytes()
    }
}

/// Decodes and parses `bytes` read from `path`; returns the document and the text
/// that offsets refer to (without byte-order mark).
pub(crate) fn parse_document<'b>(
    path: &Path,
    bytes: &'b [u8],
) -> Result<(Document, &'b str), StoreError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = String::from_utf8_lossy(bytes.get(..e.valid_up_to()).unwrap_or_default());
            let (line, column) = LineIndex::new(&valid).position(valid.len());
            return Err(malformed(
                path,
                line,
                column,
                "the file is not valid UTF-8; save it as UTF-8",
            ));
        }
    };
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let doc = Document::parse(body, bom).map_err(|XmlError { offset, message }| {
        let (line, column) = LineIndex::new(body).position(offset);
        malformed(path, line, column, &message)
    })?;
    Ok((doc, body))
}

/// Reads `path` up to [`MAX_FILE_LEN`]; `None` when there is no such file.
pub(crate) fn read_limited(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(malformed(
            path,
            1,
            1,
            "the file is larger than 16 MiB; this is not a settings file",
        ));
    }
    Ok(Some(bytes))
}

/// The first `database` element of a `connection` element, added when absent.
pub(crate) fn database_in(connection: &mut Element) -> Option<&mut Element> {
    if !connection.elements().any(is_database) {
        connection.append_child(Element::new("database", &[("order", "10")]).ok()?, 3);
    }
    connection
        .children
        .iter_mut()
        .filter_map(|n| n.as_element_mut())
        .find(|e| is_database(e))
}

fn is_database(e: &Element) -> bool {
    e.name.eq_ignore_ascii_case("database")
}

/// A [`StoreError::Malformed`].
pub(crate) fn malformed(path: &Path, line: u64, column: u64, message: &str) -> StoreError {
    StoreError::Malformed {
        path: path.to_path_buf(),
        line,
        column,
        message: message.to_string(),
    }
}

/// `<connection name="…"><database …/></connection>`.
pub(super) fn connection_element(
    name: &str,
    database: &[(&str, &str)],
) -> Result<Element, Unrepresentable> {
    let mut connection = Element::new("connection", &[("name", name)])?;
    connection.append_child(Element::new("database", database)?, 3);
    Ok(connection)
}

/// Sets the connection string of a detached `connection` element.
pub(super) fn set_connection_string(
    connection: &mut Element,
    stored: &str,
) -> Result<(), Unrepresentable> {
    match database_in(connection) {
        Some(db) => db.set_attr("connectionString", stored),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SettingsFile, StoreError> {
        SettingsFile::parse(Path::new("settings-x.xml"), text.as_bytes().to_vec())
    }

    /// A file of `n` connections, one line each, in one group.
    fn many(n: usize) -> String {
        let mut text = String::from("<settings>\n  <group name=\"g\">\n");
        for i in 0..n {
            text.push_str(&format!(
                "    <connection name=\"c-{i}\"><database connectionString=\"api-url=x\"/></connection>\n"
            ));
        }
        text + "  </group>\n</settings>\n"
    }

    #[test]
    fn names_differing_in_unicode_case_are_one_name() {
        let text = "<settings>\n  <group name=\"g\">\n    <connection name=\"Ölfabrik\"/>\n    <!-- again -->\n      <connection name=\"ölfabrik\"/>\n  </group>\n</settings>\n";
        match parse(text) {
            Err(StoreError::Malformed {
                line,
                column,
                message,
                ..
            }) => {
                assert_eq!((line, column), (5, 7), "{message}");
                assert!(
                    message.contains("'ölfabrik' is defined twice in this file (also at line 3)"),
                    "{message}"
                );
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
    }

    #[test]
    fn find_uses_the_same_rule_as_the_duplicate_check() {
        let file =
            parse("<settings><group name=\"g\"><connection name=\"ÄRGER-nl\"/></group></settings>")
                .expect("valid");
        assert_eq!(
            file.find("ärger-NL").map(|l| l.name.as_str()),
            Some("ÄRGER-nl")
        );
        assert!(file.find("arger-nl").is_none());
    }

    #[test]
    fn a_duplicate_after_many_connections_is_found_with_its_position() {
        let n = 40_000;
        let text = many(n).replace("  </group>", "    <connection name=\"C-17\"/>\n  </group>");
        match parse(&text) {
            Err(StoreError::Malformed {
                line,
                column,
                message,
                ..
            }) => {
                assert_eq!((line, column), (n as u64 + 3, 5), "{message}");
                assert!(message.contains("also at line 20"), "{message}");
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
        let file = parse(&many(n)).expect("valid");
        assert_eq!(file.connections.len(), n);
        let last = file.find("C-39999").expect("found");
        assert_eq!(last.line, n as u64 + 2);
    }

    #[test]
    fn removing_a_connection_keeps_the_others_reachable() {
        let mut file = parse(&many(5)).expect("valid");
        let second = file.find("c-1").cloned().expect("found");
        file.remove(&second);
        assert!(file.find("c-1").is_none());
        for name in ["c-0", "c-2", "c-3", "c-4"] {
            let at = file.find(name).cloned().expect("still indexed");
            let element = file.connection(&at).expect("still located");
            assert_eq!(element.attr("name"), Some(name));
        }
        let third = file.find("C-3").cloned().expect("found");
        file.remove(&third);
        let names: Vec<&str> = file.connections.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["c-0", "c-2", "c-4"]);
        assert_eq!(
            file.connection(&file.find("c-4").cloned().expect("found"))
                .and_then(|e| e.attr("name")),
            Some("c-4")
        );
        assert_eq!(
            String::from_utf8(file.to_bytes()).expect("utf-8"),
            many(5)
                .replace("    <connection name=\"c-1\"><database connectionString=\"api-url=x\"/></connection>\n", "")
                .replace("    <connection name=\"c-3\"><database connectionString=\"api-url=x\"/></connection>\n", "")
        );
    }
}
