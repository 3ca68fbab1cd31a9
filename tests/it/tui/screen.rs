//! The whole screen, as text, in every state of a release at 80×24, 120×40 and 200×50;
//! each pane on its own; the keys' popups; and the styles of every theme and of NO_COLOR.
//! The release is a real engine driven by scripted metrics on a fixed clock.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use super::common::*;
use shipdeck::plan::ListKind;
use shipdeck::tui::{self, App, Theme, View};

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

/// A way to reach a state of the release.
type Script = fn() -> World;

fn states() -> Vec<(&'static str, World)> {
    vec![
        ("ready", ready()),
        ("awaiting_approval", awaiting_approval()),
        ("baking", baking()),
        ("paused_by_guardrail", paused_by_guardrail()),
        ("rolling_back", rolling_back()),
        ("rolled_back", rolled_back()),
        ("completed", completed()),
    ]
}

#[test]
fn every_state_at_every_size() {
    for (name, world) in states() {
        for (w, h) in SIZES {
            let mut app = App::default();
            let t = screen(&world, &mut app, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        }
    }
}

#[test]
fn the_screen_says_what_each_state_needs() {
    let text = |world: &World| {
        let mut app = App::default();
        screen(world, &mut app, 120, 40).backend().to_string()
    };
    assert!(text(&ready()).contains("○ READY"));
    let baking = text(&baking());
    assert!(baking.contains("● BAKING"), "{baking}");
    assert!(baking.contains("step 3/5 Gradual 25%"), "{baking}");
    assert!(baking.contains("[Prod ◐ 25%]"), "{baking}");
    let paused = text(&paused_by_guardrail());
    assert!(paused.contains("‖ PAUSED"), "{paused}");
    assert!(paused.contains("TRIPPED"), "{paused}");
    assert!(
        paused.contains("Why the trip that paused the release"),
        "{paused}"
    );
    assert!(
        paused.contains("◆"),
        "the trip is marked on the sparkline: {paused}"
    );
    let rolled = text(&rolled_back());
    assert!(rolled.contains("✗ ROLLED BACK"), "{rolled}");
    assert!(rolled.contains("Rollback runbook"), "{rolled}");
    assert!(rolled.contains("[x] 1. Disable feature flag"), "{rolled}");
    assert!(text(&completed()).contains("✓ COMPLETED"));
}

#[test]
fn missing_samples_are_drawn_as_missing_never_as_zero() {
    let world = baking();
    let mut app = App::default();
    let t = screen(&world, &mut app, 120, 40);
    let p95 = t
        .backend()
        .to_string()
        .lines()
        .find(|l| l.contains(" p95 "))
        .unwrap()
        .to_string();
    assert!(p95.contains('·'), "{p95}");
    assert!(
        !p95.contains('▁'),
        "a gap must not look like a low value: {p95}"
    );
}

#[test]
fn a_dead_source_goes_stale_and_the_screen_says_so() {
    let mut world = baking();
    world.silence(mins(2));
    assert_eq!(world.badge(), "PAUSED");
    let mut app = App::default();
    let t = screen(&world, &mut app, 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains("stale"), "{text}");
    assert!(text.contains("data 2m old"), "{text}");
    insta::assert_snapshot!("stale_120x40", t.backend());
}

/// Presses keys on the screen (their intents go to the engine) and draws it.
fn after_keys(world: &mut World, keys: &[KeyCode], w: u16, h: u16) -> Terminal<TestBackend> {
    let mut app = App::default();
    screen(world, &mut app, w, h);
    for k in keys {
        key(world, &mut app, *k);
    }
    screen(world, &mut app, w, h)
}

#[test]
fn popups_and_answers() {
    let cases: Vec<(&str, Script, Vec<KeyCode>)> = vec![
        ("help", baking, vec![KeyCode::Char('?')]),
        ("confirm_start", ready, vec![KeyCode::Char('P')]),
        ("confirm_promote_early", baking, vec![KeyCode::Char('P')]),
        (
            "confirm_approve",
            awaiting_approval,
            vec![KeyCode::Char('P')],
        ),
        ("confirm_rollback", baking, vec![KeyCode::Char('R')]),
        ("confirm_redeploy", rolled_back, vec![KeyCode::Char('P')]),
        (
            "slider_target",
            baking,
            vec![KeyCode::Right, KeyCode::Right, KeyCode::Right],
        ),
        (
            "confirm_slider",
            baking,
            vec![KeyCode::Right, KeyCode::Right, KeyCode::Enter],
        ),
        (
            "confirm_force_resume",
            paused_by_guardrail,
            vec![KeyCode::Char(' ')],
        ),
        ("confirm_quit", baking, vec![KeyCode::Char('q')]),
        (
            "refused_promote_while_paused",
            paused_by_guardrail,
            vec![KeyCode::Esc, KeyCode::Char('P')],
        ),
        ("zoom_health", baking, vec![KeyCode::Char('z')]),
        (
            "zoom_rollout",
            baking,
            vec![KeyCode::Tab, KeyCode::Tab, KeyCode::Char('z')],
        ),
        (
            "journal_focused_scrolled",
            baking,
            vec![
                KeyCode::BackTab,
                KeyCode::Char('j'),
                KeyCode::Char('j'),
                KeyCode::Char('j'),
            ],
        ),
    ];
    for (name, world, keys) in cases {
        let mut world = world();
        let t = after_keys(&mut world, &keys, 120, 40);
        insta::assert_snapshot!(format!("popup_{name}"), t.backend());
    }
}

#[test]
fn a_refused_key_says_why_in_the_status_line() {
    let mut world = paused_by_guardrail();
    let t = after_keys(&mut world, &[KeyCode::Esc, KeyCode::Char('P')], 120, 40);
    let last = t.backend().to_string().lines().last().unwrap().to_string();
    assert!(last.contains("✗ paused: resume first"), "{last}");
}

#[test]
fn slider_apply_reaches_the_flag() {
    let mut world = baking();
    after_keys(
        &mut world,
        &[
            KeyCode::Right,
            KeyCode::Right,
            KeyCode::Enter,
            KeyCode::Char('y'),
        ],
        120,
        40,
    );
    assert_eq!(world.engine.exposure().percent, 35);
    assert_eq!(world.engine.progress().overridden, Some(35));
}

#[test]
fn after_a_slider_override_the_situation_says_the_engine_waits() {
    let mut world = baking();
    let situation =
        |t: &Terminal<TestBackend>| t.backend().to_string().lines().nth(2).unwrap().to_string();
    let t = after_keys(&mut world, &[], 120, 40);
    assert!(
        situation(&t).contains("then promotes to Gradual 50% by itself"),
        "{}",
        situation(&t)
    );
    let t = after_keys(
        &mut world,
        &[KeyCode::Right, KeyCode::Enter, KeyCode::Char('y')],
        120,
        40,
    );
    assert_eq!(world.engine.progress().overridden, Some(30));
    let line = situation(&t);
    assert!(!line.contains("by itself"), "{line}");
    assert!(
        line.contains("then waits for a promote (P): the slider holds 30%"),
        "{line}"
    );
}

#[test]
fn an_answer_fades_from_the_bottom_line_after_ten_seconds() {
    use std::time::{Duration, Instant};
    let world = baking();
    let mut app = App::default();
    app.answer(Ok("promote approved".into()));
    let bottom = |app: &mut App| {
        screen(&world, app, 120, 40)
            .backend()
            .to_string()
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    let t0 = Instant::now();
    app.fade_status(t0);
    assert!(bottom(&mut app).contains("✓ promote approved"));
    app.fade_status(t0 + Duration::from_secs(9));
    assert!(bottom(&mut app).contains("✓ promote approved"));
    app.fade_status(t0 + Duration::from_secs(10));
    let line = bottom(&mut app);
    assert!(!line.contains("promote approved"), "{line}");
    assert!(
        line.contains("space pause/resume"),
        "the key hints are back: {line}"
    );
}

#[test]
fn rollback_from_the_keys_runs_the_runbook() {
    let mut world = baking();
    let t = after_keys(
        &mut world,
        &[KeyCode::Char('R'), KeyCode::Char('y')],
        120,
        40,
    );
    assert_eq!(world.badge(), "ROLLED BACK");
    assert!(!world.engine.exposure().enabled);
    let text = t.backend().to_string();
    assert!(text.contains("Rollback runbook"), "{text}");
    assert!(text.contains("manual rollback (alice"), "{text}");
}

#[test]
fn too_small_says_so() {
    for (w, h) in [(79, 24), (80, 23), (40, 10)] {
        let world = baking();
        let mut app = App::default();
        let t = screen(&world, &mut app, w, h);
        let text = t.backend().to_string();
        assert!(
            text.contains("terminal too small (need 80×24)"),
            "{w}x{h}: {text}"
        );
    }
    let world = baking();
    let mut app = App::default();
    insta::assert_snapshot!(
        "too_small_60x12",
        screen(&world, &mut app, 60, 12).backend()
    );
}

#[test]
fn keys_wait_on_a_too_small_screen_and_q_asks_there() {
    let mut world = baking();
    let mut app = App::default();
    screen(&world, &mut app, 40, 12);
    for k in [KeyCode::Char('R'), KeyCode::Char('y'), KeyCode::Char(' ')] {
        assert_eq!(key(&mut world, &mut app, k), None, "{k:?} acted");
    }
    assert_eq!(world.badge(), "BAKING", "R y rolled back unseen");
    insta::assert_snapshot!(
        "too_small_40x12",
        screen(&world, &mut app, 40, 12).backend()
    );
    key(&mut world, &mut app, KeyCode::Char('q'));
    let t = screen(&world, &mut app, 40, 12);
    insta::assert_snapshot!("too_small_asking_quit_40x12", t.backend());
    assert_eq!(
        key(&mut world, &mut app, KeyCode::Char('y')),
        Some(tui::Intent::Quit)
    );
}

#[test]
fn banner_for_a_loud_notice_and_a_follower() {
    let world = baking();
    let mut app = App::default();
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut view = world.view();
    view.notice = Some("flag write failing (attempt 3), retrying: permission denied".into());
    view.follower_of = Some("bob (screen on war-room, pid 4242, since 09:12:00Z)");
    t.draw(|f| tui::draw(f, &mut app, &view)).unwrap();
    insta::assert_snapshot!("banner_120x40", t.backend());
}

/// Each pane alone, in the state where it has the most to say.
#[test]
fn each_pane() {
    use shipdeck::tui::{checklist, health, journal, pipeline, rollout};
    type Pane = fn(&mut ratatui::Frame, &App, &View, Rect);
    let panes: [(&str, Script, Pane, u16, u16); 6] = [
        ("health", paused_by_guardrail, health::render, 100, 16),
        ("checklist", baking, checklist::render, 44, 14),
        ("rollout", baking, rollout::render, 100, 5),
        ("rollout_short", baking, rollout::render, 100, 4),
        ("journal", rolled_back, journal::render, 100, 10),
        ("pipeline", rolled_back, pipeline::render, 80, 1),
    ];
    for (name, world, render, w, h) in panes {
        let world = world();
        let mut app = App::default();
        let view = world.view();
        app.prepare_health(&view, Rect::new(0, 0, w, h));
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, &app, &view, f.area())).unwrap();
        insta::assert_snapshot!(format!("pane_{name}"), t.backend());
    }
}

