//! plan: the release plan file — parsing, validation and the validated model.
//! Owns every user-facing error about a plan; never performs I/O beyond reading the file.

pub mod model;
pub mod units;

pub use model::*;
