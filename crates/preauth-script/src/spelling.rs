//! Misspellings: how far one word is from another, and which known word a typed one was
//! probably meant to be. Used for "did you mean" help and to recognise a misspelt secret
//! keyword in a statement that does not parse.

/// The most edits a word of `chars` characters may have to count as a misspelling.
fn edit_limit(chars: usize) -> usize {
    match chars {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// Whether `word` is `known` (lower case) in any case, or near enough to be a misspelling
/// of it.
pub(crate) fn is_or_resembles(word: &str, known: &str) -> bool {
    if word.eq_ignore_ascii_case(known) {
        return true;
    }
    word.len() <= 40
        && edit_distance(&word.to_ascii_lowercase(), known) <= edit_limit(known.chars().count())
}

/// The candidate nearest to `word` by edit distance (case-insensitive, a swap of neighbours
/// counting as one edit), if near enough to be a plausible misspelling.
pub(crate) fn nearest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    if word.len() > 40 {
        return None;
    }
    let word = word.to_ascii_lowercase();
    let limit = edit_limit(word.chars().count());
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// adjacent characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]; three rolling rows suffice.
    let width = b.len() + 1;
    let mut before_prev = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut current = vec![0usize; width];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut best = (prev[j + 1] + 1).min(current[j] + 1).min(prev[j] + cost);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                best = best.min(before_prev[j - 1] + 1);
            }
            current[j + 1] = best;
        }
        std::mem::swap(&mut before_prev, &mut prev);
        std::mem::swap(&mut prev, &mut current);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_swaps_once() {
        assert_eq!(edit_distance("shwo", "show"), 1);
        assert_eq!(edit_distance("show", "show"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn resembling_allows_a_typo_or_two_by_length() {
        assert!(is_or_resembles("SECRET", "secret"));
        assert!(is_or_resembles("secrte", "secret"));
        assert!(is_or_resembles("tokn", "token"));
        assert!(!is_or_resembles("tken", "code"));
        assert!(!is_or_resembles("connection", "secret"));
    }

    #[test]
    fn nearest_prefers_the_closest_and_refuses_far_words() {
        let words = ["show", "drop", "check"];
        assert_eq!(nearest("shwo", words), Some("show"));
        assert_eq!(nearest("SHOW", words), None);
        assert_eq!(nearest("banana", words), None);
    }
}
