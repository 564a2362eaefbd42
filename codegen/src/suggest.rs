//! "Did you mean ...?" for misspelt keys, types, entities and fields.

/// The candidate closest to `typo`, if it is close enough to be a plausible misspelling.
///
/// Case-insensitive equality always matches (`Text` -> `text`); otherwise the edit distance
/// (with transpositions, the commonest typo) must be at most a third of the word, and at least 1.
pub fn did_you_mean<'a>(
    typo: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lowered = typo.to_ascii_lowercase();
    let limit = (typo.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = if candidate.eq_ignore_ascii_case(typo) {
            0
        } else {
            edit_distance(&lowered, &candidate.to_ascii_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1)
                .min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: &[&str] = &["text", "int", "real", "bool", "datetime", "date", "uuid"];

    #[test]
    fn close_misspellings_are_suggested() {
        assert_eq!(did_you_mean("texy", TYPES.iter().copied()), Some("text"));
        assert_eq!(did_you_mean("Text", TYPES.iter().copied()), Some("text"));
        assert_eq!(
            did_you_mean("dattime", TYPES.iter().copied()),
            Some("datetime")
        );
        assert_eq!(
            did_you_mean("nulable", ["nullable", "unique"]),
            Some("nullable")
        );
        assert_eq!(did_you_mean("uiud", TYPES.iter().copied()), Some("uuid"));
    }

    #[test]
    fn unrelated_words_get_no_suggestion() {
        assert_eq!(did_you_mean("geometry", TYPES.iter().copied()), None);
        assert_eq!(did_you_mean("x", ["nullable"]), None);
    }
}
