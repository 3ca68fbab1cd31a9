//! The file store's journal.jsonl: whole lines, torn last lines, corrupt lines.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use shipdeck::engine::journal::{Entry, Kind};
use shipdeck::store::{FileStore, ReleaseStore, StoreError, TornLine};

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
}

fn entry(n: i64, reason: &str) -> Entry {
    Entry {
        at: at(n),
        operator: "alice".into(),
        kind: Kind::Action,
        action: "promote".into(),
        reason: reason.into(),
        step: Some("Beta".into()),
        values: BTreeMap::from([("error_rate".into(), 0.004), ("p95".into(), 0.32)]),
        explain: None,
        canary: None,
        origin: None,
    }
}

fn raw_append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Every line of the file is one JSON object: what `jq` and friends need.
fn assert_every_line_is_json(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "unterminated: {text:?}");
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line:?}", i + 1));
        assert!(v.is_object(), "line {}: {line}", i + 1);
    }
}

#[test]
fn entries_append_as_whole_private_lines_and_read_back_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    assert_eq!(store.journal().unwrap().entries, vec![]);
    let first = vec![entry(1, "one"), entry(2, "two\nlines | and a pipe")];
    store.append(&first).unwrap();
    store.append(&[]).unwrap();
    store.append(&[entry(3, "three")]).unwrap();

    let path = tmp.path().join("journal.jsonl");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3);
    assert_every_line_is_json(&path);
    let read = store.journal().unwrap();
    assert_eq!(read.torn, None);
    assert_eq!(
        read.entries,
        vec![first[0].clone(), first[1].clone(), entry(3, "three")]
    );
}

#[test]
fn torn_last_line_is_tolerated_reported_and_set_aside_by_the_next_append() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("journal.jsonl");
    store.append(&[entry(1, "one"), entry(2, "two")]).unwrap();
    // A crash halfway through writing the third line.
    let whole = serde_json::to_string(&entry(3, "three")).unwrap();
    let half = &whole[..whole.len() / 2];
    raw_append(&path, half.as_bytes());

    let read = store.journal().unwrap();
    assert_eq!(read.entries, vec![entry(1, "one"), entry(2, "two")]);
    assert_eq!(
        read.torn,
        Some(TornLine {
            line: 3,
            text: half.to_string()
        })
    );

    store.append(&[entry(4, "four")]).unwrap();
    assert_every_line_is_json(&path);
    let read = store.journal().unwrap();
    assert_eq!(read.torn, None);
    assert_eq!(read.entries.len(), 4);
    assert_eq!(read.entries[..2], [entry(1, "one"), entry(2, "two")]);
    let note = &read.entries[2];
    assert_eq!(note.kind, Kind::Error);
    assert_eq!(note.action, "journal");
    assert!(note.reason.contains("line 3"), "{}", note.reason);
    assert!(note.reason.ends_with(half), "the torn text was not kept");
    assert_eq!(note.at, at(4));
    assert_eq!(read.entries[3], entry(4, "four"));
}

#[test]
fn a_terminated_garbage_last_line_is_torn_too() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("journal.jsonl");
    store.append(&[entry(1, "one")]).unwrap();
    raw_append(&path, b"\xff\xfe not json\n");
    let read = store.journal().unwrap();
    assert_eq!(read.entries.len(), 1);
    assert_eq!(read.torn.as_ref().map(|t| t.line), Some(2));
    store.append(&[entry(2, "two")]).unwrap();
    assert_every_line_is_json(&path);
    let read = store.journal().unwrap();
    assert_eq!(read.torn, None);
    assert_eq!(read.entries.len(), 3);
    assert!(read.entries[1].reason.contains("not json"));
}

#[test]
fn a_whole_entry_missing_only_its_newline_is_kept_and_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("journal.jsonl");
    store.append(&[entry(1, "one")]).unwrap();
    raw_append(
        &path,
        serde_json::to_string(&entry(2, "two")).unwrap().as_bytes(),
    );
    assert_eq!(store.journal().unwrap().entries.len(), 2);
    store.append(&[entry(3, "three")]).unwrap();
    assert_every_line_is_json(&path);
    let read = store.journal().unwrap();
    assert_eq!(
        read.entries,
        vec![entry(1, "one"), entry(2, "two"), entry(3, "three")]
    );
}

