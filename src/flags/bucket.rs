//! flags::bucket: which users a flag reaches. Owns the bucketing that real SDKs compute
//! (Unleash's gradual rollout, flagd's `fractional`) and the reference evaluation order;
//! never reads or writes a backend.

use std::io::Cursor;

use serde::Serialize;

use crate::engine::values::FlagState;

/// murmur3 x86_32, seed 0, the hash both Unleash and flagd bucket with.
fn murmur3_x86_32(key: &str) -> u32 {
    // Reading from an in-memory cursor cannot fail; the crate only returns `Result`
    // because it accepts any `Read`.
    murmur3::murmur3_32(&mut Cursor::new(key.as_bytes()), 0).unwrap_or_default()
}

/// Unleash's gradual-rollout bucket of `user` for `flag`: murmur3 of `"<flag>:<user>"`,
/// `hash % 100 + 1`, so always in `1..=100`. A user is in when `bucket <= percent`.
pub fn unleash_bucket(flag: &str, user: &str) -> u8 {
    let hash = murmur3_x86_32(&format!("{flag}:{user}"));
    // `hash % 100` is below 100, so the sum always fits a u8.
    (hash % 100) as u8 + 1
}

/// flagd's `fractional` choice among weighted variants for `bucket_key`: murmur3 of the
/// key scaled onto the total weight (`hash * total >> 32`), then the first variant whose
/// cumulative weight exceeds it. `None` when there is no weight at all.
pub fn fractional<'a>(bucket_key: &str, variants: &[(&'a str, u32)]) -> Option<&'a str> {
    let total: u64 = variants.iter().map(|(_, weight)| u64::from(*weight)).sum();
    if total == 0 {
        return None;
    }
    let bucket = fractional_bucket(bucket_key, total);
    let mut cumulative = 0u64;
    variants.iter().find_map(|(variant, weight)| {
        cumulative += u64::from(*weight);
        (bucket < cumulative).then_some(*variant)
    })
}

/// flagd's bucket for `bucket_key` out of `total` (`0..total`).
fn fractional_bucket(bucket_key: &str, total: u64) -> u64 {
    (u64::from(murmur3_x86_32(bucket_key)) * total) >> 32
}

/// flagd's default bucketing key for `fractional` with no explicit key: the flag key
/// followed by the evaluation context's `targetingKey`, with nothing in between.
pub fn flagd_bucket_key(flag: &str, targeting_key: &str) -> String {
    format!("{flag}{targeting_key}")
}

/// Why one user does or does not get one flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub flag: String,
    pub user: String,
    pub enabled: bool,
    /// The user's bucket, 1..=100, shown even when the bucket did not decide.
    pub bucket: u8,
    pub reason: Reason,
    /// What the backend does differently from this evaluation, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Evaluation {
    /// `bucket 21 > rollout 10%`, `flag disabled; bucket 86`: what decided, and the
    /// bucket when that was not it.
    pub fn why(&self) -> String {
        let mut why = self.reason.to_string();
        if !matches!(self.reason, Reason::Rollout { .. }) {
            why.push_str(&format!("; bucket {}", self.bucket));
        }
        if let Some(note) = &self.note {
            why.push_str(&format!("; note: {note}"));
        }
        why
    }
}

