//! A small XML element tree that keeps every byte it does not change.
//!
//! quick-xml checks well-formedness and splits the text into events; each node keeps
//! the exact source text of its event. Writing the tree back concatenates those texts,
//! so comments, unknown elements, attribute order, quoting and whitespace survive a
//! rewrite byte for byte. Changing an attribute splices only its value into the start
//! tag; adding one appends it after the last attribute.

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Elements may nest this deep; deeper files are refused (a settings file needs 4).
pub(crate) const MAX_DEPTH: usize = 32;

/// An attribute value may be this long (a sealed connection string with tokens is a
/// few KiB).
pub(crate) const MAX_ATTRIBUTE_LEN: usize = 1024 * 1024;

/// A parse failure at a byte offset of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    /// Byte offset into the text.
    pub offset: usize,
    /// What is wrong, as a sentence without a value from the file.
    pub message: String,
}

impl XmlError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        XmlError {
            offset,
            message: message.into(),
        }
    }
}

/// A character that XML 1.0 cannot hold, even escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unrepresentable(pub char);

/// A document: what comes before, the root element, and what comes after.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// The file started with a UTF-8 byte-order mark.
    pub bom: bool,
    /// Top-level nodes; exactly one is an element.
    nodes: Vec<Node>,
    /// Index of the root element in `nodes` (kept so that finding the root does not
    /// walk the nodes before it, once per connection).
    root: usize,
}

/// A node: an element, or any other markup or text kept as written.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An element.
    Element(Element),
    /// Text, comment, CDATA, processing instruction, declaration or reference, verbatim.
    Other(String),
}

/// An attribute's place in its element's start tag.
#[derive(Debug, Clone)]
struct Attr {
    /// The name, within the start tag.
    name: Range<usize>,
    /// The value between the quotes, within the start tag.
    value: Range<usize>,
    /// The value with entities replaced.
    unescaped: String,
}

/// An element with its start tag, children and end tag as written.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    /// The element name.
    pub name: String,
    /// The start tag as written (`<a x="1">`, or `<a x="1"/>` when empty).
    start: String,
    attrs: Vec<Attr>,
    /// The children in order.
    pub children: Vec<Node>,
    /// The end tag as written; empty for a self-closing element.
    end: String,
    /// Byte offset of the start tag in the parsed text (0 for built elements).
    pub offset: usize,
}

impl Document {
    /// Parses `text` (without byte-order mark).
    pub fn parse(text: &str, bom: bool) -> Result<Self, XmlError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_comments = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut nodes = Vec::new();
        let mut root = None;
        let mut pos = 0usize;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError::new(to_usize(reader.error_position()), e.to_string()))?;
            let end = to_usize(reader.buffer_position());
            let raw = text.get(pos..end).unwrap_or_default();
            let at = pos;
            pos = end;
            let node = match event {
                Event::Eof => break,
                Event::Start(_) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::new(
                            at,
                            format!("elements nest deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                    stack.push(Element::from_start_tag(raw, at)?);
                    continue;
                }
                Event::End(_) => {
                    let Some(mut element) = stack.pop() else {
                        return Err(XmlError::new(at, "an end tag has no start tag"));
                    };
                    element.end = raw.to_string();
                    Node::Element(element)
                }
                Event::Empty(_) => Node::Element(Element::from_start_tag(raw, at)?),
                Event::Text(t) if stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) => {
                    return Err(XmlError::new(at, "text outside the root element"));
                }
                Event::GeneralRef(_) | Event::CData(_) if stack.is_empty() => {
                    return Err(XmlError::new(at, "text outside the root element"));
                }
                _ => Node::Other(raw.to_string()),
            };
            match stack.last_mut() {
                Some(parent) => parent.children.push(node),
                None => {
                    if matches!(node, Node::Element(_)) {
                        if root.is_some() {
                            return Err(XmlError::new(at, "a second root element; a file has one"));
                        }
                        root = Some(nodes.len());
                    }
                    nodes.push(node);
                }
            }
        }
        if let Some(open) = stack.last() {
            return Err(XmlError::new(
                text.len(),
                format!("the file ends inside <{}>; it is truncated", open.name),
            ));
        }
        let Some(root) = root else {
            return Err(XmlError::new(text.len(), "the file has no root element"));
        };
        Ok(Document { bom, nodes, root })
    }

    /// A new document: declaration and an empty root element with `attrs`.
    pub fn new(root: &str, attrs: &[(&str, &str)]) -> Result<Self, Unrepresentable> {
        let mut element = Element::new(root, attrs)?;
        element.open_up();
        element.children.push(Node::Other("\n".into()));
        Ok(Document {
            bom: false,
            nodes: vec![
                Node::Other("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n".into()),
                Node::Element(element),
                Node::Other("\n".into()),
            ],
            root: 1,
        })
    }

    /// The root element.
    pub fn root(&self) -> Option<&Element> {
        self.nodes.get(self.root).and_then(Node::as_element)
    }

    /// The root element, for changing.
    pub fn root_mut(&mut self) -> Option<&mut Element> {
        self.nodes.get_mut(self.root).and_then(Node::as_element_mut)
    }

    /// The document text, with the byte-order mark when the source had one.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{feff}');
        }
        for node in &self.nodes {
            node.write(&mut out);
        }
        out
    }
}

