//! support: small pieces every layer uses, one copy each. Knows nothing of releases and
//! imports nothing else of this crate.

pub mod backoff;
pub mod escape;
pub mod fmt;
pub mod host;
pub mod jsonl;
pub mod path;
pub mod plain_file;
pub(crate) mod suggest;
pub mod write_atomic;
