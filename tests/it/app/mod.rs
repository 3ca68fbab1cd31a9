//! The front-ends as a user meets them: headless runs, `notes` and `init`, the commands
//! that only read, a note from any terminal, with the real binary.

mod default_plan;
mod headless;
mod hostile_text;
mod journal_units;
mod large_journal;
mod manual;
mod no_terminal;
mod notes_init;
mod read_only;
mod room_notes;
