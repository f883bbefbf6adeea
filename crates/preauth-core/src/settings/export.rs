//! Export of one connection as a complete settings file, and import of connections
//! from an existing (Invantive-style) settings file.

use std::path::Path;

use zeroize::Zeroizing;

use crate::store::StoreError;

use super::file::SettingsFile;
use super::folder::{SettingsFolder, set_connection_string, unrepresentable};
use super::validate_name;
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
}
