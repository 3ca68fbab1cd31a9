//! Notifications as they leave the real binary.

mod receivers;
mod webhook;
