//! The flag backends (file, flagd, Unleash) on real files and real servers, and the live
//! flag file under a real watcher.

mod commands;
mod file;
mod flagd;
mod flagd_eval;
mod live;
mod unleash;
