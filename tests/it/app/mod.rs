//! The front-ends as a user meets them: headless runs, `notes` and `init`, with the real
//! binary.

mod headless;
mod notes_init;