#[test]
fn theme_styles() {
    let world = paused_by_guardrail();
    for name in ["dark", "light", "high-contrast"] {
        let mut app = App::new(tui::theme::named(name).unwrap(), false);
        let t = screen(&world, &mut app, 80, 24);
        insta::assert_debug_snapshot!(format!("style_{name}"), t.backend().buffer());
    }
}

#[test]
fn no_color_has_no_colour_and_still_reads() {
    let world = paused_by_guardrail();
    let mut app = App::new(Theme::dark(), true);
    let t = screen(&world, &mut app, 80, 24);
    let buffer = t.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    let text = t.backend().to_string();
    assert!(text.contains("‖ PAUSED"));
    assert!(text.contains("Paused:"), "{text}");
    insta::assert_debug_snapshot!("style_no_color", buffer);
}

#[test]
fn themes_differ_where_state_is_shown() {
    let world = rolled_back();
    let styles: Vec<_> = ["dark", "light", "high-contrast"]
        .iter()
        .map(|n| {
            let mut app = App::new(tui::theme::named(n).unwrap(), false);
            let t = screen(&world, &mut app, 120, 40);
            let buffer = t.backend().buffer().clone();
            // The badge's cells.
            let text = t.backend().to_string();
            let row = text.lines().next().unwrap().to_string();
            let col = row.trim_start_matches('"').find("ROLLED").unwrap();
            buffer[(col as u16, 0)].style()
        })
        .collect();
    assert_ne!(styles[0], styles[1]);
    assert_ne!(styles[1], styles[2]);
}

