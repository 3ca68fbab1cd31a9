//! The screen: every state as text and style, every size, a checklist item's details, a
//! whole release through the app, the idle frame rate, the keys' help, reading the
//! journal, a note from the room, the fleet list, and the real binary in tmux.

mod canary;
mod common;
mod crisis;
mod details;
mod fleet;
mod frames;
mod help;
mod journal;
mod note;
mod scenario;
mod screen;
mod sizes;
mod tmux;
mod war_room;
