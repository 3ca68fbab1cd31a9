//! The canary judge on screen: a 15% slower canary at 5%, judged while its bake runs —
//! the header says what the judge will do when the bake is served, Health shows each
//! compared series' row, and `w` explains the judge with both arms' histograms. Drawn
//! from a real engine fed by the simulated source's arms.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::engine_driver::Driver;
use shipdeck::engine::{Command, Phase};
use shipdeck::tui::{self, App, View};

fn judged_while_baking() -> Driver {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/canary-judge/plan.yaml");
    let plan = shipdeck::plan::load(&path).unwrap();
    let mut d = Driver::sourced(plan);
    d.warm_up();
    d.cmd(Command::Start { force: false });
    // Most of the hour's bake: the judge has a full window and has failed the canary.
    d.run_for(Duration::from_secs(50 * 60));
    assert_eq!(
        *d.phase(),
        Phase::Baking { step: 0 },
        "{}",
        d.journal_text()
    );
    d
}

fn draw(d: &Driver, app: &mut App, width: u16, height: u16) -> String {
    let journal: VecDeque<_> = d.journal.iter().cloned().collect();
    let view = View::new(&d.engine, &journal, d.now, "tester");
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| tui::draw(f, app, &view)).unwrap();
    terminal
        .backend()
        .to_string()
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_screen_says_what_the_judge_will_do_and_w_shows_both_arms() {
    let d = judged_while_baking();
    let mut app = App::default();
    let screen = draw(&d, &mut app, 120, 40);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("ROLLBACK in 10m: canary FAIL"), "{header}");
    assert!(
        screen.contains("canary judge: FAIL 0 at Canary 5%: critical p95 failed"),
        "{screen}"
    );
    let p95 = screen
        .lines()
        .find(|l| l.contains(" p95 ") && l.contains("HIGH"))
        .unwrap_or_else(|| panic!("no p95 judge row:\n{screen}"));
    assert!(
        p95.contains("c 34") && p95.contains("b 30") && p95.contains('●'),
        "{p95}"
    );

    let view_journal: VecDeque<_> = d.journal.iter().cloned().collect();
    let view = View::new(&d.engine, &view_journal, d.now, "tester");
    app.on_key(KeyEvent::new(KeyCode::Char('w'), KeyModifiers::NONE), &view);
    let why = draw(&d, &mut app, 120, 40);
    assert!(why.contains("Why the canary judge"), "{why}");
    for arm in ["canary ", "baseline "] {
        assert!(
            why.lines().any(|l| l.contains(arm) && l.contains('█')),
            "a histogram for the {arm}arm:\n{why}"
        );
    }
    insta::assert_snapshot!("canary_judge_why_120x40", why);
}

/// At 80×24 the judge's rows are cut, never wrapped into the rules.
#[test]
fn the_judge_fits_a_small_terminal() {
    let d = judged_while_baking();
    let mut app = App::default();
    let screen = draw(&d, &mut app, 80, 24);
    assert!(screen.contains("canary judge: FAIL"), "{screen}");
    insta::assert_snapshot!("canary_judge_80x24", screen);
}

/// The war-room view (`z` on Health) keeps the judge's verdict and rows under what comes
/// next, and still draws a chart per series.
#[test]
fn the_war_room_keeps_the_judge_in_view() {
    let d = judged_while_baking();
    let mut app = App::default();
    let journal: VecDeque<_> = d.journal.iter().cloned().collect();
    let view = View::new(&d.engine, &journal, d.now, "tester");
    app.on_key(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE), &view);
    let room = draw(&d, &mut app, 120, 40);
    assert!(room.contains("war room"), "{room}");
    assert!(
        room.contains("canary judge: FAIL 0 at Canary 5%: critical p95 failed"),
        "{room}"
    );
    for chart in [" error_rate ", " p95 "] {
        assert!(
            room.contains("scale") && room.contains(chart),
            "{chart}:\n{room}"
        );
    }
}