/// What decided an evaluation, in the reference order. Serialized as its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NotFound,
    Disabled,
    InGroup(String),
    /// The bucket against the rollout: in when `bucket <= percent`.
    Rollout {
        bucket: u8,
        percent: u8,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NotFound => write!(f, "flag not found"),
            Reason::Disabled => write!(f, "flag disabled"),
            Reason::InGroup(group) => write!(f, "in group {group}"),
            Reason::Rollout { bucket, percent } if bucket <= percent => {
                write!(f, "bucket {bucket} <= rollout {percent}%")
            }
            Reason::Rollout { bucket, percent } => {
                write!(f, "bucket {bucket} > rollout {percent}%")
            }
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The reference flag semantics with Unleash's bucketing: a disabled or missing
/// flag is off; a user in one of the flag's groups is in; otherwise the bucket decides.
pub fn evaluate(
    flag_name: &str,
    state: Option<&FlagState>,
    user: &str,
    groups: &[String],
) -> Evaluation {
    let bucket = unleash_bucket(flag_name, user);
    decide(flag_name, state, user, groups, bucket)
}

/// The same decision with flagd's bucketing, as a flagd flag written by
/// [`crate::flags::FlagdBackend`] resolves: `fractional` over `[["on", P], ["off", 100 - P]]`
/// keyed by flag key + targeting key. The bucket is reported 1..=100 like Unleash's, so
/// "in" is still `bucket <= percent`.
pub fn evaluate_flagd(
    flag_name: &str,
    state: Option<&FlagState>,
    user: &str,
    groups: &[String],
) -> Evaluation {
    let zero_based = fractional_bucket(&flagd_bucket_key(flag_name, user), 100);
    // `zero_based` is below 100 by construction.
    let bucket = zero_based as u8 + 1;
    decide(flag_name, state, user, groups, bucket)
}

fn decide(
    flag_name: &str,
    state: Option<&FlagState>,
    user: &str,
    groups: &[String],
    bucket: u8,
) -> Evaluation {
    let verdict = |enabled: bool, reason: Reason| Evaluation {
        flag: flag_name.to_string(),
        user: user.to_string(),
        enabled,
        bucket,
        reason,
        note: None,
    };
    let Some(state) = state else {
        return verdict(false, Reason::NotFound);
    };
    if !state.enabled {
        return verdict(false, Reason::Disabled);
    }
    if let Some(group) = groups.iter().find(|group| state.groups.contains(group)) {
        return verdict(true, Reason::InGroup(group.clone()));
    }
    let percent = state.percent();
    verdict(bucket <= percent, Reason::Rollout { bucket, percent })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::plan::FlagKind;

    fn flag(enabled: bool, percent: u8, groups: &[&str]) -> FlagState {
        FlagState {
            enabled,
            rollout: f64::from(percent) / 100.0,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            kind: FlagKind::Release,
        }
    }

    #[test]
    fn unleash_vectors() {
        assert_eq!(
            murmur3_x86_32("release.new-checkout:user-42"),
            4_159_476_791
        );
        assert_eq!(unleash_bucket("release.new-checkout", "user-42"), 92);
        assert_eq!(murmur3_x86_32("gr1:123"), 538_421_172);
        assert_eq!(unleash_bucket("gr1", "123"), 73);
    }

    #[test]
    fn evaluation_reasons_follow_the_reference_order() {
        let groups = vec!["beta-testers".to_string()];
        let missing = evaluate("gr1", None, "123", &groups);
        assert!(!missing.enabled);
        assert_eq!(missing.reason.to_string(), "flag not found");

        let off = flag(false, 100, &["beta-testers"]);
        let e = evaluate("gr1", Some(&off), "123", &groups);
        assert!(!e.enabled);
        assert_eq!(e.reason.to_string(), "flag disabled");

        let grouped = flag(true, 0, &["internal", "beta-testers"]);
        let e = evaluate("gr1", Some(&grouped), "123", &groups);
        assert!(e.enabled);
        assert_eq!(e.reason.to_string(), "in group beta-testers");

        // gr1:123 is bucket 73.
        let e = evaluate("gr1", Some(&flag(true, 73, &[])), "123", &[]);
        assert!(e.enabled);
        assert_eq!(e.bucket, 73);
        assert_eq!(e.reason.to_string(), "bucket 73 <= rollout 73%");
        let e = evaluate("gr1", Some(&flag(true, 72, &[])), "123", &[]);
        assert!(!e.enabled);
        assert_eq!(e.reason.to_string(), "bucket 73 > rollout 72%");
    }

    #[test]
    fn the_bucket_is_said_once() {
        // gr1:123 is bucket 73.
        let e = evaluate("gr1", Some(&flag(true, 10, &[])), "123", &[]);
        assert_eq!(e.why(), "bucket 73 > rollout 10%");
        let e = evaluate("gr1", Some(&flag(false, 10, &[])), "123", &[]);
        assert_eq!(e.why(), "flag disabled; bucket 73");
        let e = evaluate(
            "gr1",
            Some(&flag(true, 0, &["ops"])),
            "123",
            &["ops".into()],
        );
        assert_eq!(e.why(), "in group ops; bucket 73");
    }

    #[test]
    fn evaluation_serializes_with_its_field_names() {
        let e = evaluate("gr1", Some(&flag(true, 50, &[])), "123", &[]);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["flag"], "gr1");
        assert_eq!(json["user"], "123");
        assert_eq!(json["bucket"], 73);
        assert_eq!(json["enabled"], false);
        assert_eq!(json["reason"], "bucket 73 > rollout 50%");
        assert!(json.get("note").is_none());
    }

    #[test]
    fn fractional_splits_by_cumulative_weight() {
        assert_eq!(fractional("anything", &[]), None);
        assert_eq!(fractional("anything", &[("on", 0), ("off", 0)]), None);
        assert_eq!(
            fractional("anything", &[("on", 100), ("off", 0)]),
            Some("on")
        );
        assert_eq!(
            fractional("anything", &[("on", 0), ("off", 100)]),
            Some("off")
        );
        // The choice is the bucket compared with the running sum of weights.
        let key = flagd_bucket_key("new_checkout", "user-1");
        let bucket = fractional_bucket(&key, 100);
        let expected = if bucket < 30 { "a" } else { "b" };
        assert_eq!(fractional(&key, &[("a", 30), ("b", 70)]), Some(expected));
    }

    #[test]
    fn flagd_key_is_flag_then_targeting_key() {
        assert_eq!(
            flagd_bucket_key("new_checkout", "user-42"),
            "new_checkoutuser-42"
        );
    }

    #[test]
    fn flagd_evaluation_agrees_with_fractional() {
        for i in 0..200 {
            let user = format!("user-{i}");
            let state = flag(true, 40, &[]);
            let e = evaluate_flagd("new_checkout", Some(&state), &user, &[]);
            let chosen = fractional(
                &flagd_bucket_key("new_checkout", &user),
                &[("on", 40), ("off", 60)],
            );
            assert_eq!(e.enabled, chosen == Some("on"), "user {user}");
        }
    }

    proptest! {
        #[test]
        fn bucket_is_always_1_to_100(flag in ".{0,40}", user in ".{0,40}") {
            let bucket = unleash_bucket(&flag, &user);
            prop_assert!((1..=100).contains(&bucket));
            let flagd = evaluate_flagd(&flag, None, &user, &[]).bucket;
            prop_assert!((1..=100).contains(&flagd));
        }

        #[test]
        fn rollout_is_monotonic(user in "[a-z0-9-]{1,20}", p in 0u8..=100, q in 0u8..=100) {
            let (low, high) = (p.min(q), p.max(q));
            let at_low = evaluate("release.new-checkout", Some(&flag(true, low, &[])), &user, &[]);
            let at_high = evaluate("release.new-checkout", Some(&flag(true, high, &[])), &user, &[]);
            prop_assert!(!at_low.enabled || at_high.enabled);
            let at_low = evaluate_flagd("new_checkout", Some(&flag(true, low, &[])), &user, &[]);
            let at_high = evaluate_flagd("new_checkout", Some(&flag(true, high, &[])), &user, &[]);
            prop_assert!(!at_low.enabled || at_high.enabled);
        }

        #[test]
        fn full_rollout_reaches_everyone_and_zero_nobody(user in ".{0,30}") {
            prop_assert!(evaluate("f", Some(&flag(true, 100, &[])), &user, &[]).enabled);
            prop_assert!(!evaluate("f", Some(&flag(true, 0, &[])), &user, &[]).enabled);
        }
    }

    #[test]
    fn a_quarter_of_ten_thousand_users_get_25_percent() {
        let state = flag(true, 25, &[]);
        let count = |eval: fn(&str, Option<&FlagState>, &str, &[String]) -> Evaluation| {
            (0..10_000)
                .filter(|i| eval("new_checkout", Some(&state), &format!("user-{i}"), &[]).enabled)
                .count()
        };
        for (name, n) in [
            ("unleash", count(evaluate)),
            ("flagd", count(evaluate_flagd)),
        ] {
            assert!(
                (2_300..=2_700).contains(&n),
                "{name}: {n} of 10000 in at 25%"
            );
        }
    }
}
