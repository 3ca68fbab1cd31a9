//! Notes from the room: the engine journals an operator's note in every phase, with who
//! and when, and changes nothing else; an empty or overlong note is refused.

use crate::support::engine_driver::{Driver, OPERATOR};
use crate::support::plans::{MIN, secs, small_plan};
use shipdeck::engine::journal::{Kind, Verb};
use shipdeck::engine::{Command, Effect, MAX_NOTE_CHARS, Refusal};

fn note(text: &str) -> Command {
    Command::Note { text: text.into() }
}

#[test]
fn a_note_is_journaled_in_any_phase_and_changes_nothing_else() {
    let mut d = Driver::new(small_plan());
    d.warm_up();
    let mut notes = 0;
    let mut write = |d: &mut Driver, text: &str| {
        let progress = d.engine.progress().clone();
        let fx = d.cmd(note(text));
        assert!(
            matches!(fx.as_slice(), [Effect::Journal(_)]),
            "a note is one journal entry and nothing else: {fx:?}"
        );
        assert_eq!(d.engine.progress(), &progress, "a note moved the release");
        let e = d.last_entry("note").unwrap();
        assert_eq!((e.kind, &e.action), (Kind::Action, &Verb::Note));
        assert_eq!(e.operator, OPERATOR);
        assert_eq!(e.at, d.now);
        assert_eq!(e.reason, text.trim());
        notes += 1;
    };
    write(&mut d, "before the start: QA signed off by phone");
    d.cmd(Command::Start { force: true });
    d.run_for(secs(MIN));
    write(&mut d, "  support sees no tickets  ");
    assert_eq!(d.engine.progress().phase.badge(), "BAKING");
    d.cmd(Command::Rollback);
    write(&mut d, "rolled back for the postmortem: pool exhausted");
    assert_eq!(d.entries("note").len(), notes);
}

#[test]
fn an_empty_or_overlong_note_is_refused() {
    let mut d = Driver::new(small_plan());
    for text in ["", "   \t "] {
        let fx = d.cmd(note(text));
        assert_eq!(fx, [Effect::Refused(Refusal::EmptyNote)]);
    }
    let long = "x".repeat(MAX_NOTE_CHARS + 1);
    let fx = d.cmd(note(&long));
    assert_eq!(
        fx,
        [Effect::Refused(Refusal::NoteTooLong {
            chars: MAX_NOTE_CHARS + 1,
            max: MAX_NOTE_CHARS
        })]
    );
    assert!(d.entries("note").is_empty());
    assert!(d.cmd(note(&"x".repeat(MAX_NOTE_CHARS))).len() == 1);
}
