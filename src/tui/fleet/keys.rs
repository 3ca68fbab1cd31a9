//! tui::fleet::keys: what each key means on the fleet screen. Pure: a key moves the
//! cursor, opens the help, or becomes a [`FleetIntent`] for the front-end; the screen
//! guards nothing, so nothing here asks before acting.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::path::PathBuf;

use super::{Fleet, FleetScreen};

/// What a key asks of the front-end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetIntent {
    /// Open this release's screen from its plan on this machine.
    Open {
        name: String,
        version: String,
        plan: PathBuf,
    },
    Quit,
}

/// How far PgUp/PgDn move.
const PAGE: usize = 10;

impl FleetScreen {
    /// What a key means now, given the list on the screen.
    pub fn on_key(&mut self, key: KeyEvent, fleet: &Fleet) -> Option<FleetIntent> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            return Some(FleetIntent::Quit);
        }
        if self.too_small() {
            // Nothing but "too small" is drawn: a key that acted could not be seen to.
            return (key.code == KeyCode::Char('q')).then_some(FleetIntent::Quit);
        }
        self.status.clear();
        if self.help {
            // As on the release screen: any key closes the help.
            self.help = false;
            return None;
        }
        let rows = fleet.rows();
        let at = self.cursor(&rows);
        let last = rows.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') => return Some(FleetIntent::Quit),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('j') | KeyCode::Down => self.select(&rows, at.map_or(0, |i| i + 1)),
            KeyCode::Char('k') | KeyCode::Up => {
                self.select(&rows, at.map_or(0, |i| i.saturating_sub(1)));
            }
            KeyCode::PageDown => self.select(&rows, at.map_or(0, |i| (i + PAGE).min(last))),
            KeyCode::PageUp => self.select(&rows, at.map_or(0, |i| i.saturating_sub(PAGE))),
            KeyCode::Home | KeyCode::Char('g') => self.select(&rows, 0),
            KeyCode::End | KeyCode::Char('G') => self.select(&rows, last),
            KeyCode::Enter => return self.open(fleet),
            _ => {}
        }
        None
    }

    /// `enter`: the selected release, when its plan is on this machine; else the status
    /// line says how to open it.
    fn open(&mut self, fleet: &Fleet) -> Option<FleetIntent> {
        let Some(release) = self.selected(fleet) else {
            self.say(false, "no release to open yet");
            return None;
        };
        let label = format!("{} {}", release.name, release.version);
        match fleet.plan_for(release) {
            Some(plan) => {
                self.say(true, format!("opening {label} from {}…", plan.display()));
                Some(FleetIntent::Open {
                    name: release.name.clone(),
                    version: release.version.clone(),
                    plan: plan.to_path_buf(),
                })
            }
            None => {
                self.say(
                    false,
                    format!(
                        "no plan for {label} here (looked in {}): `shipdeck --store postgres open PATH/plan.yaml`, or --plan-dir DIR",
                        fleet.looked_in()
                    ),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::Release;
    use crate::tui::Theme;
    use chrono::{TimeZone, Utc};

    fn release(name: &str, guarded: bool) -> Release {
        let at = Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap();
        Release {
            name: name.into(),
            version: "1.0.0".into(),
            state: Some("BAKING".into()),
            percent: Some(5),
            holder: guarded.then(crate::store::Holder::unknown),
            heartbeat: None,
            last_trip: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn fleet() -> Fleet {
        let mut f = Fleet {
            releases: vec![release("search", false), release("checkout", true)],
            plan_dirs: vec![PathBuf::from("."), PathBuf::from("deploy")],
            ..Fleet::default()
        };
        f.plans.insert(
            ("checkout".into(), "1.0.0".into()),
            PathBuf::from("deploy/checkout.yaml"),
        );
        f
    }

    fn press(s: &mut FleetScreen, fleet: &Fleet, code: KeyCode) -> Option<FleetIntent> {
        s.on_key(KeyEvent::new(code, KeyModifiers::NONE), fleet)
    }

    fn selected(s: &FleetScreen, fleet: &Fleet) -> String {
        s.selected(fleet)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    }

    #[test]
    fn keys_move_open_help_and_quit() {
        let f = fleet();
        let mut s = FleetScreen::new(Theme::dark(), "alice");
        // Guarded releases come first.
        assert_eq!(selected(&s, &f), "checkout");
        for (code, want) in [
            (KeyCode::Char('j'), "search"),
            (KeyCode::Down, "search"),
            (KeyCode::Char('k'), "checkout"),
            (KeyCode::Up, "checkout"),
            (KeyCode::End, "search"),
            (KeyCode::Char('g'), "checkout"),
            (KeyCode::PageDown, "search"),
        ] {
            assert_eq!(press(&mut s, &f, code), None);
            assert_eq!(selected(&s, &f), want, "after {code:?}");
        }

        // No plan here for `search`: the status line says where it looked and what to do.
        assert_eq!(press(&mut s, &f, KeyCode::Enter), None);
        let said = s.status().unwrap();
        assert!(!said.ok);
        assert!(
            said.text
                .contains("no plan for search 1.0.0 here (looked in ., deploy)")
        );
        assert!(said.text.contains("--plan-dir DIR"));

        press(&mut s, &f, KeyCode::Home);
        assert_eq!(
            press(&mut s, &f, KeyCode::Enter),
            Some(FleetIntent::Open {
                name: "checkout".into(),
                version: "1.0.0".into(),
                plan: PathBuf::from("deploy/checkout.yaml"),
            })
        );

        assert_eq!(press(&mut s, &f, KeyCode::Char('?')), None);
        assert!(s.help_open());
        // Any key closes the help, and does nothing else.
        assert_eq!(press(&mut s, &f, KeyCode::Char('q')), None);
        assert!(!s.help_open());
        assert_eq!(
            press(&mut s, &f, KeyCode::Char('q')),
            Some(FleetIntent::Quit)
        );
        assert_eq!(
            s.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), &f),
            Some(FleetIntent::Quit)
        );
    }

    #[test]
    fn below_the_minimum_size_only_q_and_ctrl_c_act() {
        let f = fleet();
        let mut s = FleetScreen::new(Theme::dark(), "alice");
        s.resize(ratatui::layout::Rect::new(0, 0, 40, 12));
        for code in [KeyCode::Char('j'), KeyCode::Enter, KeyCode::Char('?')] {
            assert_eq!(press(&mut s, &f, code), None, "{code:?}");
        }
        assert_eq!(selected(&s, &f), "checkout", "j did not move");
        assert!(!s.help_open());
        assert_eq!(
            press(&mut s, &f, KeyCode::Char('q')),
            Some(FleetIntent::Quit)
        );
        s.resize(ratatui::layout::Rect::new(0, 0, 80, 24));
        press(&mut s, &f, KeyCode::Char('j'));
        assert_eq!(selected(&s, &f), "search", "keys act again at 80×24");
    }

    #[test]
    fn the_cursor_follows_its_release_when_the_list_changes() {
        let mut f = fleet();
        let mut s = FleetScreen::new(Theme::dark(), "alice");
        press(&mut s, &f, KeyCode::Char('j'));
        assert_eq!(selected(&s, &f), "search");
        // `search` gains a holder and moves to the top; the cursor goes with it.
        f.releases[0].holder = Some(crate::store::Holder::unknown());
        f.releases.push(release("billing", true));
        assert_eq!(s.selected(&f).map(|r| r.name.as_str()), Some("search"));
        // It leaves the list: the cursor stays where it was, within the list.
        f.releases.retain(|r| r.name != "search");
        assert_eq!(selected(&s, &f), "checkout");
        f.releases.clear();
        assert_eq!(press(&mut s, &f, KeyCode::Enter), None);
        assert_eq!(s.status().unwrap().text, "no release to open yet");
    }
}
