//! support::fmt: durations as people read them, one rendering for every screen, command
//! and message, and paths as a shell reads them in the commands a hint suggests. Pure
//! string functions; never parses (the plan owns the syntax).

use std::time::Duration;

const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];

/// Compact, two units at most: `13h`, `1d 2h`, `45s`, `2m 5s`, `500ms`, `0s`.
/// Drops what is below the second unit: a screen header, not an audit record.
pub fn duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return millis(d).unwrap_or_else(|| "0s".to_string());
    }
    let mut parts = Vec::with_capacity(2);
    for (size, name) in UNITS {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            parts.push(format!("{n}{name}"));
        } else if !parts.is_empty() {
            // Only adjacent units: `1d 5m` would read as a typo for `1d 5h`.
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// [`duration`] of whole seconds, as engine clocks count them; a negative span reads `0s`.
pub fn secs(secs: i64) -> String {
    duration(Duration::from_secs(secs.max(0).unsigned_abs()))
}

/// Every unit down to the millisecond, as a plan writes it: `1s 500ms`, `1m 30s`,
/// `1h 5s`. For limits a rounded number would misstate (a timeout of 1.5s is not 1s).
pub(crate) fn exact_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut parts: Vec<String> = Vec::new();
    for (size, name) in UNITS {
        let n = secs / size;
        secs %= size;
        if n > 0 {
            parts.push(format!("{n}{name}"));
        }
    }
    parts.extend(millis(d));
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

/// The sub-second part as `500ms`, when there is one.
fn millis(d: Duration) -> Option<String> {
    let ms = d.subsec_millis();
    (ms > 0).then(|| format!("{ms}ms"))
}

/// A path as one shell word, for a command a message suggests (`chmod go-w /srv/app/x`):
/// as it is when that is safe, else in single quotes.
pub(crate) fn shell_word(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_shell_words() {
        use std::path::Path;
        assert_eq!(
            shell_word(Path::new("/srv/app/.shipdeck")),
            "/srv/app/.shipdeck"
        );
        assert_eq!(shell_word(Path::new("/srv/my app")), "'/srv/my app'");
        assert_eq!(shell_word(Path::new("/srv/it's")), "'/srv/it'\\''s'");
    }

    #[test]
    fn compact_durations() {
        assert_eq!(duration(Duration::from_secs(13 * 3600)), "13h");
        assert_eq!(duration(Duration::from_secs(26 * 3600)), "1d 2h");
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(125)), "2m 5s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_secs(86_400 + 300)), "1d");
        assert_eq!(duration(Duration::from_secs(90_061)), "1d 1h");
    }

    #[test]
    fn whole_seconds() {
        assert_eq!(secs(135), "2m 15s");
        assert_eq!(secs(13 * 3600), "13h");
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(-5), "0s");
    }

    #[test]
    fn exact_durations_read_like_a_plan() {
        assert_eq!(exact_duration(Duration::from_secs(2)), "2s");
        assert_eq!(exact_duration(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(exact_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(exact_duration(Duration::from_secs(3605)), "1h 5s");
        assert_eq!(exact_duration(Duration::ZERO), "0s");
    }
}
