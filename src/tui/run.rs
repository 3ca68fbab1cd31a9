//! tui::run: the terminal and the event loop. Owns raw mode, the alternate screen and their
//! restoration on every exit path (quit, error, panic, SIGINT, SIGTERM, SIGHUP); never
//! decides anything and never waits on an adapter — keys, adapter messages and the clock
//! tick are taken as they come, and a frame is drawn only when something changed, at most
//! [`FRAME`] apart.

use crossterm::event::{Event, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::{CompletedFrame, Terminal};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{App, Intent, Theme, View, draw};
use crate::controller::{Controller, Message, Session};
use crate::engine::Input;

/// The shortest time between two frames (about 30 frames a second).
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the key reader looks up from waiting to see whether the screen has closed.
const READER_CHECK: Duration = Duration::from_millis(250);
/// How often the controller's clock ticks, in real time.
pub const TICK: Duration = Duration::from_secs(1);

/// How the screen starts.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub theme: Theme,
    /// `NO_COLOR`: colour stays off whatever the theme.
    pub no_color: bool,
}

impl TuiOptions {
    /// `--theme NAME|PATH` (default dark) and `NO_COLOR` from the environment.
    pub fn from_args(theme: Option<&str>) -> Result<TuiOptions, super::ThemeError> {
        let theme = match theme {
            Some(t) => super::load_theme(t)?,
            None => Theme::dark(),
        };
        Ok(TuiOptions {
            theme,
            no_color: super::no_color_from_env(),
        })
    }
}

/// What the loop does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The screen's side of the loop: the UI state and what each kind of event does to it.
/// The loop and the scenario tests drive the same methods.
#[derive(Debug)]
pub struct Screen {
    pub app: App,
}

impl Screen {
    pub fn new(opts: &TuiOptions) -> Screen {
        Screen {
            app: App::new(opts.theme.clone(), opts.no_color),
        }
    }

    /// A terminal event: a key becomes an intent, an intent a controller command.
    pub fn on_event(&mut self, event: &Event, controller: &mut Controller) -> Flow {
        let Event::Key(key) = event else {
            return Flow::Continue;
        };
        if key.kind == KeyEventKind::Release {
            return Flow::Continue;
        }
        let intent = {
            let view = View::of(controller);
            self.app.on_key(*key, &view)
        };
        match intent {
            Some(Intent::Quit) => Flow::Quit,
            Some(Intent::Command { command, reason }) => {
                let answer = controller.command(command, reason);
                self.app.answer(answer);
                Flow::Continue
            }
            None => Flow::Continue,
        }
    }

    /// Draws the controller's state; the completed frame holds what was drawn.
    pub fn draw<'t, B: Backend>(
        &mut self,
        terminal: &'t mut Terminal<B>,
        controller: &Controller,
    ) -> Result<CompletedFrame<'t>, B::Error> {
        let view = View::of(controller);
        terminal.draw(|f| draw(f, &mut self.app, &view))
    }
}

