//! plan::units: the value syntaxes a plan is written in — durations (`30s`, `1d`, `1h30m`),
//! ratios (`1%`, `0.01`), latencies (`2s`, `300ms`) and multiples (`3x`) — and the compact
//! rendering of numbers (durations render in `support::fmt`). Pure string functions; they
//! never see YAML or locations.
//!
//! Errors are plain sentences without a location: the caller knows where the value was.

use std::time::Duration;

/// The longest duration a plan may name. Far beyond any real bake or watch, and small enough
/// that adding it to an engine timestamp can never overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `30s`, `15m`, `2h`, `1d`, `500ms`, `1h30m`, `1h 30m`, `0`. A bare number other than 0 is
/// refused: `30` could be seconds or minutes, and a guess would be a 3 a.m. surprise.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration; write it like `30s`, `15m`, `2h` or `1d`".to_string());
    }
    if let Some(n) = parse_number(t) {
        if n == 0.0 {
            return Ok(Duration::ZERO);
        }
        return Err(format!(
            "duration `{t}` has no unit; write `{t}s`, `{t}m`, `{t}h` or `{t}d`"
        ));
    }
    let d = humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::UnknownUnit { unit, .. } => format!(
            "`{t}` has an unknown unit `{unit}`; use ms, s, m, h, d or w, like `30s` or `1h30m`"
        ),
        humantime::DurationError::NumberOverflow => {
            format!("duration `{t}` is longer than 10 years")
        }
        _ => format!("`{t}` is not a duration; write it like `30s`, `15m`, `2h`, `1d` or `1h30m`"),
    })?;
    if d > MAX_DURATION {
        return Err(format!("duration `{t}` is longer than 10 years"));
    }
    Ok(d)
}

/// `1%` → 0.01, `0.01` → 0.01, `1` → 1.0. Must lie in 0..=1 (100%).
pub fn parse_ratio(s: &str) -> Result<f64, String> {
    let r = parse_ratio_unbounded(s)?;
    if r > 1.0 {
        let t = s.trim();
        let hint = if t.ends_with('%') {
            String::new()
        } else {
            format!("; for {t} percent write `{t}%`")
        };
        return Err(format!("ratio `{t}` is above 100%{hint}"));
    }
    Ok(r)
}

/// Like [`parse_ratio`] but without the upper bound, for changes that may exceed 100%
/// (a latency degradation of `150%`). Still finite and never negative.
pub fn parse_ratio_unbounded(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim_end(), 100.0),
        None => (t, 1.0),
    };
    let v = parse_number(number).ok_or_else(|| {
        format!("`{t}` is not a ratio; write a percentage like `1%` or a fraction like `0.01`")
    })? / scale;
    if v < 0.0 {
        return Err(format!("ratio `{t}` is negative"));
    }
    Ok(v)
}

/// `2s` → 2.0, `300ms` → 0.3, `1.5s`, `1m`; a bare number is seconds. Result in seconds.
pub fn parse_latency(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let bad = || format!("`{t}` is not a latency; write it like `2s`, `1.5s` or `300ms`");
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-' || c == 'e'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let v = parse_number(number).ok_or_else(bad)? * scale;
    if v < 0.0 {
        return Err(format!("latency `{t}` is negative"));
    }
    // A finite number times its unit can still overflow (`1e308h`).
    if !v.is_finite() {
        return Err(format!("latency `{t}` is too large to be a latency"));
    }
    Ok(v)
}

/// `3x` → 3.0 (also `3X`, `3×`, and a bare `3`). Must be above zero.
pub fn parse_multiple(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let number = t
        .strip_suffix(['x', 'X', '×'])
        .map(str::trim_end)
        .unwrap_or(t);
    let v = parse_number(number)
        .ok_or_else(|| format!("`{t}` is not a multiple; write it like `3x` or `1.5x`"))?;
    if v <= 0.0 {
        return Err(format!("multiple `{t}` must be above zero"));
    }
    Ok(v)
}