#[test]
fn an_empty_journal_and_a_fresh_plan_draw() {
    let world = World::new();
    let mut app = App::default();
    let t = screen(&world, &mut app, 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains("nothing yet"), "{text}");
    assert!(text.contains("no data yet"), "{text}");
}

#[test]
fn journal_rows_name_their_day_once_one_is_from_another_day() {
    let mut world = ready();
    let t = screen(&world, &mut App::default(), 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains(" 09:40:00 tick"), "{text}");
    assert!(!text.contains("03-15 09:40 tick"), "{text}");
    // Two days on, the same entries say which day they are from.
    world.silence(mins(2 * 24 * 60));
    let t = screen(&world, &mut App::default(), 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains(" 03-15 09:40 tick"), "{text}");
}

#[test]
fn ticking_from_the_keys_lands_in_the_journal() {
    let mut world = ready();
    let before = world.journal.len();
    // The cursor starts on the first open pre-release item: "Rollback plan ready".
    after_keys(&mut world, &[KeyCode::Tab, KeyCode::Char('x')], 120, 40);
    assert_eq!(world.journal.len(), before + 1);
    assert!(world.engine.item_done(ListKind::PreRelease, 4).0);
}

#[test]
fn pane_keys_act_only_where_they_belong() {
    // The journal has focus: x ticks nothing and says where it acts.
    let mut world = ready();
    let before = world.journal.len();
    let t = after_keys(&mut world, &[KeyCode::BackTab, KeyCode::Char('x')], 120, 40);
    assert_eq!(world.journal.len(), before, "x ticked from the journal");
    let last = t.backend().to_string().lines().last().unwrap().to_string();
    assert!(
        last.contains("x ticks the checklist item under ▸: tab to the Checklist first"),
        "{last}"
    );
    // Health has focus: j moves no checklist cursor.
    let mut world = ready();
    let mut app = App::default();
    let first = screen(&world, &mut app, 120, 40).backend().to_string();
    key(&mut world, &mut app, KeyCode::Char('j'));
    let moved = screen(&world, &mut app, 120, 40).backend().to_string();
    let checklist = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("[ ]") || l.contains("[x]"))
            .map(String::from)
            .collect()
    };
    assert_eq!(checklist(&first), checklist(&moved));
    assert!(
        moved.contains("j/k and g/G move in the Checklist and the Journal"),
        "{moved}"
    );
}

