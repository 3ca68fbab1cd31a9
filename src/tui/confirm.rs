//! tui::confirm: the questions put to the operator before anything with consequences
//! (what each asks, what it will do, what stands in the way) and how `y`, `f` or any other
//! key answers them. Pure: a confirmed question becomes an [`Intent`]; a question the
//! release has moved on from is never answered.

use crossterm::event::{KeyCode, KeyEvent};

use super::View;
use super::app::{App, PhaseKey, Popup};
use super::keys::{Intent, command};
use crate::engine::guardrail::format_secs;
use crate::engine::{Command, Phase};

/// What a confirmation popup is asking about.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    Promote,
    Rollback,
    /// A new attempt of a rolled-back release.
    Redeploy,
    SetPercent(u8),
    ForceResume,
    TakeOver,
    Quit,
}

/// A question put to the operator before anything with consequences happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub ask: Ask,
    pub title: String,
    /// What will happen, one line each.
    pub lines: Vec<String>,
    /// What stands in the way; shown so that forcing (`f`) is an informed choice.
    pub blockers: Vec<String>,
    /// What `y` does, in a word or two (`start`, `approve`, `roll back now`); `None` when
    /// something stands in the way, since the engine would refuse it.
    pub yes: Option<&'static str>,
    /// What `f` does (`start anyway`); `None` when nothing stands in the way to force
    /// past, or the question cannot be forced.
    pub force: Option<&'static str>,
    /// Where the release stood when asked: if it moved on, the answer no longer applies.
    pub(crate) at: PhaseKey,
}

impl App {
    /// A key while a question is open: `y` (or `f` where forcing is offered) answers it,
    /// any other key cancels it.
    pub(super) fn on_confirm_key(
        &mut self,
        c: &Confirm,
        key: KeyEvent,
        view: &View,
    ) -> Option<Intent> {
        if c.at != PhaseKey::of(view.engine) && !matches!(c.ask, Ask::Quit | Ask::TakeOver) {
            return self.say("not done: the release moved on since the question");
        }
        let yes = matches!(key.code, KeyCode::Char('y' | 'Y'));
        let force = c.force.is_some() && matches!(key.code, KeyCode::Char('f' | 'F'));
        if yes && c.yes.is_none() {
            return self.say(&format!(
                "cancelled: y cannot act past what is in the way ({}); f forces past it, journaled",
                c.blockers.join("; ")
            ));
        }
        if !yes && !force {
            return self.say("cancelled; nothing was done");
        }
        match c.ask {
            Ask::Promote => command(Command::Promote { force }),
            Ask::Rollback => command(Command::Rollback),
            Ask::Redeploy => command(Command::Redeploy),
            Ask::SetPercent(percent) => command(Command::SetPercent { percent }),
            Ask::ForceResume => command(Command::Resume { force }),
            Ask::Quit => Some(Intent::Quit),
            Ask::TakeOver => Some(Intent::TakeOver),
        }
    }

