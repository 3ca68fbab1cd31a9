//! Notifications as they leave the real binary.

mod webhook;
