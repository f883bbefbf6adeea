//! Export of one connection as a complete settings file, and import of connections
//! from an existing (Invantive-style) settings file.

use std::path::Path;

use zeroize::Zeroizing;

use crate::connection::Connection;
use crate::store::{Store, StoreError};

use super::file::SettingsFile;
use super::file::{connection_element, set_connection_string};
use super::folder::SettingsFolder;
use super::invalid::unrepresentable;
use super::name::validate_name;
use super::xml::Element;

impl SettingsFolder {
    /// A complete settings file holding only connection `name`, with its group name
    /// and every attribute and element it has here. The connection string is plain, or
    /// sealed with this folder's protector when `sealed` (which then opens only where
    /// the same device key is in use). Plain output holds secrets: it is wiped on drop.
    pub fn export_connection(
        &self,
        name: &str,
        sealed: bool,
    ) -> Result<Zeroizing<String>, StoreError> {
        let (file, at) = self.find(name)?;
        let (file, at) = (&file, &at);
        self.read_connection(file, at)?;
        let text = self.stored_text(file, at)?;
        let value = if sealed {
            Zeroizing::new(self.seal_required(&file.path, &at.name, &text)?)
        } else {
            text
        };
        let group = file
            .group(at)
            .and_then(|g| g.attr("name"))
            .unwrap_or_default();
        let mut connection = file
            .connection(at)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                name: name.to_string(),
            })?;
        let unrepresentable = |c| unrepresentable(&file.path, &at.name, c);
        set_connection_string(&mut connection, &value).map_err(unrepresentable)?;
        let mut out = SettingsFile::new_empty(&self.file_for(&at.name)).map_err(unrepresentable)?;
        out.adopt_namespaces(file).map_err(unrepresentable)?;
        out.insert(group, connection).map_err(unrepresentable)?;
        Ok(Zeroizing::new(
            String::from_utf8_lossy(&out.to_bytes()).into_owned(),
        ))
    }

    /// Imports every connection of the settings file at `path`, each into its own
    /// `settings-<NAME>.xml` with its group, attributes and elements, sealed when a
    /// protector is in use. Every connection is checked first (valid name, usable,
    /// name not taken); on any failure nothing is written. Returns the names imported.
    pub fn import_file(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        let source = SettingsFile::read(path)?.ok_or_else(|| StoreError::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let mut planned: Vec<(String, String, Element)> = Vec::new();
        for at in &source.connections {
            validate_name(&at.name)?;
            match self.locate(&at.name, false) {
                Ok(taken) => {
                    return Err(StoreError::AlreadyExists {
                        name: at.name.clone(),
                        path: taken,
                    });
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            self.read_connection(&source, at)?;
            let text = self.stored_text(&source, at)?;
            let target = self.file_for(&at.name);
            let stored = self.seal(&target, &at.name, &text)?;
            let mut connection =
                source
                    .connection(at)
                    .cloned()
                    .ok_or_else(|| StoreError::NotFound {
                        name: at.name.clone(),
                    })?;
            set_connection_string(&mut connection, &stored)
                .map_err(|c| unrepresentable(&target, &at.name, c))?;
            let group = source
                .group(at)
                .and_then(|g| g.attr("name"))
                .unwrap_or_default();
            planned.push((at.name.clone(), group.to_string(), connection));
        }
        let mut names = Vec::with_capacity(planned.len());
        for (name, group, connection) in planned {
            self.add_new(&name, &group, connection, Some(&source))?;
            names.push(name);
        }
        Ok(names)
    }

    /// Every connection of the settings file at `path`, or of every settings file in
    /// the folder at `path`, opened with this folder's protector and platforms: what
    /// another store imports. The first connection that cannot be used is the error.
    pub fn connections_in(&self, path: &Path) -> Result<Vec<Connection>, StoreError> {
        if path.is_dir() {
            let folder = SettingsFolder::open(path, self.registry().clone(), None)?
                .with_sealer(self.sealer().clone());
            return folder
                .list()?
                .connections
                .into_iter()
                .map(|listed| listed.connection)
                .collect();
        }
        let source = SettingsFile::read(path)?.ok_or_else(|| StoreError::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        source
            .connections
            .iter()
            .map(|at| self.read_connection(&source, at))
            .collect()
    }
}

/// A complete settings file (as `export settings` prints it) holding connection `name`
/// alone, in group `group` (its platform's name), with `provider` and the connection
/// string `text` as given (plain, or sealed by the caller): for stores that keep no
/// settings file of their own. It holds secrets when `text` is plain: wiped on drop.
pub fn standalone_file(
    name: &str,
    group: &str,
    provider: &str,
    text: &str,
) -> Result<Zeroizing<String>, StoreError> {
    let path = Path::new("settings.xml");
    let unrepresentable = |c| unrepresentable(path, name, c);
    let element = connection_element(
        name,
        &[
            ("order", "10"),
            ("provider", provider),
            ("connectionString", text),
        ],
    )
    .map_err(unrepresentable)?;
    let mut out = SettingsFile::new_empty(path).map_err(unrepresentable)?;
    out.insert(group, element).map_err(unrepresentable)?;
    Ok(Zeroizing::new(
        String::from_utf8_lossy(&out.to_bytes()).into_owned(),
    ))
}
