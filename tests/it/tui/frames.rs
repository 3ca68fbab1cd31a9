//! How often the event loop draws while nobody touches a key: metrics every second and the
//! clock's one-second tick must come to one frame a second, not two out of step (the idle
//! cost on a war-room screen), and the screen must still move every second.

use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shipdeck::clock::Clock;
use shipdeck::control as controller;
use shipdeck::store::{FileStore, ReleaseStore};
use shipdeck::tui::{Screen, Theme, TuiOptions};

/// A test backend that notes when each frame reached the terminal.
struct Counting {
    inner: TestBackend,
    flushes: Vec<Instant>,
}

impl Backend for Counting {
    type Error = <TestBackend as Backend>::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.flushes.push(Instant::now());
        self.inner.flush()
    }
}

impl shipdeck::tui::Bell for Counting {
    fn ring(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const FLAGS: &str =
    "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: [], kind: release}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_every_second_and_the_clock_draw_one_frame_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let plan_text = std::fs::read_to_string("fixtures/healthy/plan.yaml").unwrap();
    std::fs::write(dir.path().join("plan.yaml"), plan_text).unwrap();
    std::fs::write(dir.path().join("flags.yaml"), FLAGS).unwrap();
    let plan = shipdeck::plan::load(&dir.path().join("plan.yaml")).unwrap();
    let interval = plan.metrics.interval.as_secs_f64();
    let store: Arc<dyn ReleaseStore> =
        Arc::new(FileStore::open(&dir.path().join(".shipdeck")).unwrap());
    // One sample a second of real time, as a plan polling every `interval` sees at 1×.
    let clock = Clock::starting(Utc::now(), interval);
    let opts = controller::Options::new("alice".into(), clock, "screen");
    let session = controller::open(Arc::new(plan), opts, store).await.unwrap();
    let handle = controller::driver::spawn(session);
    let mut screen = Screen::new(&TuiOptions {
        theme: Theme::dark(),
        no_color: false,
        keymap: Default::default(),
        settings: Default::default(),
    });
    let mut terminal = Terminal::new(Counting {
        inner: TestBackend::new(160, 45),
        flushes: Vec::new(),
    })
    .unwrap();

    let start = Instant::now();
    shipdeck::tui::run_loop(
        &mut terminal,
        &mut screen,
        &handle,
        futures::stream::pending(),
        async {
            tokio::time::sleep(Duration::from_secs(7)).await;
            controller::Stop::Interrupt
        },
    )
    .await
    .unwrap();
    handle.stop(controller::Stop::Interrupt).await;

    // The start (backfill, flag loaded) may take a few frames; after it, one a second.
    let settled = start + Duration::from_secs(2);
    let frames: Vec<f64> = terminal
        .backend()
        .flushes
        .iter()
        .filter(|t| **t >= settled)
        .map(|t| t.duration_since(start).as_secs_f64())
        .collect();
    assert!(
        (4..=6).contains(&frames.len()),
        "{} frames in 5 s with nothing pressed, at {frames:.2?}",
        frames.len()
    );
}