#[test]
fn a_torn_line_longer_than_a_read_chunk_is_set_aside_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("journal.jsonl");
    let long = "x".repeat(30_000);
    store.append(&[entry(1, &long)]).unwrap();
    let whole = serde_json::to_string(&entry(2, &long)).unwrap();
    raw_append(&path, &whole.as_bytes()[..20_000]);
    store.append(&[entry(3, "three")]).unwrap();
    assert_every_line_is_json(&path);
    let read = store.journal().unwrap();
    assert_eq!(read.entries.len(), 3);
    assert_eq!(read.entries[0], entry(1, &long));
    assert!(read.entries[1].reason.ends_with(&whole[..20_000]));
}

#[test]
fn a_corrupt_line_before_the_last_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("journal.jsonl");
    store.append(&[entry(1, "one"), entry(2, "two")]).unwrap();
    let mut text = fs::read_to_string(&path).unwrap();
    let second = text.find('\n').unwrap() + 1;
    text.insert_str(second, "{\"at\": oops}\n");
    fs::write(&path, &text).unwrap();

    match store.journal() {
        Err(
            e @ StoreError::Corrupt {
                line: 2, column, ..
            },
        ) => {
            assert!(column >= 1);
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("{}:2:", path.display())), "{msg}");
            assert!(msg.contains("by hand"), "{msg}");
        }
        other => panic!("expected line 2 to be corrupt, got {other:?}"),
    }
    // Reading never rewrites: the bad line is still there.
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn an_entry_that_would_not_read_back_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    store.append(&[entry(1, "one")]).unwrap();
    let mut bad = entry(2, "two");
    bad.values.insert("cpu".into(), f64::INFINITY);
    assert!(matches!(
        store.append(&[entry(2, "ok"), bad]),
        Err(StoreError::Encode { .. })
    ));
    assert_eq!(store.journal().unwrap().entries, vec![entry(1, "one")]);
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        0i64..1_000_000,
        "[a-z]{1,8}",
        prop::sample::select(vec![
            Kind::Action,
            Kind::Decision,
            Kind::Outside,
            Kind::Error,
            Kind::Note,
        ]),
        "\\PC{0,40}",
        prop::option::of("[A-Za-z0-9 %]{1,12}"),
        prop::collection::btree_map(
            "[a-z_]{1,10}",
            (0i64..1_000_000).prop_map(|n| n as f64 / 1000.0),
            0..4,
        ),
    )
        .prop_map(|(t, operator, kind, reason, step, values)| Entry {
            at: at(t),
            operator,
            kind,
            action: "decide".into(),
            reason,
            step,
            values,
            explain: None,
            canary: None,
            origin: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A crash can cut the journal at any byte. Reading then never fails and returns a
    /// prefix of what was written; the next append leaves every line whole and loses
    /// nothing that was read.
    #[test]
    fn a_journal_cut_anywhere_reads_a_prefix_and_heals(
        batches in prop::collection::vec(prop::collection::vec(arb_entry(), 1..4), 1..5),
        cut in any::<prop::sample::Index>(),
        next in arb_entry(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let store = FileStore::open(tmp.path()).unwrap();
        for b in &batches {
            store.append(b).unwrap();
        }
        let written: Vec<Entry> = batches.concat();
        let path = tmp.path().join("journal.jsonl");
        let bytes = fs::read(&path).unwrap();
        let keep = cut.index(bytes.len() + 1);
        fs::write(&path, &bytes[..keep]).unwrap();

        let read = store.journal().unwrap();
        prop_assert!(read.entries.len() <= written.len());
        prop_assert_eq!(&read.entries[..], &written[..read.entries.len()]);
        let mid_line = keep > 0 && bytes[keep - 1] != b'\n';
        let whole_but_newline = mid_line && bytes.get(keep) == Some(&b'\n');
        prop_assert_eq!(read.torn.is_some(), mid_line && !whole_but_newline);

        store.append(std::slice::from_ref(&next)).unwrap();
        assert_every_line_is_json(&path);
        let healed = store.journal().unwrap();
        prop_assert_eq!(healed.torn, None);
        prop_assert_eq!(&healed.entries[..read.entries.len()], &read.entries[..]);
        let set_aside = usize::from(read.torn.is_some());
        prop_assert_eq!(healed.entries.len(), read.entries.len() + set_aside + 1);
        prop_assert_eq!(healed.entries.last(), Some(&next));
    }
}
