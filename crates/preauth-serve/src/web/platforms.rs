//! The platform select of the forms: one option per Exact Online country, then every
//! other platform (Twinfield, user-defined ones) as one option.

use maud::{Markup, html};
use preauth_core::platform::Registry;

use super::layout::Field;

/// The select's value of `platform` on the host of `country` (`exact-online/nl`), or of
/// a platform with one host (`twinfield`).
fn value(platform: &str, country: &str) -> String {
    if country.is_empty() {
        platform.to_string()
    } else {
        format!("{platform}/{country}")
    }
}

/// The platform id and country of a select value.
pub(crate) fn parse(value: &str) -> (String, Option<String>) {
    match value.split_once('/') {
        Some((platform, country)) => (platform.to_string(), Some(country.to_string())),
        None => (value.to_string(), None),
    }
}

/// The select of `field` over the platforms of `registry`, with `selected` chosen.
pub(crate) fn select(field: &Field<'_>, registry: &Registry, selected: &str) -> Markup {
    let platforms = registry.all();
    field.wrap(html! {
        select id=(field.name) name=(field.name) required
            aria-invalid=[field.error.map(|_| "true")]
            aria-describedby=(field.described_by()) {
            @for platform in &platforms {
                @if platform.hosts.len() > 1 {
                    optgroup label=(platform.display_name) {
                        @for host in &platform.hosts {
                            @let v = value(&platform.id, &host.country);
                            option value=(v) selected[v == selected] {
                                (platform.display_name) " — " (host.country) " (" (host.base_url) ")"
                            }
                        }
                    }
                } @else {
                    @let v = value(&platform.id, "");
                    option value=(v) selected[v == selected] { (platform.display_name) }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_of_exact_and_twinfield_are_choices() {
        let registry = Registry::builtin();
        let field = Field {
            name: "platform",
            label: "Platform",
            help: "",
            error: None,
        };
        let html = select(&field, &registry, "exact-online/be").into_string();
        assert!(
            html.contains(r#"<option value="exact-online/be" selected>"#),
            "{html}"
        );
        assert!(html.contains(r#"value="exact-online/nl""#));
        assert!(html.contains(r#"value="twinfield""#));
        assert_eq!(
            parse("exact-online/co.uk"),
            ("exact-online".into(), Some("co.uk".into()))
        );
        assert_eq!(parse("twinfield"), ("twinfield".into(), None));
    }
}
