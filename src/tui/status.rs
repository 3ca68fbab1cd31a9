//! tui::status: the bottom line's answer to the last key (or the controller's answer to a
//! command) and how long it stays. Pure: the event loop says when a frame is drawn; this
//! never reads a clock.

use std::time::{Duration, Instant};

/// How long an answer stays in the bottom line before the key hints come back.
pub const STATUS_FOR: Duration = Duration::from_secs(10);

/// The answer to the last key, shown in the bottom line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    pub text: String,
}

impl Status {
    /// The answer as the bottom line draws it: ✓ or ✗, its text cut to `width`.
    pub(crate) fn line(&self, theme: &super::Theme, width: usize) -> ratatui::text::Line<'static> {
        let (mark, style) = if self.ok {
            ('✓', theme.status_ok)
        } else {
            ('✗', theme.status_error)
        };
        ratatui::text::Line::styled(super::fit(&format!(" {mark} {}", self.text), width), style)
    }
}

/// The bottom line's answer and when it was first drawn: it fades [`STATUS_FOR`] later,
/// so an old "✓ promote approved" does not stand in for the key hints for minutes.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusLine {
    current: Option<Status>,
    shown_at: Option<Instant>,
}

impl StatusLine {
    pub(crate) fn get(&self) -> Option<&Status> {
        self.current.as_ref()
    }

    /// A new answer; its time starts when it is first drawn.
    pub(crate) fn set(&mut self, ok: bool, text: impl Into<String>) {
        self.current = Some(Status {
            ok,
            text: text.into(),
        });
        self.shown_at = None;
    }

    pub(crate) fn clear(&mut self) {
        self.current = None;
        self.shown_at = None;
    }

    /// A frame is drawn at `now`: a new answer's time starts, and one shown for
    /// [`STATUS_FOR`] is dropped. Returns when the answer on the line will fade, for the
    /// loop to draw again then.
    pub(crate) fn fade(&mut self, now: Instant) -> Option<Instant> {
        self.current.as_ref()?;
        let shown = *self.shown_at.get_or_insert(now);
        let until = shown + STATUS_FOR;
        if now >= until {
            self.clear();
            return None;
        }
        Some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_fades_ten_seconds_after_it_is_first_drawn() {
        let t0 = Instant::now();
        let mut line = StatusLine::default();
        assert_eq!(line.fade(t0), None, "nothing to fade");
        line.set(true, "promote approved");
        // Set long before it is drawn: its time starts at the first frame.
        let drawn = t0 + Duration::from_secs(30);
        assert_eq!(line.fade(drawn), Some(drawn + STATUS_FOR));
        assert_eq!(
            line.fade(drawn + Duration::from_secs(9)),
            Some(drawn + STATUS_FOR)
        );
        assert!(line.get().is_some());
        assert_eq!(line.fade(drawn + STATUS_FOR), None);
        assert!(line.get().is_none(), "faded");

        // The same words again are a new answer, with their own ten seconds.
        line.set(false, "no guardrail has fired in this release");
        let again = drawn + Duration::from_secs(40);
        line.fade(again);
        line.set(false, "no guardrail has fired in this release");
        let later = again + Duration::from_secs(8);
        assert_eq!(line.fade(later), Some(later + STATUS_FOR));
    }
}
