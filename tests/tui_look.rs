mod tui_common;
use shipdeck::tui::App;
use tui_common::*;

#[test]
fn look() {
    let sizes: Vec<(u16, u16)> = std::env::var("LOOK")
        .unwrap_or("120x40".into())
        .split(',')
        .map(|s| {
            let (a, b) = s.split_once('x').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let which = std::env::var("STATES").unwrap_or_default();
    for (name, f) in [
        ("ready", ready as fn() -> World),
        ("awaiting", awaiting_approval),
        ("baking", baking),
        ("paused", paused_by_guardrail),
        ("rolling", rolling_back),
        ("rolled", rolled_back),
        ("completed", completed),
    ] {
        if !which.is_empty() && !which.split(',').any(|w| w == name) {
            continue;
        }
        let w = f();
        for (x, y) in &sizes {
            let mut app = App::default();
            let t = screen(&w, &mut app, *x, *y);
            eprintln!("=== {name} {x}x{y}\n{}", t.backend());
        }
    }
}
