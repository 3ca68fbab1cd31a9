//! Checklists: items that tick themselves through a real controller, and `shipdeck tick`.

mod auto;
mod tick;
