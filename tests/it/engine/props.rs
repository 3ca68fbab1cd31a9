//! engine::props: the rules the engine must always hold, checked over random plans and
//! random sequences of inputs (samples good, bad, missing and failed at increasing times,
//! ticks, every operator command, flag confirmations, failures and outside changes).
//! The generators, the checker and the list of rules live in `support::engine_checker`.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::support::engine_checker::{Seen, case, run};

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_engine_keeps_its_rules_on_any_sequence((plan, ops) in case()) {
        run(plan, &ops).1?;
    }
}

/// The property above only means something if random sequences reach every corner: the
/// engine promoting by itself, completing, rolling back, pausing, operator overrides.
#[test]
fn random_sequences_reach_every_phase() {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let mut total = Seen::default();
    let mut completed = 0;
    let mut rolled_back = 0;
    for _ in 0..256 {
        let (plan, ops) = strategy.new_tree(&mut runner).unwrap().current();
        // A broken rule is the property test's to report; here only coverage counts.
        let (seen, _) = run(plan, &ops);
        total.engine_promotions += seen.engine_promotions;
        total.overrides += seen.overrides;
        total.paused |= seen.paused;
        completed += usize::from(seen.completed);
        rolled_back += usize::from(seen.rolled_back);
    }
    assert!(total.engine_promotions >= 100, "{total:?}");
    assert!(total.overrides >= 20, "{total:?}");
    assert!(total.paused);
    assert!(completed >= 10, "{completed} of 256 cases completed");
    assert!(rolled_back >= 10, "{rolled_back} of 256 cases rolled back");
}
