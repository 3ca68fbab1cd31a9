//! Harnesses more than one subject uses: the real binary driven from a test (`cli`),
//! release plans built field by field and a shell around a pure engine (`plans`,
//! `engine_driver`, `engine_checker`), real servers on loopback (`prometheus`,
//! `unleash`, a notification `receiver`), and files owned by another user (`accounts`).
//! Holds no tests of its own and decides nothing the library decides.

pub mod accounts;
pub mod cli;
pub mod engine_checker;
pub mod engine_driver;
pub mod plans;
pub mod postgres;
pub mod prometheus;
pub mod receiver;
pub mod tls;
pub mod unleash;
