//! clock: the engine's time. Live runs at real time; `--clock-start` and `--speed` walk
//! the engine through the past (or a demo) at N× real time. Owns the only `now()` in the
//! program; the engine itself never reads a clock.

use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// The fastest engine clock: a year in about half a minute. Faster clocks would carry the
/// engine past the last date chrono can hold within days of real time.
pub(crate) const MAX_SPEED: f64 = 1e6;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin_real: Instant,
    origin: DateTime<Utc>,
    speed: f64,
}

impl Clock {
    /// Real time.
    pub fn live() -> Self {
        Self::starting(Utc::now(), 1.0)
    }

    /// Starts at `origin` and runs `speed` times faster than real time, at most
    /// [`MAX_SPEED`]; a speed that is not a positive number means real time. (`--speed`
    /// refuses those with a message; this only keeps the clock sane whatever it is given.)
    pub fn starting(origin: DateTime<Utc>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed.min(MAX_SPEED)
        } else {
            1.0
        };
        Clock {
            origin_real: Instant::now(),
            origin,
            speed,
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64() * self.speed;
        // Saturates at the last instant chrono holds instead of panicking on overflow.
        chrono::Duration::try_milliseconds((real * 1000.0) as i64)
            .and_then(|d| self.origin.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// This clock, or, when it reads earlier than `floor`, the same clock set to read
    /// `floor` now: engine time never runs backwards for a release. The speed stays.
    pub fn not_before(self, floor: DateTime<Utc>) -> Clock {
        if self.now() >= floor {
            return self;
        }
        Clock {
            origin_real: Instant::now(),
            origin: floor,
            speed: self.speed,
        }
    }

    /// Real time until the engine clock reaches `at` (zero if it already has).
    pub fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let ahead = (at - self.now())
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64;
        // A very slow clock puts a near instant beyond what `Duration` holds: never, then.
        Duration::try_from_secs_f64(ahead / 1e6 / self.speed).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_at_its_speed() {
        let start = Utc::now() - chrono::Duration::days(3);
        let c = Clock::starting(start, 3600.0);
        std::thread::sleep(Duration::from_millis(20));
        let elapsed = (c.now() - start).num_seconds();
        assert!(
            elapsed >= 72,
            "20 ms at 3600× is at least 72 s, got {elapsed}"
        );
        assert_eq!(c.real_until(start), Duration::ZERO);
        assert!(c.real_until(c.now() + chrono::Duration::hours(1)) <= Duration::from_secs(1));
    }

    #[test]
    fn extreme_speeds_never_panic() {
        let slow = Clock::starting(Utc::now(), 1e-30);
        assert_eq!(
            slow.real_until(slow.now() + chrono::Duration::seconds(15)),
            Duration::MAX
        );
        let fast = Clock::starting(Utc::now(), 1e300);
        assert_eq!(fast.speed(), MAX_SPEED);
        std::thread::sleep(Duration::from_millis(5));
        assert!(fast.now() > Utc::now());
        let end = Clock::starting(DateTime::<Utc>::MAX_UTC, MAX_SPEED);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(end.now(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_clock_behind_the_floor_starts_at_it_and_keeps_its_speed() {
        let floor = Utc::now() + chrono::Duration::hours(5);
        let moved = Clock::starting(Utc::now(), 600.0).not_before(floor);
        assert!(moved.now() >= floor);
        assert!(moved.now() < floor + chrono::Duration::minutes(10));
        assert_eq!(moved.speed(), 600.0);
        let ahead = Clock::starting(floor + chrono::Duration::hours(1), 1.0);
        assert!(ahead.not_before(floor).now() >= floor + chrono::Duration::hours(1));
    }

    #[test]
    fn a_bad_speed_falls_back_to_real_time() {
        assert_eq!(Clock::starting(Utc::now(), 0.0).speed(), 1.0);
        assert_eq!(Clock::starting(Utc::now(), f64::NAN).speed(), 1.0);
    }
}
