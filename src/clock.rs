//! clock: the engine's time. Live runs at real time; `--clock-start` and `--speed` walk
//! the engine through the past (or a demo) at N× real time. Owns the only `now()` in the
//! program; the engine itself never reads a clock.

use chrono::{DateTime, Utc};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The fastest engine clock: a year in about half a minute. Faster clocks would carry the
/// engine past the last date chrono can hold within days of real time.
pub(crate) const MAX_SPEED: f64 = 1e6;

/// The engine clock. Clones share one pace, so a change of speed (the demo slowing
/// down around what matters) reaches every task reading the clock at once.
#[derive(Debug, Clone)]
pub struct Clock {
    pace: Arc<RwLock<Pace>>,
}

/// Engine time is `origin` at the real instant `origin_real`, running `speed`× from there.
#[derive(Debug, Clone, Copy)]
struct Pace {
    origin_real: Instant,
    origin: DateTime<Utc>,
    speed: f64,
}

impl Pace {
    fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64() * self.speed;
        // Saturates at the last instant chrono holds instead of panicking on overflow.
        chrono::Duration::try_milliseconds((real * 1000.0) as i64)
            .and_then(|d| self.origin.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// A speed the clock can run at: positive and at most [`MAX_SPEED`]; anything else is
/// real time. (`--speed` refuses those with a message; this only keeps the clock sane.)
fn sane(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed.min(MAX_SPEED)
    } else {
        1.0
    }
}

impl Clock {
    /// Real time.
    pub fn live() -> Self {
        Self::starting(Utc::now(), 1.0)
    }

    /// Starts at `origin` and runs `speed` times faster than real time (see [`sane`]).
    pub fn starting(origin: DateTime<Utc>, speed: f64) -> Self {
        Clock {
            pace: Arc::new(RwLock::new(Pace {
                origin_real: Instant::now(),
                origin,
                speed: sane(speed),
            })),
        }
    }

    fn pace(&self) -> Pace {
        // A poisoned lock still holds a whole `Pace` (it is `Copy` and written at once).
        *self.pace.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn speed(&self) -> f64 {
        self.pace().speed
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.pace().now()
    }

    /// Runs at `speed` from now on, for every clone; engine time goes on from where it
    /// is, without a jump.
    pub fn set_speed(&self, speed: f64) {
        let mut pace = self.pace.write().unwrap_or_else(|e| e.into_inner());
        *pace = Pace {
            origin_real: Instant::now(),
            origin: pace.now(),
            speed: sane(speed),
        };
    }

    /// This clock, or, when it reads earlier than `floor`, a clock (of its own) set to
    /// read `floor` now: engine time never runs backwards for a release. The speed stays.
    pub fn not_before(self, floor: DateTime<Utc>) -> Clock {
        if self.now() >= floor {
            return self;
        }
        Clock::starting(floor, self.speed())
    }

    /// Real time until the engine clock reaches `at` (zero if it already has), at the
    /// speed it runs now.
    pub fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let pace = self.pace();
        let ahead = (at - pace.now())
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64;
        // A very slow clock puts a near instant beyond what `Duration` holds: never, then.
        Duration::try_from_secs_f64(ahead / 1e6 / pace.speed).unwrap_or(Duration::MAX)
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

#[cfg(test)]
mod pace_tests {
    use super::*;

    /// A new speed reaches every clone, and engine time goes on without a jump.
    #[test]
    fn a_new_speed_reaches_every_clone_without_a_jump() {
        let start = Utc::now();
        let clock = Clock::starting(start, 1000.0);
        let other = clock.clone();
        std::thread::sleep(Duration::from_millis(20));
        let before = clock.now();
        clock.set_speed(1.0);
        assert_eq!(other.speed(), 1.0);
        let after = other.now();
        assert!(after >= before, "{after} < {before}");
        assert!(after - before < chrono::Duration::milliseconds(500));
        clock.set_speed(f64::NAN);
        assert_eq!(other.speed(), 1.0);
    }
}
