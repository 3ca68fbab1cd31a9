//! tui::fleet::run: the fleet screen's event loop. Draws each reading the loader sends,
//! takes keys as they come, and redraws every second so that ages move; it never waits
//! on the database (the loader runs elsewhere) and never opens a release itself: it
//! returns, and the front-end opens it on the same terminal.

use chrono::Utc;
use crossterm::event::{Event, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

use super::{Fleet, FleetIntent, FleetScreen, render};
use crate::control::Stop;

/// How the fleet screen's loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEnding {
    /// `enter` on a release whose plan is here: open it.
    Open {
        name: String,
        version: String,
        plan: PathBuf,
    },
    /// A key quit, or the terminal's events ended.
    Quit,
    /// A signal arrived.
    Signal(Stop),
}

/// The loop, generic over the backend and the event source so that tests run it on a
/// `TestBackend` with scripted keys. `fleet` carries the loader's readings; when its
/// sender is gone the last reading stays on the screen.
pub async fn fleet_loop<B, E>(
    terminal: &mut Terminal<B>,
    screen: &mut FleetScreen,
    fleet: &mut watch::Receiver<Fleet>,
    mut events: E,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<FleetEnding>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    tokio::pin!(stop);
    let mut current = fleet.borrow_and_update().clone();
    let mut loader_gone = false;
    let mut ages = tokio::time::interval(Duration::from_secs(1));
    ages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let area = terminal
            .draw(|f| render(f, screen, &current, Utc::now()))?
            .area;
        screen.resize(area);
        tokio::select! {
            biased;
            how = &mut stop => return Ok(FleetEnding::Signal(how)),
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    match screen.on_key(key, &current) {
                        Some(FleetIntent::Quit) => return Ok(FleetEnding::Quit),
                        Some(FleetIntent::Open { name, version, plan }) => {
                            // The status line says what is being opened while it opens.
                            terminal.draw(|f| render(f, screen, &current, Utc::now()))?;
                            return Ok(FleetEnding::Open { name, version, plan });
                        }
                        None => {}
                    }
                }
                Some(Ok(Event::Resize(width, height))) => {
                    screen.resize(ratatui::layout::Rect::new(0, 0, width, height));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => return Ok(FleetEnding::Quit),
            },
            changed = fleet.changed(), if !loader_gone => match changed {
                Ok(()) => current = fleet.borrow_and_update().clone(),
                Err(_) => loader_gone = true,
            },
            _ = ages.tick() => {}
        }
    }
}
