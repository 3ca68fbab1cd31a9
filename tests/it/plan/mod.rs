//! Plan files: every fixture parses, every broken plan is refused at the right place, and
//! no input makes the parser panic.

mod bad_plans;
mod fixtures;
mod props;