    /// Opens the question for `ask`, in the words of where the release stands now.
    pub(super) fn ask(&mut self, ask: Ask, view: &View) {
        let engine = view.engine;
        let plan = engine.plan();
        let release = format!("{} {}", plan.release.name, plan.release.version);
        let steps = &plan.rollout.steps;
        let describe = |i: usize| {
            steps
                .get(i)
                .map(|s| format!("step {}/{} {}", i + 1, steps.len(), s.label()))
                .unwrap_or_default()
        };
        let watch = format_secs(plan.rollout.watch.as_secs() as i64);
        let next = |step: usize| {
            if step + 1 < steps.len() {
                format!("→ {}", describe(step + 1))
            } else {
                format!("→ the last step is done: guardrails watch for {watch}")
            }
        };
        let (yes, force) = match (&ask, engine.phase()) {
            (Ask::Promote, Phase::Ready) => ("start", "start anyway"),
            (Ask::Promote, Phase::AwaitingApproval { .. }) => ("approve", "approve anyway"),
            (Ask::Promote, _) => ("promote early", "promote anyway"),
            (Ask::Rollback, _) => ("roll back now", ""),
            (Ask::Redeploy, _) => ("start a new attempt", ""),
            (Ask::SetPercent(_), _) => ("apply", ""),
            (Ask::ForceResume, _) => ("resume", "force resume"),
            (Ask::Quit, _) => ("quit", ""),
            (Ask::TakeOver, _) => ("take over", ""),
        };
        let (title, lines, blockers) = match ask {
            Ask::Promote => {
                let blockers = engine.promote_blockers(view.now);
                match engine.phase() {
                    Phase::Ready => (
                        format!("Start the rollout of {release}?"),
                        vec![format!("→ {}", describe(0))],
                        blockers,
                    ),
                    Phase::Baking { step } => {
                        let left = engine
                            .time_left()
                            .map(|d| format_secs(d.as_secs() as i64))
                            .unwrap_or_default();
                        (
                            format!("Promote {release} early?"),
                            vec![
                                format!("{} still has {left} of bake left", describe(*step)),
                                next(*step),
                            ],
                            blockers,
                        )
                    }
                    Phase::AwaitingApproval { step } => (
                        format!("Approve {release}?"),
                        vec![
                            format!("{} baked on healthy data", describe(*step)),
                            next(*step),
                        ],
                        blockers,
                    ),
                    _ => (String::new(), Vec::new(), Vec::new()),
                }
            }
            Ask::Redeploy => (
                format!(
                    "Start attempt {} of {release}?",
                    engine.progress().attempt + 1
                ),
                vec![
                    "For the fixed build: the release goes back to READY, its checklists,"
                        .to_string(),
                    "baselines and rules fresh; P then starts step 1. The journal keeps this attempt."
                        .to_string(),
                ],
                Vec::new(),
            ),
            Ask::Rollback => (
                format!("ROLL BACK {release}?"),
                vec![
                    "The flag is disabled at once: no user gets the feature.".to_string(),
                    "The rollback runbook follows; everything lands in the journal.".to_string(),
                ],
                Vec::new(),
            ),
            Ask::SetPercent(percent) => {
                let step = engine
                    .step_index()
                    .and_then(|i| steps.get(i))
                    .map(|s| format!("{} says {}%", s.name, s.percent))
                    .unwrap_or_default();
                (
                    format!("Set the rollout to {percent}%?"),
                    vec![
                        format!("Live now: {}%; {step}.", engine.exposure().percent),
                        "It holds until the next promote: when the bake completes, the engine waits for one instead of moving on by itself. Journaled."
                            .to_string(),
                    ],
                    Vec::new(),
                )
            }
            Ask::ForceResume => (
                "Resume past the guardrail?".to_string(),
                vec![
                    "What paused the rollout still holds (below); resuming goes on past it."
                        .to_string(),
                    "A forced resume is journaled as forced, with your name.".to_string(),
                ],
                engine.pause_blockers(),
            ),
            Ask::TakeOver => (
                format!("Take over {release}?"),
                vec![
                    "Its holder has stopped guarding: this screen becomes the controller,"
                        .to_string(),
                    "runs the guardrails and writes the flag. The journal records it.".to_string(),
                ],
                Vec::new(),
            ),
            Ask::Quit => (
                "Quit while the rollout is live?".to_string(),
                vec![
                    "Guardrails stop watching until shipdeck runs again;".to_string(),
                    "the state is saved (`shipdeck run PLAN --headless` keeps watching)."
                        .to_string(),
                ],
                Vec::new(),
            ),
        };
        // Only what can happen is offered: `y` when nothing stands in the way (the engine
        // would refuse it otherwise), `f` only when something does.
        let forceable = matches!(ask, Ask::Promote | Ask::ForceResume);
        let blocked = !blockers.is_empty();
        self.popup = Some(Popup::Confirm(Confirm {
            ask,
            title,
            lines,
            yes: (!blocked).then_some(yes),
            force: (forceable && blocked).then_some(force),
            blockers,
            at: PhaseKey::of(engine),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ListKind;
    use crate::tui::rig::{Rig, cmd};

    #[test]
    fn rollback_needs_r_then_y() {
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char('R')), None);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::Rollback));
        assert_eq!(r.press(KeyCode::Char('y')), cmd(Command::Rollback));
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn any_other_key_cancels_a_question() {
        let mut r = Rig::baking();
        for stray in [
            KeyCode::Char('R'),
            KeyCode::Char(' '),
            KeyCode::Enter,
            KeyCode::Esc,
        ] {
            r.press(KeyCode::Char('R'));
            assert_eq!(r.press(stray), None, "{stray:?} must not confirm");
            assert!(r.app.popup().is_none());
            assert!(r.app.status().is_some_and(|s| s.text.contains("cancelled")));
        }
        // Rollback offers no force: `f` cancels it too.
        r.press(KeyCode::Char('R'));
        assert_eq!(r.press(KeyCode::Char('f')), None);
    }

    /// The open question's `y` and `f`, as offered.
    fn offered(r: &Rig) -> (Option<&'static str>, Option<&'static str>) {
        match r.app.popup() {
            Some(Popup::Confirm(c)) => (c.yes, c.force),
            other => panic!("no question: {other:?}"),
        }
    }

    #[test]
    fn promote_offers_y_when_clear_and_only_f_when_something_is_in_the_way() {
        // Four samples into the bake: starved, so only forcing can promote.
        let mut r = Rig::baking();
        r.press(KeyCode::Char('P'));
        let Some(Popup::Confirm(c)) = r.app.popup() else {
            panic!("no question");
        };
        assert!(c.title.contains("early"), "{c:?}");
        assert!(c.lines.iter().any(|l| l.contains("Full")), "{c:?}");
        assert!(c.blockers.iter().any(|b| b.contains("starved")), "{c:?}");
        assert_eq!(offered(&r), (None, Some("promote anyway")));
        // y would be refused: it cancels and says why.
        assert_eq!(r.press(KeyCode::Char('y')), None);
        let said = r.app.status().unwrap();
        assert!(said.text.contains("f forces"), "{}", said.text);
        r.press(KeyCode::Char('P'));
        assert_eq!(
            r.press(KeyCode::Char('f')),
            cmd(Command::Promote { force: true })
        );

        // Enough fresh samples: y promotes and there is nothing to force past.
        let mut r = Rig::baking();
        r.samples(4, 0.002);
        assert!(r.engine.promote_blockers(r.now).is_empty());
        r.press(KeyCode::Char('P'));
        assert_eq!(offered(&r), (Some("promote early"), None));
        assert_eq!(r.press(KeyCode::Char('f')), None, "f cancels");
        r.press(KeyCode::Char('P'));
        assert_eq!(
            r.press(KeyCode::Char('y')),
            cmd(Command::Promote { force: false })
        );
    }

    #[test]
    fn start_offers_only_what_the_engine_would_do() {
        // The pre-release item is open: start only by force.
        let mut r = Rig::new();
        r.press(KeyCode::Char('P'));
        assert_eq!(offered(&r), (None, Some("start anyway")));
        assert_eq!(r.press(KeyCode::Char('y')), None, "y would be refused");
        r.press(KeyCode::Char('P'));
        assert_eq!(
            r.press(KeyCode::Char('f')),
            cmd(Command::Promote { force: true })
        );
        // Nothing in the way: y starts, and no force is offered.
        let mut r = Rig::new();
        r.run(Command::Tick {
            list: ListKind::PreRelease,
            item: 0,
            done: true,
        });
        r.press(KeyCode::Char('P'));
        assert_eq!(offered(&r), (Some("start"), None));
        assert_eq!(r.press(KeyCode::Char('f')), None, "f cancels");
        r.press(KeyCode::Char('P'));
        assert_eq!(
            r.press(KeyCode::Char('y')),
            cmd(Command::Promote { force: false })
        );
    }

    #[test]
    fn a_question_lapses_when_the_release_moves_on() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('P'));
        // The bake completes and the engine promotes by itself while the question is open.
        r.samples(45, 0.002);
        assert_eq!(r.engine.step_index(), Some(1));
        assert_eq!(r.press(KeyCode::Char('y')), None, "no double promote");
    }

    #[test]
    fn guardrail_pause_shows_why_and_resume_past_it_needs_f() {
        let mut r = Rig::baking();
        r.samples(1, 0.02);
        assert_eq!(r.engine.phase().badge(), "PAUSED");
        r.sync();
        assert!(
            r.app.why_open(),
            "the why pane opens by itself beside the journal"
        );
        // space asks, the why pane staying open: the guardrail still holds.
        assert_eq!(r.press(KeyCode::Char(' ')), None);
        assert!(
            matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::ForceResume && !c.blockers.is_empty())
        );
        assert_eq!(r.press(KeyCode::Char('y')), None, "y does not force");
        r.press(KeyCode::Char(' '));
        assert_eq!(
            r.press(KeyCode::Char('f')),
            cmd(Command::Resume { force: true })
        );
    }
}
