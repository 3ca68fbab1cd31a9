//! pipeline::status_file: reads a stage's status file (`{"status", "detail", "url"}`) and
//! watches it for rewrites. Turns every bad file into a `failed` (or, when missing,
//! `pending`) reading that says what is wrong and where; never panics and never trusts
//! the file's size.

use std::path::Path;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::plan::StageStatus;
use crate::support::path::folder_of;
use crate::support::suggest;

/// A status file larger than this is refused rather than read.
pub(crate) const MAX_BYTES: u64 = 64 * 1024;
/// Longest `detail` or `url` kept from a file.
const MAX_TEXT: usize = 500;
const SHAPE: &str = r#"write {"status": "passed", "detail": "…", "url": "…"}"#;

/// What a status file says (or what is wrong with it).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub status: StageStatus,
    pub detail: String,
    pub url: Option<String>,
}

/// A status word, matched without regard to case; anything else is an error that serde_json
/// places at its line and column.
struct Word(StageStatus);

impl<'de> serde::Deserialize<'de> for Word {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not `String::deserialize`: serde_json then places an error right after
        // the value rather than at the end of the object.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Word;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a status: {}", StageStatus::NAMES.join(", "))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Word, E> {
                let Some(status) = StageStatus::from_word(s) else {
                    let hint = suggest::closest(s, StageStatus::NAMES)
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    return Err(E::custom(format!(
                        "unknown status `{s}`; {hint}use one of {}",
                        StageStatus::NAMES.join(", ")
                    )));
                };
                Ok(Word(status))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[derive(serde::Deserialize)]
struct File {
    status: Word,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

fn failed(detail: String) -> Reading {
    Reading {
        status: StageStatus::Failed,
        detail,
        url: None,
    }
}

fn tidy(text: &str) -> String {
    let one_line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if one_line.chars().count() > MAX_TEXT {
        let mut cut: String = one_line.chars().take(MAX_TEXT).collect();
        cut.push('…');
        cut
    } else {
        one_line
    }
}

/// What the bytes of the status file at `path` say.
pub fn parse(path: &Path, bytes: &[u8]) -> Reading {
    match serde_json::from_slice::<File>(bytes) {
        Ok(f) => Reading {
            status: f.status.0,
            detail: f.detail.as_deref().map(tidy).unwrap_or_default(),
            url: f.url.as_deref().map(tidy).filter(|u| !u.is_empty()),
        },
        Err(e) => {
            // Without serde_json's " at line L column C": said below the way editors do.
            let message = crate::support::jsonl::error_text(&e);
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    format!("not JSON ({message}); {SHAPE}")
                }
                _ if message.starts_with("unknown status") => message,
                _ => format!("{message}; {SHAPE}"),
            };
            failed(format!(
                "{}:{}:{}: {what}",
                path.display(),
                e.line(),
                e.column()
            ))
        }
    }
}

/// Reads and parses the status file; a missing file is `pending`, never an error.
pub async fn read(path: &Path) -> Reading {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Reading {
                status: StageStatus::Pending,
                detail: format!("waiting for {}: not written yet", path.display()),
                url: None,
            };
        }
        Err(e) => return failed(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_BYTES + 1).read_to_end(&mut bytes).await {
        return failed(format!("cannot read {}: {e}", path.display()));
    }
    if bytes.len() as u64 > MAX_BYTES {
        return failed(format!(
            "{} is larger than {} KiB; a status file holds one small JSON object",
            path.display(),
            MAX_BYTES / 1024
        ));
    }
    parse(path, &bytes)
}

/// Watches the folder of `path` and signals `changed` whenever something happens to the
/// file (written, replaced, removed). Signals coalesce: one pending signal is enough.
pub fn watch(
    path: &Path,
    changed: mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    use notify::Watcher;
    let name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours = match &event {
            Ok(e) => e
                .paths
                .iter()
                .any(|p| name.is_none() || p.file_name() == name.as_deref()),
            // An overflowed or failed watch: re-read to be sure.
            Err(_) => true,
        };
        if ours {
            let _ = changed.try_send(());
        }
    })?;
    // The folder, not the file: a rewrite by rename replaces the file itself.
    watcher.watch(&folder_of(path), notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Reading {
        parse(Path::new("status/qa.json"), text.as_bytes())
    }

    #[test]
    fn a_good_file_gives_its_status_detail_and_url() {
        let r =
            p(r#"{"status": "Passed", "detail": "QA sign-off\nfor 2.5.0", "url": "http://qa/1"}"#);
        assert_eq!(r.status, StageStatus::Passed);
        assert_eq!(r.detail, "QA sign-off for 2.5.0");
        assert_eq!(r.url.as_deref(), Some("http://qa/1"));
        let r = p(r#"{"status": "running", "extra": 1}"#);
        assert_eq!(r.status, StageStatus::Running);
        assert_eq!(r.detail, "");
    }

    #[test]
    fn an_unknown_status_fails_at_its_place() {
        let r = p("{\n  \"status\": \"succes\"\n}");
        assert_eq!(r.status, StageStatus::Failed);
        assert!(
            r.detail
                .starts_with("status/qa.json:2:20: unknown status `succes`"),
            "{}",
            r.detail
        );
        assert!(
            r.detail
                .contains("pending, running, passed, failed, skipped"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn not_json_fails_with_line_and_column() {
        let r = p("{\"status\": passed}");
        assert_eq!(r.status, StageStatus::Failed);
        assert!(
            r.detail.starts_with("status/qa.json:1:12: not JSON"),
            "{}",
            r.detail
        );
        let r = p("");
        assert!(
            r.detail.starts_with("status/qa.json:1:0: not JSON"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn a_missing_status_or_a_wrong_type_fails() {
        let r = p(r#"{"detail": "x"}"#);
        assert_eq!(r.status, StageStatus::Failed);
        assert!(r.detail.contains("missing field `status`"), "{}", r.detail);
        let r = p(r#"{"status": "passed", "detail": 5}"#);
        assert_eq!(r.status, StageStatus::Failed);
        assert!(r.detail.contains("invalid type"), "{}", r.detail);
    }

    #[test]
    fn a_long_detail_is_cut() {
        let long = "x".repeat(5000);
        let r = p(&format!(r#"{{"status": "failed", "detail": "{long}"}}"#));
        assert_eq!(r.detail.chars().count(), MAX_TEXT + 1);
    }

    proptest! {
        /// Whatever the file holds, reading it gives a status and never panics; only a
        /// well-formed object passes.
        #[test]
        fn any_bytes_give_a_reading(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let r = parse(Path::new("s.json"), &bytes);
            if r.status != StageStatus::Failed {
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
            } else {
                prop_assert!(r.detail.starts_with("s.json:"));
            }
        }
    }
}
