//! [`Registry`]: the platforms a run knows, built-in and user-defined (the store's
//! platforms document).

use std::sync::{Arc, RwLock};

use super::file::{self, PLATFORMS_FILE};
use super::record::{Platform, PlatformError};
use crate::documents::Documents;

/// The platforms a run knows: the built-in ones plus user-defined ones. One set per
/// run, shared: clones see the same platforms, so a platform added by `create
/// platform` is known at once to the store, the lifecycle and the statements.
#[derive(Debug, Clone)]
pub struct Registry {
    platforms: Arc<RwLock<Vec<Arc<Platform>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// Adds the user-defined platforms of the store's platforms document (see
    /// [`Registry::parse_platforms`] for its shape) to this set. A document that does not
    /// exist defines no platforms; a malformed one is an error naming its line and
    /// column, and adds none.
    pub fn add_user_defined(&self, docs: &dyn Documents) -> Result<(), PlatformError> {
        let Some(bytes) = docs
            .read(PLATFORMS_FILE)
            .map_err(|e| PlatformError::Store {
                action: "read",
                source: Box::new(e),
            })?
        else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&bytes);
        let location = docs.location_of(PLATFORMS_FILE);
        for platform in file::parse(&text, std::path::Path::new(&location))? {
            self.add(platform);
        }
        Ok(())
    }

    /// Parses the text of a platforms file: one element per platform, for example
    ///
    /// ```xml
    /// <platforms>
    ///   <platform id="acme-idp" issuer="https://login.acme.example/realm"
    ///             authorizeUrl="/realm/authorize" tokenUrl="https://login.acme.example/realm/token"
    ///             clientAuth="basic" scopes="openid offline_access" pkce="true"/>
    /// </platforms>
    /// ```
    ///
    /// Attributes: `id`, `authorizeUrl` and `tokenUrl` (required; a path or an absolute
    /// URL on the issuer's host), `issuer`, `name`, `provider`, `clientAuth`
    /// (`basic`|`body`), `scopes` (space separated), `pkce`, `nonce`, `extraParams`
    /// (`a=1&b=2`), `accessTokenSeconds`, `refreshWindowSeconds`, `rotatesRefreshTokens`,
    /// `refreshTokenDays`, `meUrl`, and the provider's limits for the budget ledger
    /// (`tokenCallsPerDay`, `tokenErrorsPerHourBlock`; none by default). `path` only
    /// names the file in errors.
    pub fn parse_platforms(
        text: &str,
        path: &std::path::Path,
    ) -> Result<Vec<Platform>, PlatformError> {
        file::parse(text, path)
    }

    /// Exact Online and Twinfield, in a set of their own.
    pub fn builtin() -> Self {
        Self::of(vec![Platform::exact_online(), Platform::twinfield()])
    }

    /// A set of its own holding `platforms`.
    pub fn of(platforms: Vec<Platform>) -> Self {
        Registry {
            platforms: Arc::new(RwLock::new(platforms.into_iter().map(Arc::new).collect())),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Platform>>> {
        self.platforms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// All platforms, built-in first.
    pub fn all(&self) -> Vec<Arc<Platform>> {
        self.read().clone()
    }

    /// The platform with this id (case-insensitive; `exact` and `exactonline` name Exact Online).
    pub fn get(&self, id: &str) -> Option<Arc<Platform>> {
        let id = match id.to_ascii_lowercase().as_str() {
            "exact" | "exactonline" | "exact_online" => "exact-online".to_string(),
            other => other.to_string(),
        };
        self.read()
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(&id))
            .cloned()
    }

    /// The platform whose settings-file provider attribute is `provider` (case-insensitive).
    pub fn by_provider(&self, provider: &str) -> Option<Arc<Platform>> {
        self.read()
            .iter()
            .find(|p| p.provider.eq_ignore_ascii_case(provider))
            .cloned()
    }

    /// Adds or replaces a user-defined platform (same id replaces), for every holder of
    /// this set.
    pub fn add(&self, platform: Platform) {
        let mut platforms = self
            .platforms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let platform = Arc::new(platform);
        match platforms
            .iter_mut()
            .find(|p| p.id.eq_ignore_ascii_case(&platform.id))
        {
            Some(existing) => *existing = platform,
            None => platforms.push(platform),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_by_alias_and_provider() {
        let r = Registry::builtin();
        assert_eq!(
            r.get("Exact").map(|p| p.id.clone()).as_deref(),
            Some("exact-online")
        );
        assert_eq!(
            r.by_provider("twinfieldall")
                .map(|p| p.id.clone())
                .as_deref(),
            Some("twinfield")
        );
    }
}
