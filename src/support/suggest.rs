//! support::suggest: "did you mean": the known name (or checklist phrase) a mistyped one most
//! likely meant. One measure for every hint, so a plan, a flag file, a status file, a theme
//! and `shipdeck tick` judge a typo alike. Only suggests; never picks on the user's behalf.

/// Case, `_`, `-` and runs of spaces are not typos: `Blue_Green` is `bluegreen`.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Typing mistakes (a letter added, dropped, changed, or two swapped) fewer than one in
/// three letters of what was typed: short words need a closer match, so a user's own
/// `id:` is not taken for `kind:`.
fn near(mistakes: usize, typed: &str) -> bool {
    mistakes * 3 <= typed.chars().count()
}

/// The first of the closest candidates, when close enough to be a typo.
fn best<T>(
    typed: &str,
    candidates: impl IntoIterator<Item = T>,
    mistakes: impl Fn(&T) -> usize,
) -> Option<T> {
    candidates
        .into_iter()
        .map(|c| (mistakes(&c), c))
        .filter(|(m, _)| near(*m, typed))
        .min_by_key(|(m, _)| *m)
        .map(|(_, c)| c)
}

/// The name in `candidates` that `word` most likely misspells.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let typed = fold(word);
    best(&typed, candidates, |c| {
        strsim::damerau_levenshtein(&typed, &fold(c))
    })
}

/// The phrase in `candidates` (each read with `text`) that `words` most likely means.
/// People type a phrase from memory: what they typed may be its misspelt start, or a part
/// of it, and a phrase that holds it word for word is as close as can be.
pub(crate) fn closest_phrase<T>(
    words: &str,
    candidates: impl IntoIterator<Item = T>,
    text: impl Fn(&T) -> &str,
) -> Option<T> {
    let typed = fold(words);
    best(&typed, candidates, |c| {
        let phrase = fold(text(c));
        if phrase.contains(&typed) {
            return 0;
        }
        let start: String = phrase.chars().take(typed.chars().count()).collect();
        strsim::damerau_levenshtein(&typed, &start)
            .min(strsim::damerau_levenshtein(&typed, &phrase))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name() {
        let keys = ["enabled", "rollout", "userGroups", "kind"];
        assert_eq!(closest("kidn", keys), Some("kind"));
        assert_eq!(closest("Enabled", keys), Some("enabled"));
        assert_eq!(closest("user_groups", keys), Some("userGroups"));
        assert_eq!(closest("p59", ["error_rate", "p95"]), Some("p95"));
        assert_eq!(closest("pased", ["pending", "passed"]), Some("passed"));
    }

    #[test]
    fn a_name_of_its_own_is_left_alone() {
        let keys = ["enabled", "rollout", "userGroups", "kind"];
        for own in ["id", "tags", "description", "owner"] {
            assert_eq!(closest(own, keys), None, "{own}");
        }
    }

    #[test]
    fn a_phrase_is_found_from_its_misspelt_start_or_a_part() {
        let items = ["Code reviewed", "Announce release window to team"];
        let found = |w: &str| closest_phrase(w, items, |t| t);
        assert_eq!(found("Code reviewd"), Some("Code reviewed"));
        assert_eq!(
            found("Anounce release"),
            Some("Announce release window to team")
        );
        assert_eq!(found("window"), Some("Announce release window to team"));
        assert_eq!(found("zzz"), None);
    }
}
