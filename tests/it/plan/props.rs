//! Properties of plan parsing: no input makes it panic, every error points inside the
//! text, and the step rules (0..=100, never down, unique names) hold for any step list.

use std::path::Path;

use proptest::prelude::*;
use shipdeck::plan;

const DEMO: &str = include_str!("../../../fixtures/demo/plan.yaml");
const PROM: &str = include_str!("../../../fixtures/canary-prometheus/plan.yaml");

/// Every diagnostic of a parse error sits inside `text` (or is a whole-file one).
fn assert_located(
    text: &str,
    result: Result<plan::Plan, plan::PlanError>,
) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.diagnostics.is_empty());
        let lines = text.lines().count().max(1) + 1;
        for d in &e.diagnostics {
            prop_assert!(d.line <= lines, "{d} beyond {lines} lines");
            prop_assert!((d.line == 0) == (d.column == 0), "{d}");
            prop_assert!(!d.message.is_empty());
        }
    }
    Ok(())
}

/// A fixture with a few bytes cut, repeated or replaced.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    let len = base.len();
    prop::collection::vec((0..len, 0..len, "[ -~\n\t:{}\\[\\],#&*!|>'\"-]{0,4}"), 1..6).prop_map(
        move |edits| {
            let mut s = base.as_bytes().to_vec();
            for (at, cut, insert) in edits {
                let at = at.min(s.len());
                let end = (at + cut % 8).min(s.len());
                s.splice(at..end, insert.bytes());
            }
            String::from_utf8_lossy(&s).into_owned()
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let r = plan::parse(&text, Path::new("fuzz.yaml"));
        assert_located(&text, r)?;
    }

    #[test]
    fn yaml_shaped_text_never_panics(
        text in prop::collection::vec(
            "( {0,4}- | {0,4})[a-z_]{1,8}:( [\\[{]| [a-z0-9.%]{0,5}| &a| \\*a|[\\]},]){0,3}",
            0..16,
        )
        .prop_map(|lines| lines.join("\n"))
    ) {
        let r = plan::parse(&text, Path::new("fuzz.yaml"));
        assert_located(&text, r)?;
    }

    #[test]
    fn mutated_demo_never_panics(text in mutated(DEMO)) {
        let r = plan::parse(&text, Path::new("fuzz.yaml"));
        assert_located(&text, r)?;
    }

    #[test]
    fn mutated_prometheus_plan_never_panics(text in mutated(PROM)) {
        let r = plan::parse(&text, Path::new("fuzz.yaml"));
        assert_located(&text, r)?;
    }

    #[test]
    fn steps_are_accepted_exactly_when_valid(
        steps in prop::collection::vec((0usize..6, 0i64..130), 1..7)
    ) {
        let names = ["Internal", "Beta", "Quarter", "Half", "Most", "Full"];
        let mut text = String::from(
            "release: {name: shop, version: 1.0.0, strategy: canary}\n\
             flag: {name: f, backend: {kind: file, path: flags.yaml}}\n\
             rollout:\n  steps:\n",
        );
        for (name, percent) in &steps {
            text.push_str(&format!("    - {{name: {}, percent: {percent}, bake: 1h}}\n", names[*name]));
        }
        let in_range = steps.iter().all(|(_, p)| *p <= 100);
        let rising = steps.windows(2).all(|w| w[0].1 <= w[1].1);
        let mut seen = std::collections::HashSet::new();
        let unique = steps.iter().all(|(n, _)| seen.insert(*n));
        let result = plan::parse(&text, Path::new("steps.yaml"));
        match &result {
            Ok(p) => {
                prop_assert!(in_range && rising && unique, "accepted {steps:?}");
                let got: Vec<i64> = p.rollout.steps.iter().map(|s| i64::from(s.percent)).collect();
                let want: Vec<i64> = steps.iter().map(|(_, p)| *p).collect();
                prop_assert_eq!(got, want);
            }
            Err(e) => prop_assert!(!(in_range && rising && unique), "refused {steps:?}:\n{e}"),
        }
        assert_located(&text, result)?;
    }
}