impl<'a> View<'a> {
    /// Everything the screen shows about a controller's release, for one frame.
    pub fn of(controller: &'a Controller) -> View<'a> {
        let engine = controller.engine();
        // The engine never goes back in time; its clock may be ahead of the wall clock's
        // view of it when samples arrive early.
        let now = engine
            .now()
            .map_or(controller.now(), |e| e.max(controller.now()));
        View {
            engine,
            journal: controller.journal(),
            now,
            operator: controller.operator(),
            follower_of: controller.follower_of(),
            notice: controller.notice(),
            flag: controller.flag_description(),
            data_age: controller.data_age(),
        }
    }
}

/// The event loop, generic over the backend and the event source so that tests run it on a
/// `TestBackend` with scripted keys. Returns when a key quits, the events end, or `stop`
/// completes (a signal).
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    screen: &mut Screen,
    controller: &mut Controller,
    messages: &mut mpsc::Receiver<Message>,
    mut events: E,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch: Vec<Message> = Vec::with_capacity(256);
    let mut dirty = true;
    let mut last_frame: Option<Instant> = None;
    let mut messages_open = true;
    let mut last_tick = Instant::now();
    loop {
        // Draw now if a frame is due, else wake up when it is.
        let mut frame_at = None;
        if dirty {
            let due = last_frame.map_or(Instant::now(), |t| t + FRAME);
            if due <= Instant::now() {
                screen.draw(terminal, controller)?;
                last_frame = Some(Instant::now());
                dirty = false;
            } else {
                frame_at = Some(due);
            }
        }
        tokio::select! {
            biased;
            () = &mut stop => break,
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if screen.on_event(&event, controller) == Flow::Quit {
                        break;
                    }
                    dirty = true;
                }
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => break,
            },
            n = messages.recv_many(&mut batch, 256), if messages_open => {
                if n == 0 {
                    messages_open = false;
                }
                // Everything queued is applied before one draw.
                let mut sampled = false;
                for m in batch.drain(..) {
                    sampled |= matches!(m, Message::Input(Input::Samples { .. }));
                    dirty |= controller.handle(m);
                }
                // Samples bring the clock's tick with them and push the next one back, so
                // that metrics every second and the clock draw one frame a second, not two
                // out of step. Without samples the ticker runs on its own.
                if sampled {
                    if last_tick.elapsed() >= TICK / 2 {
                        dirty |= controller.tick();
                        last_tick = Instant::now();
                    }
                    ticker.reset_after(TICK + TICK / 10);
                }
            }
            _ = ticker.tick() => {
                dirty |= controller.tick();
                last_tick = Instant::now();
            }
            () = tokio::time::sleep_until(frame_at.unwrap_or_else(Instant::now)), if frame_at.is_some() => {}
        }
    }
    Ok(())
}

/// Restores the terminal when dropped: on return, on error and while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// SIGINT, SIGTERM or SIGHUP, whichever comes first. A signal that cannot be watched is
/// left to its default action (which ends the process); the guard and panic hook still
/// cover the other exits.
async fn signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut watched = Vec::new();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        if let Ok(s) = signal(kind) {
            watched.push(s);
        }
    }
    if watched.is_empty() {
        return std::future::pending().await;
    }
    let waits = watched.iter_mut().map(|s| Box::pin(s.recv()));
    futures::future::select_all(waits).await;
}

/// The terminal's events, read by a thread of their own that blocks until the next one.
/// crossterm's `EventStream` is not used: every poll of it takes the reader's lock, which
/// its own helper thread holds while it waits, so each turn of the loop spun on that lock.
fn terminal_events() -> impl Stream<Item = std::io::Result<Event>> + Unpin {
    let (tx, mut rx) = mpsc::channel(64);
    // Detached. It waits a bounded time for each key so that it notices the loop is gone
    // and stops reading: keys typed while the process winds down reach the shell.
    std::thread::spawn(move || {
        while !tx.is_closed() {
            let event = match crossterm::event::poll(READER_CHECK) {
                Ok(false) => continue,
                Ok(true) => crossterm::event::read(),
                Err(e) => Err(e),
            };
            let failed = event.is_err();
            if tx.blocking_send(event).is_err() || failed {
                return;
            }
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The control room: takes the terminal, runs until quit or a signal, restores the
/// terminal and saves the controller's state.
pub async fn run(session: Session, opts: TuiOptions) -> anyhow::Result<()> {
    let Session {
        mut controller,
        mut messages,
    } = session;
    let mut screen = Screen::new(&opts);
    // Armed before the terminal changes, so a half-done start is undone too. `try_init` also
    // chains a panic hook that restores the terminal before the panic message.
    let guard = TerminalGuard;
    let mut terminal = ratatui::try_init()?;
    let events = terminal_events();
    let result = run_loop(
        &mut terminal,
        &mut screen,
        &mut controller,
        &mut messages,
        events,
        signals(),
    )
    .await;
    drop(guard);
    controller.settle().await;
    result
}
