//! tui::alert: what a new guardrail trip does while the war-room view is on screen — the
//! state badge flashes for [`FLASH_FOR`] and the terminal bell is due, once. Pure: it
//! notices a trip in the snapshot and keeps the flash's time from the instants the event
//! loop hands it (it never reads a clock); the loop rings the bell, on the terminal.

use std::time::{Duration, Instant};

use super::settings::WarRoom;
use crate::engine::guardrail::TripId;

/// How long the badge flashes after a trip.
pub const FLASH_FOR: Duration = Duration::from_secs(10);
/// How long the badge stays lit, and then unlit, while it flashes.
const BLINK: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Flash {
    #[default]
    Off,
    /// A trip was seen; the flash starts with the next frame.
    Due,
    /// Flashing since then.
    Since(Instant),
}

/// The alarms of the war-room view.
#[derive(Debug, Clone, Default)]
pub(crate) struct Alert {
    /// The newest trip seen; `None` before the first frame, so the trips a release had
    /// before the screen opened ring nothing.
    seen: Option<Option<TripId>>,
    flash: Flash,
    lit: bool,
    bell: bool,
}

impl Alert {
    /// The snapshot's newest trip is `newest`, with the war-room view on screen or not
    /// (`war_room`): a trip not seen before starts the flash and makes the bell due, as
    /// `settings` allow. Away from the war-room view nothing flashes. Returns whether the
    /// trip is new.
    pub(crate) fn see(
        &mut self,
        newest: Option<TripId>,
        war_room: bool,
        settings: WarRoom,
    ) -> bool {
        let new = newest.is_some() && self.seen.is_some_and(|seen| seen != newest);
        self.seen = Some(newest);
        if !war_room {
            self.flash = Flash::Off;
            self.lit = false;
        } else if new {
            if settings.flash {
                self.flash = Flash::Due;
            }
            self.bell |= settings.bell;
        }
        new
    }

    /// A frame is drawn at `now`: a due flash starts, a running one blinks or ends.
    /// Returns when the badge next changes, for the loop to draw again then.
    pub(crate) fn tick(&mut self, now: Instant) -> Option<Instant> {
        let since = match self.flash {
            Flash::Off => return None,
            Flash::Due => {
                self.flash = Flash::Since(now);
                now
            }
            Flash::Since(t) => t,
        };
        let gone = now.saturating_duration_since(since);
        if gone >= FLASH_FOR {
            self.flash = Flash::Off;
            self.lit = false;
            return None;
        }
        let blinks = gone.as_millis() / BLINK.as_millis();
        self.lit = blinks.is_multiple_of(2);
        let next = u32::try_from(blinks + 1).unwrap_or(u32::MAX);
        Some(since + BLINK.saturating_mul(next))
    }

    /// Whether a flash waits for its first frame.
    pub(crate) fn due(&self) -> bool {
        self.flash == Flash::Due
    }

    /// Whether the badge is lit (drawn the other way round) in this frame.
    pub(crate) fn lit(&self) -> bool {
        self.lit
    }

    /// Whether the bell is to ring now; it is due once per trip.
    pub(crate) fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn trip(s: i64) -> Option<TripId> {
        Some(TripId {
            rule: 0,
            at: Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap(),
        })
    }

    #[test]
    fn a_new_trip_rings_once_and_flashes_for_a_while() {
        let on = WarRoom::default();
        let mut a = Alert::default();
        // What tripped before the screen opened rings nothing.
        a.see(trip(0), true, on);
        assert!(!a.take_bell() && !a.due());
        // Every frame sees the snapshot: the same trip again is not new.
        a.see(trip(15), true, on);
        a.see(trip(15), true, on);
        assert!(a.take_bell(), "a new trip rings");
        assert!(!a.take_bell(), "once");
        assert!(a.due());
        let t0 = Instant::now();
        assert_eq!(a.tick(t0), Some(t0 + BLINK));
        assert!(a.lit());
        assert_eq!(a.tick(t0 + BLINK), Some(t0 + BLINK * 2));
        assert!(!a.lit());
        a.see(trip(15), true, on);
        assert!(!a.take_bell(), "no ring on later frames");
        assert_eq!(a.tick(t0 + FLASH_FOR), None, "the flash ends");
        assert!(!a.lit());
    }

    #[test]
    fn settings_and_the_view_decide() {
        let mut a = Alert::default();
        let quiet = WarRoom {
            flash: true,
            bell: false,
        };
        a.see(None, true, quiet);
        a.see(trip(1), true, quiet);
        assert!(!a.take_bell() && a.due());
        let still = WarRoom {
            flash: false,
            bell: true,
        };
        let mut a = Alert::default();
        a.see(None, true, still);
        a.see(trip(1), true, still);
        assert!(a.take_bell() && !a.due());
        // Away from the war-room view a trip neither rings nor flashes, and is not kept
        // for later.
        let mut a = Alert::default();
        a.see(None, false, WarRoom::default());
        a.see(trip(1), false, WarRoom::default());
        assert!(!a.take_bell() && !a.due());
        a.see(trip(1), true, WarRoom::default());
        assert!(!a.take_bell());
    }
}
