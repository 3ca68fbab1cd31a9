//! canary: judges a canary against the baseline serving beside it — per series the
//! Kayenta-compatible rank test and Hodges-Lehmann shift, per count an anytime-valid
//! sequential test with a sample-ratio-mismatch check, and the weighted score they roll
//! up into. Numbers in, verdicts out: never performs I/O, keeps no clock.

pub mod clean;
pub mod counts;
pub mod normal;
pub mod rank_sum;
pub mod score;
pub mod series;

pub use clean::{Cleaned, Outliers};
pub use counts::{
    CountsReason, CountsRule, CountsRuleError, CountsState, CountsVerdict, PerArm, SplitCheck,
    judge_counts,
};
pub use rank_sum::{RankSum, rank_sum};
pub use score::{GroupScore, Judged, Score, ScoreReason, Scoring, ScoringError, Verdict, score};
pub use series::{
    ArmSummary, Classification, Direction, EffectMeasure, EffectSize, Reason, RuleError,
    SeriesRule, SeriesVerdict, judge_series,
};
