//! support::jsonl: reading JSON-lines files that are only ever appended to (the journal, a
//! flight recording), whatever the record type. Owns what counts as a whole line, a torn
//! last line (a crash mid-write: tolerated and handed back as found) and a corrupt one (a
//! bad line before the last: an error naming it); and serde_json's error messages without
//! their position, for callers that say where in their own words. Never touches files.

use serde::de::DeserializeOwned;

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

/// Every line of `bytes` in order, the first numbered `first`. A newline at the very end
/// ends the last line rather than starting an empty one; empty `bytes` have no lines.
pub fn lines<T: DeserializeOwned>(
    bytes: &[u8],
    first: usize,
) -> impl Iterator<Item = Result<Line<T>, BadLine>> + '_ {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines: Vec<&[u8]> = if bytes.is_empty() {
        Vec::new()
    } else {
        body.split(|b| *b == b'\n').collect()
    };
    let last = lines.len();
    lines.into_iter().enumerate().map(move |(i, line)| {
        let number = first + i;
        match decode(line) {
            Ok(record) => Ok(Line::Whole(number, record)),
            Err(_) if i + 1 == last => Ok(Line::Torn(TornLine {
                line: number,
                text: String::from_utf8_lossy(line).into_owned(),
            })),
            Err((column, message)) => Err(BadLine {
                line: number,
                column,
                message,
            }),
        }
    })
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
    fn numbering_starts_where_asked() {
        let got: Vec<_> = lines::<u32>(b"7\n", 2).collect();
        assert_eq!(got, vec![Ok(Line::Whole(2, 7))]);
    }
}
