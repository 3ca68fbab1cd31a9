//! Pipeline stages: commands as real processes, watched status files, and the gate they
//! put on a headless run.

mod command;
mod headless;
mod stages;
