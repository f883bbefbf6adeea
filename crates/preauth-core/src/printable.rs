//! Text from the network (a platform's error description, an issuer, a name in a
//! document) made safe to print in one line of a message.

/// Text from the network, made safe to print: control characters removed, at most 200
/// characters.
pub(crate) fn printable(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}
