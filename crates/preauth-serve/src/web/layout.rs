//! The frame of every page (head, inline stylesheet, navigation) and the parts forms
//! are made of: a field with its label, help text and error, and the CSRF field.
//!
//! The stylesheet is inline and allowed by its hash in the Content-Security-Policy, so
//! pages load nothing from anywhere and run no script.

use std::sync::LazyLock;

use base64::Engine as _;
use maud::{DOCTYPE, Markup, html};
use sha2::{Digest, Sha256};

use super::session::Visitor;

/// The stylesheet of every page: readable at phone width, visible focus, errors beside
/// their field.
const STYLE: &str = "\
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0b5cad;--bad:#b42318;--ok:#1a7f37;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#f6f8fa}
header{background:#fff;border-bottom:1px solid var(--line)}
header nav{max-width:64rem;margin:0 auto;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}
header .brand{font-weight:700;margin-right:auto;color:var(--ink);text-decoration:none}
nav a{color:var(--accent)}
nav a[aria-current=page]{font-weight:700;text-decoration:none;color:var(--ink)}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
a{color:var(--accent)}
:focus-visible{outline:3px solid #f2a900;outline-offset:2px}
form.card,section.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
.card p:first-of-type{margin-top:0}
.field{margin:0 0 1rem}
.field label{display:block;font-weight:600}
.field .help{display:block;color:var(--muted);font-size:.9rem}
.field input[type=text],.field input[type=password],.field input[type=url],.field select,.field textarea{width:100%;max-width:40rem;font:inherit;padding:.45rem .5rem;border:1px solid #8c959f;border-radius:6px;background:#fff}
.field textarea{min-height:6rem}
.field.check label{display:inline;font-weight:600}
.field .error,.alert{color:var(--bad);font-weight:600}
.field.invalid input,.field.invalid select,.field.invalid textarea{border-color:var(--bad);border-width:2px}
.alert{background:#fff1f0;border:1px solid #ffb3ad;border-radius:6px;padding:.5rem .75rem;margin:0 0 1rem}
.notice{background:#effaf1;border:1px solid #a7e3b3;border-radius:6px;padding:.5rem .75rem;margin:0 0 1rem}
button,.button{font:inherit;font-weight:600;padding:.45rem .9rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
form.inline{display:inline;margin:0}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:.5rem .6rem;color:var(--muted);font-size:.9rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.state-OK{color:var(--ok);font-weight:700}
.state-WARNING{color:var(--warn);font-weight:700}
.state-CRITICAL,.state-UNKNOWN{color:var(--bad);font-weight:700}
pre{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem}
dl.summary dt{font-weight:600}
dl.summary dd{margin:0}
details{margin:0 0 1rem}
summary{cursor:pointer;color:var(--accent);font-weight:600;margin:0 0 .5rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.skip{position:absolute;left:-9999px}
.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.25rem .5rem;z-index:1}
@media (max-width:40rem){th,td{padding:.35rem}main{padding:.75rem}}
";

/// The `Content-Security-Policy` of every response: nothing loads, nothing runs, only
/// the inline stylesheet (by its hash) styles the page, forms post only here, and no
/// other site may frame it.
pub(crate) static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// The part of the site a page belongs to, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// The connections and a connection's result page.
    Connections,
    /// The Preauthenticate form and its steps.
    Preauthenticate,
    /// The OEM form.
    Register,
    /// The login page.
    Login,
}

/// A whole page: `title`, the navigation (for a logged-in `visitor`), its flash
/// message, and `body`.
pub(crate) fn page(
    title: &str,
    section: Section,
    visitor: Option<&Visitor>,
    body: Markup,
) -> Markup {
    frame(title, section, visitor, None, body)
}

/// A page that goes on to `next` by itself (a same-site navigation of its own, so that
/// the `SameSite=Strict` session cookie goes with it), with a link for the same.
pub(crate) fn page_then(
    title: &str,
    visitor: Option<&Visitor>,
    next: &str,
    body: Markup,
) -> Markup {
    frame(title, Section::Preauthenticate, visitor, Some(next), body)
}

fn frame(
    title: &str,
    section: Section,
    visitor: Option<&Visitor>,
    next: Option<&str>,
    body: Markup,
) -> Markup {
    let signed = visitor.filter(|v| v.user.is_some());
    let current = |s: Section| (s == section).then_some("page");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(next) = next {
                    meta http-equiv="refresh" content={ "0;url=" (next) };
                }
                title { (title) " · preauth" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/connections" { "preauth" }
                        @if let Some(visitor) = signed {
                            a href="/connections" aria-current=[current(Section::Connections)] { "Connections" }
                            a href="/preauthenticate" aria-current=[current(Section::Preauthenticate)] { "Preauthenticate" }
                            a href="/register" aria-current=[current(Section::Register)] { "Register tokens" }
                            form.inline method="post" action="/logout" {
                                (csrf_field(visitor))
                                button.secondary type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    @if let Some(flash) = visitor.and_then(|v| v.flash.as_ref()) {
                        p.notice role="status" { (flash) }
                    }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(visitor: &Visitor) -> Markup {
    html! { input type="hidden" name="csrf" value=(visitor.csrf); }
}

/// A form-wide error (one that concerns no single field), shown above the form.
pub(crate) fn alert(error: Option<&Markup>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.alert role="alert" id="form-error" { (error) }
        }
    }
}

/// What a field shows: its name (the form field and the element id), label, help text
/// and error.
pub(crate) struct Field<'a> {
    /// The form field's name, also the input's id.
    pub(crate) name: &'a str,
    /// The label.
    pub(crate) label: &'a str,
    /// The help text under the label.
    pub(crate) help: &'a str,
    /// The error beside the field, if any.
    pub(crate) error: Option<&'a Markup>,
}

impl Field<'_> {
    /// The field around `input` (which must have `id` = the field's name and use
    /// [`Field::described_by`]).
    pub(crate) fn wrap(&self, input: Markup) -> Markup {
        html! {
            div.field.invalid[self.error.is_some()] {
                label for=(self.name) { (self.label) }
                span.help id={ (self.name) "-help" } { (self.help) }
                (input)
                @if let Some(error) = self.error {
                    span.error id={ (self.name) "-error" } { (error) }
                }
            }
        }
    }

    /// The `aria-describedby` of the input: the help text and the error.
    pub(crate) fn described_by(&self) -> String {
        match self.error {
            Some(_) => format!("{0}-help {0}-error", self.name),
            None => format!("{}-help", self.name),
        }
    }

    /// A text input with `value` (`kind` is `text`, `url` or `password`).
    pub(crate) fn input(&self, kind: &str, value: &str, required: bool) -> Markup {
        self.wrap(html! {
            input type=(kind) id=(self.name) name=(self.name) value=(value)
                required[required] autocomplete="off" spellcheck="false"
                aria-invalid=[self.error.map(|_| "true")]
                aria-describedby=(self.described_by());
        })
    }

    /// A checkbox, checked when `checked`; its help text follows the label.
    pub(crate) fn checkbox(&self, checked: bool) -> Markup {
        html! {
            div.field.check {
                input type="checkbox" id=(self.name) name=(self.name) value="on" checked[checked]
                    aria-describedby=(self.described_by());
                " "
                label for=(self.name) { (self.label) }
                span.help id={ (self.name) "-help" } { (self.help) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_inline_stylesheet() {
        let html = page("T", Section::Login, None, html! { p { "<b>" } }).into_string();
        let style = html
            .split("<style>")
            .nth(1)
            .and_then(|s| s.split("</style>").next())
            .unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        assert!(CONTENT_SECURITY_POLICY.contains(&format!("'sha256-{hash}'")));
        assert!(html.contains("&lt;b&gt;"), "values are escaped");
        assert!(!html.contains("<script"));
    }
}
