//! engine::history: bounded per-series sample history. Owns memory limits; a 24 h session
//! holds the same number of samples as a 1 h one.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;

/// One sample: `None` is a missing value (no data or an error), never zero.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
}

/// A ring of the newest points of one series, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    points: VecDeque<Point>,
    capacity: usize,
}

impl History {
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        History {
            points: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    /// Adds a point; points older than the newest one are dropped (time never runs back).
    pub fn push(&mut self, point: Point) {
        if let Some(last) = self.points.back_mut() {
            if point.at < last.at {
                return;
            }
            if point.at == last.at {
                *last = point;
                return;
            }
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Point> + ExactSizeIterator {
        self.points.iter()
    }

    pub fn last(&self) -> Option<&Point> {
        self.points.back()
    }

    /// The newest point that carries a value.
    pub fn last_value(&self) -> Option<&Point> {
        self.points.iter().rev().find(|p| p.value.is_some())
    }

    /// Points with `from <= at <= to`, oldest first.
    pub fn window(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = &Point> {
        self.points
            .iter()
            .filter(move |p| p.at >= from && p.at <= to)
    }

    /// Mean of the values in `[from, to]`, if any.
    pub fn mean(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<f64> {
        // A running mean: huge finite values must not sum to infinity.
        let (mean, n) = self
            .window(from, to)
            .filter_map(|p| p.value)
            .fold((0.0f64, 0usize), |(m, n), v| {
                (m + (v - m) / (n + 1) as f64, n + 1)
            });
        (n > 0 && mean.is_finite()).then_some(mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).single().unwrap()
    }

    #[test]
    fn keeps_only_the_newest_points() {
        let mut h = History::with_capacity(3);
        for s in 0..10 {
            h.push(Point {
                at: at(s),
                value: Some(s as f64),
            });
        }
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.iter().map(|p| p.value.unwrap()).collect::<Vec<_>>(),
            [7.0, 8.0, 9.0]
        );
    }

    #[test]
    fn ignores_points_from_the_past_and_replaces_same_instant() {
        let mut h = History::with_capacity(5);
        h.push(Point {
            at: at(10),
            value: Some(1.0),
        });
        h.push(Point {
            at: at(5),
            value: Some(2.0),
        });
        h.push(Point {
            at: at(10),
            value: Some(3.0),
        });
        assert_eq!(h.len(), 1);
        assert_eq!(h.last().unwrap().value, Some(3.0));
    }

    #[test]
    fn mean_skips_missing_values() {
        let mut h = History::with_capacity(5);
        h.push(Point {
            at: at(1),
            value: Some(1.0),
        });
        h.push(Point {
            at: at(2),
            value: None,
        });
        h.push(Point {
            at: at(3),
            value: Some(3.0),
        });
        assert_eq!(h.mean(at(0), at(3)), Some(2.0));
        assert_eq!(h.mean(at(4), at(9)), None);
        assert_eq!(h.last_value().unwrap().at, at(3));
    }
}
