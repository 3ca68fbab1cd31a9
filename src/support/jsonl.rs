//! support::jsonl: reading JSON-lines files that are only ever appended to (the journal, a
//! flight recording), whatever the record type. Owns what counts as a whole line, a torn
//! last line (a crash mid-write: tolerated and handed back as found) and a corrupt one (a
//! bad line before the last: an error naming it); and serde_json's error messages without
//! their position, for callers that say where in their own words. Never touches files.

use serde::de::DeserializeOwned;
use std::io::BufRead;

/// The last line, cut short by a crash or not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as found (invalid UTF-8 replaced).
    pub text: String,
}

/// A line before the last that does not read: the file was damaged, not torn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub column: usize,
    /// serde_json's reason, without its position.
    pub message: String,
}

/// One line of a file, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<T> {
    /// A record and its 1-based line number.
    Whole(usize, T),
    Torn(TornLine),
}

/// One line decoded; on failure, the column and the reason.
pub fn decode<T: DeserializeOwned>(line: &[u8]) -> Result<T, (usize, String)> {
    serde_json::from_slice(line).map_err(|e| (e.column(), error_text(&e)))
}

/// Why reading lines one by one stopped.
#[derive(Debug)]
pub enum EachError {
    /// The reader failed.
    Io(std::io::Error),
    /// A line before the last does not read.
    Bad(BadLine),
}

/// Hands `visit` each whole record of `reader` in order with its line number, the first
/// numbered `first`, holding one line at a time; returns the torn last line, if any. A
/// newline at the very end ends the last line rather than starting an empty one.
pub fn each<T: DeserializeOwned>(
    mut reader: impl BufRead,
    first: usize,
    mut visit: impl FnMut(usize, T),
) -> Result<Option<TornLine>, EachError> {
    let mut line = Vec::new();
    // A line that does not read is torn only if no line follows it.
    let mut bad: Option<(TornLine, BadLine)> = None;
    let mut number = first;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(EachError::Io)? == 0 {
            return Ok(bad.map(|(torn, _)| torn));
        }
        if let Some((_, found)) = bad.take() {
            return Err(EachError::Bad(found));
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        match decode(body) {
            Ok(record) => visit(number, record),
            Err((column, message)) => {
                let torn = TornLine {
                    line: number,
                    text: String::from_utf8_lossy(body).into_owned(),
                };
                let found = BadLine {
                    line: number,
                    column,
                    message,
                };
                bad = Some((torn, found));
            }
        }
        number += 1;
    }
}

/// Every line of `bytes` in order, as [`each`] reads them; after a bad line, nothing.
pub fn lines<T: DeserializeOwned>(
    bytes: &[u8],
    first: usize,
) -> impl Iterator<Item = Result<Line<T>, BadLine>> {
    let mut read = Vec::new();
    match each(bytes, first, |number, record| {
        read.push(Ok(Line::Whole(number, record)))
    }) {
        Ok(torn) => read.extend(torn.map(|t| Ok(Line::Torn(t)))),
        Err(EachError::Bad(bad)) => read.push(Err(bad)),
        // A byte slice is read without error.
        Err(EachError::Io(_)) => {}
    }
    read.into_iter()
}

/// serde_json's message without the " at line L column C" it appends: the caller names the
/// position itself (`path:line:column: message`).
pub(crate) fn error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Vec<Line<u32>>, BadLine> {
        lines(bytes, 1).collect()
    }

    #[test]
    fn whole_lines_torn_last_and_bad_middle() {
        assert_eq!(read(b""), Ok(vec![]));
        assert_eq!(
            read(b"1\n2"),
            Ok(vec![Line::Whole(1, 1), Line::Whole(2, 2)])
        );
        assert_eq!(
            read(b"1\n{\"a"),
            Ok(vec![
                Line::Whole(1, 1),
                Line::Torn(TornLine {
                    line: 2,
                    text: "{\"a".into()
                })
            ])
        );
        // `n` may start `null`; the `o` after it is where the line goes wrong.
        let bad = read(b"1\nnope\n3\n").unwrap_err();
        assert_eq!((bad.line, bad.column), (2, 2));
        assert!(!bad.message.contains(" at line "), "{}", bad.message);
    }

    #[test]
    fn a_reader_is_read_one_line_at_a_time_with_the_same_rules() {
        let each_of = |bytes: &[u8]| {
            let mut got = Vec::new();
            let torn = each::<u32>(std::io::BufReader::with_capacity(2, bytes), 1, |n, v| {
                got.push((n, v))
            });
            (got, torn)
        };
        let (got, torn) = each_of(b"1\n2\n{\"a");
        assert_eq!(got, vec![(1, 1), (2, 2)]);
        assert_eq!(
            torn.unwrap().map(|t| (t.line, t.text)),
            Some((3, "{\"a".into()))
        );
        let (got, torn) = each_of(b"1\n\n");
        assert_eq!(got, vec![(1, 1)]);
        assert_eq!(torn.unwrap().map(|t| t.line), Some(2));
        match each_of(b"1\nnope\n3\n").1 {
            Err(EachError::Bad(bad)) => assert_eq!((bad.line, bad.column), (2, 2)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(each_of(b"").1, Ok(None)));
    }

    #[test]
    fn numbering_starts_where_asked() {
        let got: Vec<_> = lines::<u32>(b"7\n", 2).collect();
        assert_eq!(got, vec![Ok(Line::Whole(2, 7))]);
    }
}
