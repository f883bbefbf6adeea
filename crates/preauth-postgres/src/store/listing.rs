//! Listings from outlines: every connection, or one page of them with the count of all
//! that match, read without opening a sealed connection string (rows written before
//! outlines were kept aside).

use preauth_core::connection::fold_name;
use preauth_core::store::{Listed, Listing, Page, StoreError};

use super::PgStore;
use crate::errors::error;
use crate::keys;
use crate::outline::read_outline;

impl PgStore {
    /// The outlines of every connection, or of `page` (one more than its limit, to tell
    /// whether a next page exists) with the count of all that match its filter. Rows
    /// written before outlines were kept are opened instead.
    pub(super) fn outline_rows(
        &self,
        page: Option<&Page>,
    ) -> Result<(Listing, Option<usize>), StoreError> {
        let page = page.map(|p| {
            (
                p.after.as_deref().map(fold_name),
                p.containing.as_deref().map(fold_name),
                i64::try_from(p.limit.saturating_add(1)).unwrap_or(i64::MAX),
            )
        });
        let (rows, total) = self.db.with(|client, location| async move {
            let failed = |e: tokio_postgres::Error| error(&location, e, "read the connections");
            if page.as_ref().is_none_or(|(after, ..)| after.is_none()) {
                keys::check_openable(&client, &location).await?;
            }
            const COLUMNS: &str = "SELECT name, provider, outline,
                                          CASE WHEN outline IS NULL THEN sealed END
                                   FROM preauth_connections";
            let (rows, total) = match &page {
                None => (
                    client
                        .query(&format!("{COLUMNS} ORDER BY folded"), &[])
                        .await
                        .map_err(failed)?,
                    None,
                ),
                Some((after, containing, limit)) => {
                    let rows = client
                        .query(
                            &format!(
                                "{COLUMNS}
                                 WHERE ($1::text IS NULL OR folded > $1)
                                   AND ($2::text IS NULL OR strpos(folded, $2) > 0)
                                 ORDER BY folded LIMIT $3"
                            ),
                            &[after, containing, limit],
                        )
                        .await
                        .map_err(failed)?;
                    let total: i64 = client
                        .query_one(
                            "SELECT count(*) FROM preauth_connections
                             WHERE $1::text IS NULL OR strpos(folded, $1) > 0",
                            &[containing],
                        )
                        .await
                        .map_err(failed)?
                        .get(0);
                    (rows, Some(usize::try_from(total).unwrap_or_default()))
                }
            };
            Ok((rows_of(&rows), total))
        })?;
        let connections = rows
            .into_iter()
            .map(|(name, provider, outline, sealed)| {
                self.outline_listed(name, provider, outline, sealed)
            })
            .collect();
        let listing = Listing {
            connections,
            problems: Vec::new(),
        };
        Ok((listing, total))
    }
}

impl PgStore {
    /// A row's outline as listed: read from its text, or (a row written before outlines
    /// were kept) opened from its sealed text.
    pub(super) fn outline_listed(
        &self,
        name: String,
        provider: String,
        outline: Option<String>,
        sealed: Option<String>,
    ) -> Listed {
        let location = self.location().to_string();
        let connection = match outline {
            Some(text) => read_outline(&name, &provider, &text, &self.registry, &location),
            None => self.sealer().and_then(|sealer| {
                let row = (name.clone(), provider, sealed.unwrap_or_default());
                self.open_row(&sealer, &row)
                    .map(|c| preauth_core::settings::keys::outline(&c))
            }),
        };
        Listed {
            connection,
            name,
            location,
            sealed: true,
        }
    }
}

/// `(name, provider, outline, sealed when there is no outline)` of outline rows.
fn rows_of(rows: &[tokio_postgres::Row]) -> Vec<(String, String, Option<String>, Option<String>)> {
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}
