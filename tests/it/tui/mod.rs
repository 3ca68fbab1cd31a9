//! The screen: every state as text and style, every size, a whole release through the
//! app, the idle frame rate, and the real binary in tmux.

mod common;
mod frames;
mod scenario;
mod screen;
mod sizes;
mod tmux;