#[test]
fn sparkline_cells_follow_the_engine_clock() {
    use shipdeck::tui::spark::{self, Cell};
    let mut world = baking();
    world.silence(mins(2));
    let view = world.view();
    let key = spark::spark_key(&view, "error_rate", 20);
    let spark = spark::downsample(&view, "error_rate", key);
    assert_eq!(spark.cells.len(), 20);
    // Two minutes without a sample: the seven intervals that have ended since are missing;
    // the one under way is not counted yet.
    let missing = spark
        .cells
        .iter()
        .rev()
        .take_while(|c| **c == Cell::Missing)
        .count();
    assert_eq!(missing, 7, "{:?}", spark.cells);
    assert!(matches!(spark.cells[12], Cell::Value(_)));
    // A fresh plan has no history: blank, not missing.
    let fresh = World::new();
    let view = fresh.view();
    let key = spark::spark_key(&view, "error_rate", 10);
    let spark = spark::downsample(&view, "error_rate", key);
    assert!(spark.cells.iter().all(|c| *c == Cell::Blank));
}

#[test]
fn the_worst_sample_of_an_interval_is_the_one_drawn() {
    use shipdeck::engine::Input;
    use shipdeck::engine::values::{Batch, Outcome, Reading};
    use shipdeck::tui::spark::{self, Cell};
    let mut world = baking();
    // Two more samples inside the last 15 s interval: the spike is kept, not averaged away
    // or overwritten by the calmer sample after it.
    for error_rate in [0.009, 0.002] {
        world.now += chrono::Duration::seconds(5);
        let batch = Batch {
            arms: Vec::new(),
            at: world.now,
            readings: vec![Reading {
                series: "error_rate".into(),
                outcome: Outcome::Value(error_rate),
            }],
        };
        world.input(Input::Samples { batch });
    }
    let view = world.view();
    let key = spark::spark_key(&view, "error_rate", 4);
    let spark = spark::downsample(&view, "error_rate", key);
    assert_eq!(
        spark.cells.last(),
        Some(&Cell::Value(0.009)),
        "{:?}",
        spark.cells
    );
}