impl Node {
    /// The element, if this is one.
    pub fn as_element(&self) -> Option<&Element> {
        match self {
            Node::Element(e) => Some(e),
            Node::Other(_) => None,
        }
    }

    /// The element, if this is one, for changing.
    pub fn as_element_mut(&mut self) -> Option<&mut Element> {
        match self {
            Node::Element(e) => Some(e),
            Node::Other(_) => None,
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            Node::Element(e) => e.write(out),
            Node::Other(raw) => out.push_str(raw),
        }
    }

    fn is_whitespace(&self) -> bool {
        matches!(self, Node::Other(raw) if raw.bytes().all(|b| b.is_ascii_whitespace()))
    }
}

impl Element {
    /// A new element with attributes, self-closing until children are added.
    pub fn new(name: &str, attrs: &[(&str, &str)]) -> Result<Self, Unrepresentable> {
        let mut element = Element {
            name: name.to_string(),
            start: format!("<{name}/>"),
            attrs: Vec::new(),
            children: Vec::new(),
            end: String::new(),
            offset: 0,
        };
        for (key, value) in attrs {
            element.set_attr(key, value)?;
        }
        Ok(element)
    }

    /// The value of attribute `name` (ASCII case-insensitive; the first one wins).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.find_attr(name)
            .and_then(|i| self.attrs.get(i))
            .map(|a| a.unescaped.as_str())
    }

    /// The attributes in order, names as written, values unescaped.
    pub fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs.iter().map(|a| {
            (
                self.start.get(a.name.clone()).unwrap_or_default(),
                a.unescaped.as_str(),
            )
        })
    }

    /// Sets attribute `name` (matched ASCII case-insensitively, spelling kept) to
    /// `value`, escaping it. Leaves the tag untouched when the value is equal.
    pub fn set_attr(&mut self, name: &str, value: &str) -> Result<(), Unrepresentable> {
        let escaped = escape(value)?;
        match self.find_attr(name) {
            Some(i) => {
                let Some(attr) = self.attrs.get(i) else {
                    return Ok(());
                };
                if attr.unescaped == value {
                    return Ok(());
                }
                let range = attr.value.clone();
                let delta = escaped.len() as isize - range.len() as isize;
                self.start.replace_range(range.clone(), &escaped);
                for later in self.attrs.iter_mut().skip(i + 1) {
                    later.name = shift(&later.name, delta);
                    later.value = shift(&later.value, delta);
                }
                if let Some(attr) = self.attrs.get_mut(i) {
                    attr.value = range.start..range.start + escaped.len();
                    attr.unescaped = value.to_string();
                }
            }
            None => {
                let at = self
                    .attrs
                    .last()
                    .map_or(self.name.len() + 1, |a| a.value.end + 1);
                let inserted = format!(" {name}=\"{escaped}\"");
                self.start.insert_str(at, &inserted);
                let name_start = at + 1;
                let value_start = name_start + name.len() + 2;
                self.attrs.push(Attr {
                    name: name_start..name_start + name.len(),
                    value: value_start..value_start + escaped.len(),
                    unescaped: value.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(Node::as_element)
    }

    /// The child elements named `name` (ASCII case-insensitive), with their indices
    /// among all children.
    pub fn children_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = (usize, &'s Element)> + 's {
        self.children.iter().enumerate().filter_map(move |(i, n)| {
            n.as_element()
                .filter(|e| e.name.eq_ignore_ascii_case(name))
                .map(|e| (i, e))
        })
    }

    /// Appends `child` on its own line, indented for nesting level `depth` (root's
    /// children are level 1).
    pub fn append_child(&mut self, child: Element, depth: usize) {
        self.open_up();
        let indent = format!("\n{}", "  ".repeat(depth));
        let closing = match self.children.last() {
            Some(last) if last.is_whitespace() => self.children.pop(),
            _ => None,
        };
        let closing =
            closing.unwrap_or_else(|| Node::Other(format!("\n{}", "  ".repeat(depth - 1))));
        self.children.push(Node::Other(indent));
        self.children.push(Node::Element(child));
        self.children.push(closing);
    }

    /// Removes the child node at `index` with the whitespace just before it.
    pub fn remove_child(&mut self, index: usize) {
        if index < self.children.len() {
            self.children.remove(index);
            if index > 0
                && self
                    .children
                    .get(index - 1)
                    .is_some_and(Node::is_whitespace)
            {
                self.children.remove(index - 1);
            }
        }
    }

    /// Turns a self-closing element into one with a start and an end tag.
    fn open_up(&mut self) {
        if !self.end.is_empty() {
            return;
        }
        if let Some(stripped) = self.start.strip_suffix("/>") {
            self.start = format!("{}>", stripped.trim_end());
        }
        self.end = format!("</{}>", self.name);
    }

    fn find_attr(&self, name: &str) -> Option<usize> {
        self.attrs.iter().position(|a| {
            self.start
                .get(a.name.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.start);
        for child in &self.children {
            child.write(out);
        }
        out.push_str(&self.end);
    }

    /// Reads the name and attributes of a start tag as written (quick-xml has checked
    /// that it is a complete tag).
    fn from_start_tag(raw: &str, offset: usize) -> Result<Self, XmlError> {
        let mut scan = TagScanner {
            tag: raw,
            at: 1,
            offset,
        };
        let name = scan.name();
        if name.is_empty() {
            return Err(scan.error("a start tag has no element name"));
        }
        let name = name.to_string();
        let mut attrs: Vec<Attr> = Vec::new();
        // A set, not a scan of the attributes so far: a tag may hold a million of them.
        let mut seen: HashSet<&str> = HashSet::new();
        while let Some(attr) = scan.attribute()? {
            let attr_name = raw.get(attr.name.clone()).unwrap_or_default();
            if !seen.insert(attr_name) {
                return Err(XmlError::new(
                    offset + attr.name.start,
                    format!("attribute '{attr_name}' occurs twice in <{name}>"),
                ));
            }
            attrs.push(attr);
        }
        Ok(Element {
            name,
            start: raw.to_string(),
            attrs,
            children: Vec::new(),
            end: String::new(),
            offset,
        })
    }
}

/// Walks the inside of a start tag.
struct TagScanner<'a> {
    tag: &'a str,
    at: usize,
    offset: usize,
}

impl<'a> TagScanner<'a> {
    fn error(&self, message: impl Into<String>) -> XmlError {
        XmlError::new(self.offset + self.at, message)
    }

    fn peek(&self) -> Option<u8> {
        self.tag.as_bytes().get(self.at).copied()
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> Range<usize> {
        let start = self.at;
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        start..self.at
    }

    fn name(&mut self) -> &'a str {
        let range =
            self.take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>' | b'='));
        self.tag.get(range).unwrap_or_default()
    }

    fn attribute(&mut self) -> Result<Option<Attr>, XmlError> {
        self.take_while(|b| b.is_ascii_whitespace());
        match self.peek() {
            None | Some(b'/' | b'>') => return Ok(None),
            Some(_) => {}
        }
        let name_start = self.at;
        if self.name().is_empty() {
            return Err(self.error("expected an attribute name"));
        }
        let name = name_start..self.at;
        self.take_while(|b| b.is_ascii_whitespace());
        if self.peek() != Some(b'=') {
            return Err(self.error("expected '=' after the attribute name"));
        }
        self.at += 1;
        self.take_while(|b| b.is_ascii_whitespace());
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err(self.error("expected a quoted attribute value")),
        };
        self.at += 1;
        let value = self.take_while(|b| b != quote);
        if self.peek() != Some(quote) {
            return Err(self.error("an attribute value has no closing quote"));
        }
        self.at += 1;
        let raw_value = self.tag.get(value.clone()).unwrap_or_default();
        let value_error = |message: &str| XmlError::new(self.offset + value.start, message);
        if raw_value.len() > MAX_ATTRIBUTE_LEN {
            return Err(value_error("an attribute value is longer than 1 MiB"));
        }
        if raw_value.contains('<') {
            return Err(value_error("an attribute value contains '<'; write &lt;"));
        }
        let unescaped = quick_xml::escape::unescape(raw_value)
            .map_err(|_| {
                value_error("an attribute value has an '&' that does not start a reference like &amp; or &#65;")
            })?
            .into_owned();
        if let Some(c) = unescaped.chars().find(|&c| !is_xml_char(c)) {
            return Err(value_error(&format!(
                "an attribute value refers to character U+{:04X}, which XML does not allow",
                u32::from(c)
            )));
        }
        Ok(Some(Attr {
            name,
            value,
            unescaped,
        }))
    }
}

/// Whether XML 1.0 allows `c` in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Escapes an attribute value for a double-quoted attribute; whitespace other than
/// the space becomes a character reference so that it survives attribute-value
/// normalization.
pub(crate) fn escape(value: &str) -> Result<String, Unrepresentable> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            c => return Err(Unrepresentable(c)),
        }
    }
    Ok(out)
}

fn shift(range: &Range<usize>, delta: isize) -> Range<usize> {
    range.start.saturating_add_signed(delta)..range.end.saturating_add_signed(delta)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Turns byte offsets of one text into 1-based lines and columns (columns count
/// characters).
///
/// Finding the line is a binary search over the line starts. Counting the column
/// resumes from the previous answer when it is on the same line and not after the
/// offset, so asking for offsets in increasing order costs time linear in the text
/// even when it is all one line.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// The last offset asked for and its 0-based column.
    last: Cell<(usize, usize)>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text,
            line_starts,
            last: Cell::new((0, 0)),
        }
    }

    /// The 1-based line and column of byte `offset` (clamped to the text).
    pub fn position(&self, offset: usize) -> (u64, u64) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let (from, before) = match self.last.get() {
            (last, column) if (start..=offset).contains(&last) => (last, column),
            _ => (start, 0),
        };
        // Characters starting in from..offset: bytes that do not continue a character
        // (this also holds when an offset falls inside a character).
        let column = before
            + self
                .text
                .as_bytes()
                .get(from..offset)
                .unwrap_or_default()
                .iter()
                .filter(|&&b| b & 0xc0 != 0x80)
                .count();
        self.last.set((offset, column));
        (line as u64, column as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<?xml version=\"1.0\"?>\n<!-- keep -->\n<a x = 'it&apos;s' y=\"2\">\n  <b/><!--c-->text &amp; more<![CDATA[<raw>]]>\n</a>\n";

    #[test]
    fn unchanged_documents_round_trip_byte_for_byte() {
        let doc = Document::parse(SAMPLE, false).expect("valid");
        assert_eq!(doc.to_text(), SAMPLE);
        assert_eq!(doc.root().and_then(|r| r.attr("X")), Some("it's"));
    }

    #[test]
    fn setting_an_attribute_splices_only_its_value() {
        let mut doc = Document::parse(SAMPLE, false).expect("valid");
        let root = doc.root_mut().expect("root");
        root.set_attr("x", "a\"<b>\n").expect("representable");
        root.set_attr("z", "new").expect("representable");
        root.set_attr("y", "3").expect("representable");
        assert_eq!(
            doc.to_text(),
            SAMPLE.replace(
                "x = 'it&apos;s' y=\"2\"",
                "x = 'a&quot;&lt;b&gt;&#10;' y=\"3\" z=\"new\""
            )
        );
        let again = Document::parse(&doc.to_text(), false).expect("still valid");
        assert_eq!(again.root().and_then(|r| r.attr("x")), Some("a\"<b>\n"));
    }

    #[test]
    fn errors_carry_offsets() {
        let cases = [
            ("<a><b></a>", 6),
            ("<a x=\"1\" x=\"2\"/>", 9),
            ("<a>", 3),
            ("<a/><b/>", 4),
            ("oops<a/>", 0),
            ("<a x=\"&bogus;\"/>", 6),
        ];
        for (text, offset) in cases {
            let err = Document::parse(text, false).expect_err(text);
            assert_eq!(err.offset, offset, "{text}: {}", err.message);
        }
        assert!(escape("\u{1}").is_err());
    }

    #[test]
    fn line_index_counts_characters() {
        let index = LineIndex::new("ab\nçd\nx");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(3), (2, 1));
        assert_eq!(index.position(5), (2, 2));
        assert_eq!(index.position(7), (3, 1));
    }

    /// Line and column counted naively: newlines before `offset`, then characters of
    /// its line that start before it.
    fn naive(text: &str, offset: usize) -> (u64, u64) {
        let offset = offset.min(text.len());
        let mut before = text.as_bytes().iter().take(offset);
        let line = 1 + before.clone().filter(|&&b| b == b'\n').count();
        let start = before.rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = text
            .char_indices()
            .filter(|&(i, _)| i >= start && i < offset)
            .count();
        (line as u64, column as u64 + 1)
    }

    #[test]
    fn line_index_answers_in_any_order_and_inside_characters() {
        let text = "<a>ö€😀x\n\nyz ü\n<b c=\"é\"/>";
        let index = LineIndex::new(text);
        let offsets: Vec<usize> = (0..=text.len() + 2).collect();
        let orders = [
            offsets.clone(),
            offsets.iter().rev().copied().collect(),
            offsets
                .iter()
                .map(|&o| (o * 7) % (text.len() + 3))
                .collect(),
        ];
        for order in orders {
            for &offset in &order {
                assert_eq!(
                    index.position(offset),
                    naive(text, offset),
                    "offset {offset}"
                );
            }
        }
    }

    #[test]
    fn one_line_of_many_elements_is_located_in_linear_time() {
        // 200,000 elements of 10 characters (11 bytes) on one line: counting each
        // column from the line start would take about 2 × 10^11 steps.
        let text = format!("<a>{}</a>", "<b x=\"ü\"/>".repeat(200_000));
        let doc = Document::parse(&text, false).expect("valid");
        let index = LineIndex::new(&text);
        let root = doc.root().expect("root");
        let last = root.elements().last().expect("children");
        for b in root.elements() {
            index.position(b.offset);
        }
        assert_eq!(index.position(last.offset), (1, 4 + 199_999 * 10));
    }

    #[test]
    fn a_tag_with_many_attributes_is_checked_in_linear_time() {
        let attrs: String = (0..300_000).map(|i| format!(" a{i}=\"\"")).collect();
        let text = format!("<r{attrs} a7=\"\"/>");
        let err = Document::parse(&text, false).expect_err("a7 twice");
        assert_eq!(err.offset, 2 + attrs.len() + 1);
        assert!(err.message.contains("'a7' occurs twice"), "{}", err.message);
        let doc = Document::parse(&format!("<r{attrs}/>"), false).expect("valid");
        assert_eq!(doc.root().map(|r| r.attrs().count()), Some(300_000));
    }

    #[test]
    fn the_root_is_found_after_many_top_level_nodes() {
        let text = format!(
            "{}<r x=\"1\"/>{}",
            "<!---->".repeat(1000),
            "<?p?>".repeat(10)
        );
        let mut doc = Document::parse(&text, false).expect("valid");
        assert_eq!(doc.root().and_then(|r| r.attr("x")), Some("1"));
        doc.root_mut()
            .expect("root")
            .set_attr("x", "2")
            .expect("representable");
        assert_eq!(doc.to_text(), text.replace("x=\"1\"", "x=\"2\""));
        let new = Document::new("s", &[("v", "5")]).expect("representable");
        assert_eq!(new.root().map(|r| r.name.as_str()), Some("s"));
    }
}
