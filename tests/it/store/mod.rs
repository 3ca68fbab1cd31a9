//! The stores on real directories and a real database: state, journal, lock, command
//! inbox, and whom the file store trusts.

mod inbox;
mod journal;
mod lock;
mod postgres;
mod state;
mod trust;
