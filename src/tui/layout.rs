//! tui::layout: where each pane goes for a given terminal size. Pure arithmetic on `Rect`s;
//! never draws and never reads engine state beyond the counts it is given.
//!
//! ```text
//!  header: release, version, strategy, step, state badge, time left, data age, clock
//!  pipeline: [PR ✓]──[CI ✓]──[QA ✓]──[Stage ✓]──[Prod ◐ 25%]
//!  situation: what is happening now and what the operator can do
//!  banner (only when something is loud: flag writes failing, read-only follower)
//! ┌ Health ─────────────────────────────┐┌ Checklist ──────────┐
//! │ one row per series                  ││ a gauge per list,   │  top: health | checklist
//! │                                     ││ the focused list    │
//! └─────────────────────────────────────┘└─────────────────────┘
//! ┌ Rollout ────────────────────────────────────────────────────┐
//! │ step stops, live percent, slider target                     │
//! └─────────────────────────────────────────────────────────────┘
//! ┌ Why ────────────────────────────────────────────────────────┐
//! │ the trip behind the state (only while open: `w`)            │  from the journal's rows
//! └─────────────────────────────────────────────────────────────┘
//! ┌ Journal ────────────────────────────────────────────────────┐
//! │ newest first                                                │  takes what is left
//! └─────────────────────────────────────────────────────────────┘
//!  keys or the answer to the last key
//! ```
//! With a pane zoomed (`z`), that pane takes the whole body.

use ratatui::layout::{Constraint, Layout, Rect};

/// Below this the screen says so instead of drawing garbage.
pub(crate) const MIN_WIDTH: u16 = 80;
pub(crate) const MIN_HEIGHT: u16 = 24;

/// The panes that take focus (`tab`) and zoom (`z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Health,
    Checklist,
    Rollout,
    Journal,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Health, Pane::Checklist, Pane::Rollout, Pane::Journal];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Health => "Health",
            Pane::Checklist => "Checklist",
            Pane::Rollout => "Rollout",
            Pane::Journal => "Journal",
        }
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// Where everything goes. A pane that is not shown (another one is zoomed) has no area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Areas {
    pub header: Rect,
    pub pipeline: Rect,
    pub(crate) situation: Rect,
    pub(crate) banner: Option<Rect>,
    pub health: Option<Rect>,
    pub checklist: Option<Rect>,
    pub rollout: Option<Rect>,
    pub journal: Option<Rect>,
    /// The why pane, while it is open: rows the journal gives up, keeping its newest
    /// entries; the whole journal area when not even that leaves room.
    pub(crate) why: Option<Rect>,
    pub status: Rect,
}

/// Rows the journal keeps below the why pane: its frame and three entries.
const JOURNAL_MIN: u16 = 5;
/// The fewest rows the why pane takes beside the journal: its frame and three lines.
const WHY_MIN: u16 = 5;

pub(crate) fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// The layout for `area`, or `None` when the terminal is below 80×24.
/// `health_rows` is how many lines the health pane would like; the top row grows to show
/// them all when the terminal is tall enough. `why` is how many rows the why pane would
/// like, while it is open.
pub(crate) fn areas(
    area: Rect,
    banner: bool,
    zoom: Option<Pane>,
    health_rows: usize,
    why: Option<usize>,
) -> Option<Areas> {
    if too_small(area) {
        return None;
    }
    let [header, pipeline, situation, banner_area, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(banner)),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut out = Areas {
        header,
        pipeline,
        situation,
        banner: banner.then_some(banner_area),
        health: None,
        checklist: None,
        rollout: None,
        journal: None,
        why: None,
        status,
    };
    if let Some(pane) = zoom {
        match pane {
            Pane::Health => out.health = Some(body),
            Pane::Checklist => out.checklist = Some(body),
            Pane::Rollout => out.rollout = Some(body),
            Pane::Journal => out.journal = Some(body),
        }
        return Some(out);
    }
    let rollout_h: u16 = if body.height >= 30 { 5 } else { 4 };
    // Three journal entries at least: the last decisions matter as much as the panes.
    let journal_min: u16 = 5;
    let wanted = u16::try_from(health_rows)
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let room = body.height.saturating_sub(rollout_h + journal_min);
    let top_h = wanted.max(body.height * 2 / 5).clamp(10, 24).min(room);
    let [top, rollout, journal] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Length(rollout_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    let checklist_w = (top.width * 34 / 100).clamp(30, 56);
    let [health, checklist] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(checklist_w)]).areas(top);
    out.health = Some(health);
    out.checklist = Some(checklist);
    out.rollout = Some(rollout);
    out.journal = Some(journal);
    if let Some(wanted) = why {
        let wanted = u16::try_from(wanted).unwrap_or(u16::MAX).max(WHY_MIN);
        let room = journal.height.saturating_sub(JOURNAL_MIN);
        if room >= WHY_MIN {
            let [why, rest] =
                Layout::vertical([Constraint::Length(wanted.min(room)), Constraint::Fill(1)])
                    .areas(journal);
            out.why = Some(why);
            out.journal = Some(rest);
        } else {
            out.why = Some(journal);
            out.journal = None;
        }
    }
    Some(out)
}

