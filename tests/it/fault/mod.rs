//! shipdeck broken on purpose: killed processes, unwritable disks and flag files, dead
//! metrics sources, a second terminal. The real binary on copies of fixture releases.

pub(crate) mod common;
mod control;
mod crash;
mod flags;
mod metrics;
mod regressions;
mod resume;
mod store;
