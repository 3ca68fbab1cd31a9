//! Test support shared by the integration tests: real servers on loopback.
// Each test binary uses a different part of the harness; the rest is not dead, only unused there.
#![allow(dead_code)]

pub mod prometheus;
pub mod unleash;
