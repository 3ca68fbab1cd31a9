//! tui::fleet: the fleet screen — every release in the database as one list, for the
//! incident commander's first question, "what is rolling out right now?". Owns the
//! list's UI state, its keys (`keys`), its drawing (`draw`) and its event loop (`run`);
//! never reads the database or a plan itself: the front-end's loader does, off the
//! screen's task, and hands each reading over as a [`Fleet`].

mod draw;
mod keys;
mod run;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Theme;
use super::status::{Status, StatusLine};
use crate::engine::Phase;
use crate::store::postgres::Release;
use crate::support::fmt;

pub use draw::render;
pub use keys::FleetIntent;
pub use run::{FleetEnding, fleet_loop};

/// What the fleet screen shows, as the loader last read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    /// The releases, in the store's order (the screen sorts them its own way).
    pub releases: Vec<Release>,
    /// When the list was last read; `None` before the first reading.
    pub read_at: Option<DateTime<Utc>>,
    /// Why the last reading failed, when it did: the list is then the one of `read_at`.
    pub error: Option<String>,
    /// The plans found on this machine, by release name and version.
    pub plans: BTreeMap<(String, String), PathBuf>,
    /// Where plans were looked for, for the message when one is missing.
    pub plan_dirs: Vec<PathBuf>,
    /// The database, as messages may show it (never its password).
    pub database: String,
}

impl Fleet {
    /// The releases in the screen's order: those a controller guards first, then by name
    /// and version. A steady order: the store's (newest activity first) reshuffles live
    /// releases every second, under the cursor.
    pub fn rows(&self) -> Vec<&Release> {
        let mut rows: Vec<&Release> = self.releases.iter().collect();
        rows.sort_by(|a, b| {
            (a.holder.is_none(), &a.name, &a.version).cmp(&(
                b.holder.is_none(),
                &b.name,
                &b.version,
            ))
        });
        rows
    }

    /// The plan on this machine for `release`, if one was found.
    pub fn plan_for(&self, release: &Release) -> Option<&Path> {
        self.plans
            .get(&(release.name.clone(), release.version.clone()))
            .map(PathBuf::as_path)
    }

    /// `., deploy`: where plans were looked for.
    fn looked_in(&self) -> String {
        self.plan_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The fleet screen's state between frames: the selected release (kept by name and
/// version, so it stays put when the list changes), the help popup, the status line.
#[derive(Debug, Clone)]
pub struct FleetScreen {
    theme: Theme,
    operator: String,
    selected: Option<(String, String)>,
    /// Where the cursor was, for when the selected release leaves the list.
    index: usize,
    help: bool,
    status: StatusLine,
    /// The terminal's size as last drawn or resized: below the minimum, keys wait.
    area: Option<Rect>,
}

impl FleetScreen {
    pub fn new(theme: Theme, operator: &str) -> FleetScreen {
        FleetScreen {
            theme,
            operator: operator.to_string(),
            selected: None,
            index: 0,
            help: false,
            status: StatusLine::default(),
            area: None,
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The terminal's size, as drawn or as a resize reported it.
    pub fn resize(&mut self, area: Rect) {
        self.area = Some(area);
    }

    /// Whether the screen shows "terminal too small": then only quitting acts.
    fn too_small(&self) -> bool {
        self.area.is_some_and(super::layout::too_small)
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.get()
    }

    /// A frame is drawn at `now`: the status line's answer fades ten seconds after it
    /// was first shown.
    pub fn fade_status(&mut self, now: std::time::Instant) {
        self.status.fade(now);
    }

    /// Shows `text` in the status line: a good outcome (`ok`) or a refusal and why.
    pub fn say(&mut self, ok: bool, text: impl Into<String>) {
        self.status.set(ok, text);
    }

    /// The row under the cursor in `rows`.
    pub fn cursor(&self, rows: &[&Release]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        let found = self.selected.as_ref().and_then(|(name, version)| {
            rows.iter()
                .position(|r| &r.name == name && &r.version == version)
        });
        Some(found.unwrap_or(self.index.min(rows.len() - 1)))
    }

    /// The release under the cursor.
    pub fn selected<'f>(&self, fleet: &'f Fleet) -> Option<&'f Release> {
        let rows = fleet.rows();
        self.cursor(&rows).map(|i| rows[i])
    }

    fn select(&mut self, rows: &[&Release], i: usize) {
        if let Some(r) = rows.get(i) {
            self.selected = Some((r.name.clone(), r.version.clone()));
            self.index = i;
        }
    }
}

/// The fleet's row for `r` as text, in the columns of [`HEADER`]: the screen and
/// `shipdeck releases` print the same words.
pub fn cells(r: &Release, now: DateTime<Utc>) -> [String; 8] {
    [
        r.name.clone(),
        r.version.clone(),
        r.state.clone().unwrap_or_else(|| NOT_STARTED.into()),
        r.percent
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "–".into()),
        r.holder
            .as_ref()
            .map(crate::control::describe_holder)
            .unwrap_or_else(|| "nobody".into()),
        r.heartbeat
            .map(|t| ago(now, t))
            .unwrap_or_else(|| "–".into()),
        r.last_trip.clone().unwrap_or_else(|| "–".into()),
        since(now, r.created_at),
    ]
}

/// The fleet's columns.
pub const HEADER: [&str; 8] = [
    "RELEASE",
    "VERSION",
    "STATE",
    "PERCENT",
    "HOLDER",
    "HEARTBEAT",
    "LAST TRIP",
    "AGE",
];

/// The state of a release that has none stored yet.
const NOT_STARTED: &str = "NOT STARTED";

/// `12s ago`.
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    since(now, t) + " ago"
}

/// The time from `t` to `now` in whole seconds (a heartbeat's milliseconds are noise);
/// none when `t` is ahead (another machine's clock).
fn since(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    fmt::secs((now - t).num_seconds())
}

/// The phase a stored state badge names, so the list draws it as the release screen does
/// (glyph and colour). The store keeps the badge, not the phase; the phases built here
/// carry only what the badge says.
fn phase_of(badge: &str) -> Option<Phase> {
    Phase::each().into_iter().find(|p| p.badge() == badge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_badge_names_its_phase() {
        for badge in [
            "READY",
            "BAKING",
            "AWAITING APPROVAL",
            "PAUSED",
            "ROLLING BACK",
            "ROLLED BACK",
            "WATCHING",
            "COMPLETED",
        ] {
            assert_eq!(phase_of(badge).map(|p| p.badge()), Some(badge));
        }
        assert_eq!(phase_of(NOT_STARTED), None);
    }
}
