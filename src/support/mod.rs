//! support: small pieces every layer uses, one copy each. Knows nothing of releases.

pub mod backoff;
