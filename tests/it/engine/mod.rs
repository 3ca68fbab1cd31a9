//! The pure engine, with the shell played by the tests: whole releases told as stories,
//! corners it once got wrong, and its rules over random input sequences. No files, no
//! clock.

mod notes;
mod props;
mod regressions;
mod scenarios;
