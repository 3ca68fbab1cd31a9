//! store::jsonl: the journal's line format — one JSON `Entry` per line, read with
//! `support::jsonl`. Owns refusing an entry that would not read back and setting a torn
//! line aside; never touches files.

use chrono::{DateTime, Utc};
use std::io::BufRead;
use std::path::Path;

use super::{StoreError, TornLine};
use crate::engine::journal::{Entry, Kind, Verb};
use crate::support::jsonl::{self, EachError};

const CORRUPT_HINT: &str = "the journal is append-only and shipdeck never rewrites it: repair or delete that line by hand (keep a copy), then start again";

/// A line ready to append: the entry's JSON and a newline. Refuses an entry that would
/// not read back (a NaN value serialises as `null`), so the journal never holds a line
/// that makes it unreadable.
pub(super) fn encode(path: &Path, entry: &Entry) -> Result<Vec<u8>, StoreError> {
    let encode_error = |message: String| StoreError::Encode {
        path: path.to_path_buf(),
        what: "a journal entry",
        message,
    };
    let mut line = serde_json::to_vec(entry).map_err(|e| encode_error(e.to_string()))?;
    if let Err((_, message)) = jsonl::decode::<Entry>(&line) {
        return Err(encode_error(format!(
            "the entry `{}` would not read back: {message}",
            entry.headline()
        )));
    }
    line.push(b'\n');
    Ok(line)
}

/// Hands `visit` every entry `reader` holds, oldest first, one line in memory at a time. A
/// bad last line (torn by a crash, or not JSON) is tolerated and returned; a bad line
/// before it is an error naming the line.
pub(super) fn read(
    path: &Path,
    reader: impl BufRead,
    visit: &mut dyn FnMut(Entry),
) -> Result<Option<TornLine>, StoreError> {
    jsonl::each(reader, 1, |_, entry| visit(entry)).map_err(|e| match e {
        EachError::Io(source) => StoreError::io(path, source),
        EachError::Bad(bad) => StoreError::Corrupt {
            path: path.to_path_buf(),
            line: bad.line,
            column: bad.column,
            message: bad.message,
            hint: CORRUPT_HINT,
        },
    })
}

/// The entry that takes a torn line's place, keeping its text: the journal stays one
/// valid JSON object per line and nothing the crash left is thrown away. A controller
/// that finds the torn line on opening journals this same entry, and the store then
/// writes it once.
pub fn set_aside(torn: &TornLine, at: DateTime<Utc>) -> Entry {
    let reason = format!(
        "line {} was torn by a crash (or a full disk) and is kept here as text: {}",
        torn.line, torn.text
    );
    Entry::plain(
        at,
        crate::engine::ENGINE,
        Kind::Error,
        Verb::Journal,
        reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JournalRead;
    use chrono::TimeZone;
    use std::path::PathBuf;

    fn entry(n: i64) -> Entry {
        Entry {
            at: Utc.timestamp_opt(1_700_000_000 + n, 0).single().unwrap(),
            operator: "alice".into(),
            kind: Kind::Action,
            action: "promote".into(),
            reason: format!("step {n}\nwith a newline"),
            step: Some("Beta".into()),
            values: [("error_rate".to_string(), 0.004)].into_iter().collect(),
            explain: None,
            canary: None,
            origin: None,
        }
    }

    /// The journal in `bytes`, read back whole.
    fn parse(path: &Path, bytes: &[u8]) -> Result<JournalRead, StoreError> {
        let mut entries = Vec::new();
        let torn = read(path, bytes, &mut |e| entries.push(e))?;
        Ok(JournalRead { entries, torn })
    }

    fn lines(entries: &[Entry]) -> Vec<u8> {
        let p = PathBuf::from("j");
        entries
            .iter()
            .flat_map(|e| encode(&p, e).unwrap())
            .collect()
    }

    #[test]
    fn whole_lines_read_back() {
        let es = vec![entry(1), entry(2)];
        let bytes = lines(&es);
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 2);
        let read = parse(Path::new("j"), &bytes).unwrap();
        assert_eq!(read.entries, es);
        assert_eq!(read.torn, None);
    }

    #[test]
    fn empty_journal_is_empty() {
        assert_eq!(parse(Path::new("j"), b"").unwrap(), JournalRead::default());
    }

    #[test]
    fn a_complete_entry_missing_its_newline_is_kept() {
        let mut bytes = lines(&[entry(1), entry(2)]);
        bytes.pop();
        let read = parse(Path::new("j"), &bytes).unwrap();
        assert_eq!(read.entries.len(), 2);
        assert_eq!(read.torn, None);
    }

    #[test]
    fn torn_last_line_is_reported_not_fatal() {
        let mut bytes = lines(&[entry(1)]);
        bytes.extend_from_slice(b"{\"at\":\"2023-");
        let read = parse(Path::new("j"), &bytes).unwrap();
        assert_eq!(read.entries, vec![entry(1)]);
        assert_eq!(
            read.torn,
            Some(TornLine {
                line: 2,
                text: "{\"at\":\"2023-".into()
            })
        );
    }

    #[test]
    fn bad_middle_line_names_its_line_and_column() {
        let mut bytes = lines(&[entry(1)]);
        bytes.extend_from_slice(b"{\"at\": nope}\n");
        bytes.extend(lines(&[entry(3)]));
        match parse(Path::new("/x/journal.jsonl"), &bytes) {
            Err(e @ StoreError::Corrupt { line: 2, .. }) => {
                let text = e.to_string();
                assert!(text.starts_with("/x/journal.jsonl:2:"), "{text}");
                assert!(!text.contains(" at line "), "{text}");
            }
            other => panic!("expected a corrupt line 2, got {other:?}"),
        }
    }

    #[test]
    fn an_entry_that_would_not_read_back_is_refused() {
        let mut e = entry(1);
        e.values.insert("p95".into(), f64::NAN);
        assert!(matches!(
            encode(Path::new("j"), &e),
            Err(StoreError::Encode { .. })
        ));
    }

    #[test]
    fn the_set_aside_entry_keeps_the_text() {
        let torn = TornLine {
            line: 7,
            text: "{\"at\":".into(),
        };
        let e = set_aside(&torn, entry(1).at);
        assert!(e.reason.contains("line 7"));
        assert!(e.reason.ends_with("{\"at\":"));
        assert_eq!(e.kind, Kind::Error);
    }
}