/// Whether the why pane fits above the journal without hiding it: only then does it
/// open by itself.
pub(crate) fn why_fits(area: Rect, banner: bool, health_rows: usize) -> bool {
    areas(area, banner, None, health_rows, Some(usize::from(WHY_MIN)))
        .is_some_and(|a| a.why.is_some() && a.journal.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The screen reads each pane's area by name; the tiling test walks them all.
    impl Areas {
        fn pane(&self, pane: Pane) -> Option<Rect> {
            match pane {
                Pane::Health => self.health,
                Pane::Checklist => self.checklist,
                Pane::Rollout => self.rollout,
                Pane::Journal => self.journal,
            }
        }
    }

    #[test]
    fn below_the_minimum_there_is_no_layout() {
        assert!(areas(Rect::new(0, 0, 79, 24), false, None, 4, None).is_none());
        assert!(areas(Rect::new(0, 0, 80, 23), false, None, 4, None).is_none());
        assert!(areas(Rect::new(0, 0, 80, 24), false, None, 4, None).is_some());
    }

    #[test]
    fn panes_tile_the_body_without_overlap() {
        for (w, h) in [(80, 24), (120, 40), (200, 50), (250, 70)] {
            for banner in [false, true] {
                let a = areas(Rect::new(0, 0, w, h), banner, None, 5, None).unwrap();
                let panes: Vec<Rect> = Pane::ALL.iter().filter_map(|p| a.pane(*p)).collect();
                assert_eq!(panes.len(), 4);
                for (i, p) in panes.iter().enumerate() {
                    assert!(p.height >= 3, "{w}x{h}: {p:?} too short");
                    for q in &panes[i + 1..] {
                        assert!(!p.intersects(*q), "{w}x{h}: {p:?} overlaps {q:?}");
                    }
                }
                let used: u32 = panes
                    .iter()
                    .map(|p| u32::from(p.width) * u32::from(p.height))
                    .sum();
                let body_h = h - 4 - u16::from(banner);
                assert_eq!(used, u32::from(w) * u32::from(body_h), "{w}x{h}");
            }
        }
    }

    #[test]
    fn health_shows_every_series_when_there_is_room() {
        let a = areas(Rect::new(0, 0, 120, 40), false, None, 12, None).unwrap();
        assert!(a.health.unwrap().height >= 14);
    }

    #[test]
    fn zoom_gives_the_pane_the_whole_body() {
        let a = areas(
            Rect::new(0, 0, 100, 30),
            false,
            Some(Pane::Journal),
            4,
            None,
        )
        .unwrap();
        assert_eq!(a.journal, Some(Rect::new(0, 3, 100, 26)));
        assert!(a.health.is_none() && a.rollout.is_none() && a.checklist.is_none());
    }

    #[test]
    fn the_why_pane_takes_rows_from_the_journal_and_leaves_its_newest() {
        let a = areas(Rect::new(0, 0, 120, 40), false, None, 12, Some(8)).unwrap();
        let (why, journal) = (a.why.unwrap(), a.journal.unwrap());
        assert_eq!(why.height, 8);
        assert_eq!(why.bottom(), journal.top());
        assert!(journal.height >= JOURNAL_MIN);
        assert!(!why.intersects(a.rollout.unwrap()) && !why.intersects(a.health.unwrap()));
        assert!(why_fits(Rect::new(0, 0, 120, 40), false, 12));
        // At 80×24 there is no room beside the journal: it does not open by itself, and
        // asked for, it takes the journal's place.
        assert!(!why_fits(Rect::new(0, 0, 80, 24), false, 12));
        let small = areas(Rect::new(0, 0, 80, 24), false, None, 12, Some(8)).unwrap();
        assert!(small.journal.is_none() && small.why.is_some());
    }

    #[test]
    fn focus_cycles_both_ways() {
        for p in Pane::ALL {
            assert_eq!(p.next().prev(), p);
        }
        assert_eq!(Pane::Journal.next(), Pane::Health);
    }
}
