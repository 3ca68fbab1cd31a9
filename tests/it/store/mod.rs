//! The file store on real directories: state, journal, lock and command inbox.

mod inbox;
mod journal;
mod lock;
mod state;
