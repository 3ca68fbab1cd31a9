//! `journal --markdown` shows each value in its series' unit, as the screen does; a value
//! whose series the plan no longer has stays as it was recorded.

use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

use crate::fault::common::state_dir;
use crate::support::cli::{release, run};
use shipdeck::engine::journal::{Entry, Kind};

#[test]
fn markdown_values_are_in_their_series_unit() {
    let (_dir, plan) = release("healthy");
    let dir = state_dir(&plan);
    std::fs::create_dir(&dir).unwrap();
    let mut entry = Entry::plain(
        Utc.timestamp_opt(1_700_000_000, 0).single().unwrap(),
        "shipdeck",
        Kind::Decision,
        "guardrail".into(),
        "error_rate above 1%".into(),
    );
    entry.values = BTreeMap::from([
        ("error_rate".into(), 0.014387),
        ("p95".into(), 0.39),
        ("retired_series".into(), 0.5),
    ]);
    let line = serde_json::to_string(&entry).unwrap();
    std::fs::write(dir.join("journal.jsonl"), format!("{line}\n")).unwrap();

    let (code, md, stderr) = run(&["journal", plan.to_str().unwrap(), "--markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        md.contains("| error_rate=1.44%, p95=390ms, retired_series=0.5 |"),
        "{md}"
    );
}