/// A finite decimal number, nothing else (no `inf`, no `nan`, no hex).
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'));
    if !plain {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A ratio as a percentage without noise: 0.01 → `1%`, 0.005 → `0.5%`, 0.9 → `90%`.
pub(crate) fn format_percent(ratio: f64) -> String {
    format!("{}%", format_number(ratio * 100.0))
}

/// Seconds as a latency: 2.0 → `2s`, 0.3 → `300ms`, 1.5 → `1.5s`.
pub(crate) fn format_latency(seconds: f64) -> String {
    if seconds != 0.0 && seconds.abs() < 1.0 {
        format!("{}ms", format_number(seconds * 1000.0))
    } else {
        format!("{}s", format_number(seconds))
    }
}

/// Up to three decimals, trailing zeros dropped: 3.0 → `3`, 0.125 → `0.125`, 1/3 → `0.333`.
pub(crate) fn format_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::fmt::duration;
    use proptest::prelude::*;

    #[test]
    fn durations_in_the_plan_syntax() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 1h 30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_refused_with_a_reason() {
        assert!(parse_duration("30").unwrap_err().contains("`30s`"));
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("1D")
                .unwrap_err()
                .contains("unknown unit `D`")
        );
        assert!(parse_duration("4000d").unwrap_err().contains("10 years"));
        assert!(parse_duration("-5m").is_err());
    }

    #[test]
    fn ratios_as_percent_or_fraction() {
        assert_eq!(parse_ratio("1%"), Ok(0.01));
        assert_eq!(parse_ratio("0.01"), Ok(0.01));
        assert_eq!(parse_ratio("90 %"), Ok(0.9));
        assert_eq!(parse_ratio("100%"), Ok(1.0));
        assert_eq!(parse_ratio("0"), Ok(0.0));
        assert!(parse_ratio("5").unwrap_err().contains("`5%`"));
        assert!(parse_ratio("120%").unwrap_err().contains("above 100%"));
        assert!(parse_ratio("-1%").unwrap_err().contains("negative"));
        assert!(parse_ratio("lots").is_err());
        assert!(parse_ratio("nan").is_err());
        assert!(parse_ratio("inf%").is_err());
        assert_eq!(parse_ratio_unbounded("150%"), Ok(1.5));
    }

    #[test]
    fn latencies_in_seconds() {
        assert_eq!(parse_latency("2s"), Ok(2.0));
        assert!((parse_latency("300ms").unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(parse_latency("1.5s"), Ok(1.5));
        assert_eq!(parse_latency("0.25"), Ok(0.25));
        assert_eq!(parse_latency("1m"), Ok(60.0));
        assert!(parse_latency("2 parsecs").is_err());
        assert!(parse_latency("fast").is_err());
        assert!(parse_latency("ms").is_err());
        assert!(parse_latency("1e308h").unwrap_err().contains("too large"));
    }

    #[test]
    fn multiples() {
        assert_eq!(parse_multiple("3x"), Ok(3.0));
        assert_eq!(parse_multiple("1.5X"), Ok(1.5));
        assert_eq!(parse_multiple("2×"), Ok(2.0));
        assert_eq!(parse_multiple("3"), Ok(3.0));
        assert!(parse_multiple("0x").unwrap_err().contains("above zero"));
        assert!(parse_multiple("triple").is_err());
        assert!(parse_multiple("x").is_err());
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(format_percent(0.01), "1%");
        assert_eq!(format_percent(0.005), "0.5%");
        assert_eq!(format_latency(2.0), "2s");
        assert_eq!(format_latency(0.3), "300ms");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.0001), "0");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = parse_duration(&s);
            let _ = parse_ratio(&s);
            let _ = parse_latency(&s);
            let _ = parse_multiple(&s);
        }

        #[test]
        fn ratio_results_are_in_range(s in "[-+0-9.e%x ]{0,12}") {
            if let Ok(r) = parse_ratio(&s) {
                prop_assert!((0.0..=1.0).contains(&r));
            }
        }

        #[test]
        fn percent_and_fraction_agree(p in 0u32..=10_000) {
            let pct = f64::from(p) / 100.0;
            let a = parse_ratio(&format!("{pct}%")).unwrap();
            let b = parse_ratio(&format!("{}", pct / 100.0)).unwrap();
            prop_assert!((a - b).abs() < 1e-12);
        }

        #[test]
        fn format_then_parse_round_trips_two_units(
            hi in 0u64..400, lo in 0u64..60, unit in 0usize..3
        ) {
            // Two adjacent units are exactly what the compact rendering keeps.
            let (big, small, limit) = [(86_400, 3_600, 400), (3_600, 60, 24), (60, 1, 60)][unit];
            // Neither part may carry into the next unit up.
            let (hi, lo) = (hi % limit, lo % (big / small));
            let d = Duration::from_secs(hi * big + lo * small);
            let text = duration(d);
            prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
        }

        #[test]
        fn format_never_overstates(secs in 0u64..10_000_000, ms in 0u32..1000) {
            let d = Duration::from_secs(secs) + Duration::from_millis(u64::from(ms));
            let text = duration(d);
            let back = parse_duration(&text).unwrap();
            prop_assert!(back <= d, "{} -> {:?} > {:?}", text, back, d);
            prop_assert!(!text.is_empty());
        }

        #[test]
        fn latency_ms_and_s_agree(ms in 0u32..100_000) {
            let a = parse_latency(&format!("{ms}ms")).unwrap();
            let b = parse_latency(&format!("{}s", f64::from(ms) / 1000.0)).unwrap();
            prop_assert!((a - b).abs() < 1e-9);
        }
    }
}