/// A reason or an operator with control characters shows them as escapes on the screen,
/// in the journal pane and the situation line: nothing dropped, merged or reordered.
#[test]
fn text_from_outside_shows_its_control_characters_escaped() {
    use shipdeck::engine::{Command, Input};
    let mut world = baking();
    world.input(Input::Command {
        command: Command::Pause,
        operator: "mallory\u{1b}[8m".into(),
        reason: Some("typo\n2026 forged\u{1b}]0;owned\u{7}\u{202e}gnp".into()),
    });
    assert_eq!(world.badge(), "PAUSED");
    let mut app = App::default();
    let t = screen(&world, &mut app, 200, 50);
    let text = t.backend().to_string();
    assert!(
        text.contains("typo\\n2026 forged\\u{1b}]0;owned\\u{7}\\u{202e}gnp"),
        "{text}"
    );
    assert!(text.contains("mallory\\u{1b}[8m"), "{text}");
    assert!(!text.contains('\u{202e}'), "{text}");
}

/// A plan without `pipeline:` or `checklists:`: the stages read as not tracked, the lists
/// as suggestions, and nothing says the start waits on them.
#[test]
fn undeclared_stages_are_not_tracked_and_undeclared_lists_are_suggestions() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/minimal/plan.yaml");
    let world = World::of(&path);
    let mut app = App::default();
    let t = screen(&world, &mut app, 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains("[PR –]"), "{text}");
    assert!(
        text.contains("not tracked: the plan has no pipeline"),
        "{text}"
    );
    assert!(text.contains("suggested"), "{text}");
    assert!(!text.contains("Pre-release checklist:"), "{text}");
    insta::assert_snapshot!("undeclared_pipeline_and_checklists_120x40", t.backend());
}

/// After a rollback, P asks to start a new attempt; y takes the release back to READY
/// for the fixed build, and the rollback stays in the journal.
#[test]
fn after_a_rollback_p_starts_a_new_attempt() {
    let mut world = rolled_back();
    let t = after_keys(&mut world, &[KeyCode::Char('P')], 120, 40);
    let text = t.backend().to_string();
    assert!(text.contains("Start attempt 2 of checkout-v2"), "{text}");
    assert!(text.contains("y start a new attempt"), "{text}");
    let t = after_keys(
        &mut world,
        &[KeyCode::Char('P'), KeyCode::Char('y')],
        120,
        40,
    );
    assert_eq!(world.badge(), "READY");
    assert_eq!(world.engine.progress().attempt, 2);
    let text = t.backend().to_string();
    assert!(text.contains("redeploy"), "{text}");
    assert!(
        world
            .journal
            .iter()
            .any(|e| e.action == shipdeck::engine::journal::Verb::RolledBack),
        "the earlier attempt's entries stay"
    );
}
