//! tui::run: the terminal and the event loop. Owns raw mode, the alternate screen and their
//! restoration on every exit path (quit, error, panic, SIGINT, SIGTERM, SIGHUP); never
//! decides anything and never waits on an adapter — keys, adapter messages and the clock
//! tick are taken as they come, and a frame is drawn only when something changed, at most
//! [`FRAME`] apart.

use crossterm::event::{Event, KeyEventKind};
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::{CompletedFrame, Terminal};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::keymap::Keymap;
use super::settings::Settings;
use super::{App, Intent, Theme, View, draw};
use crate::control::driver::{self, Handle};
use crate::control::{Answer, Refused};
use crate::control::{Session, Snapshot, Stop};

/// The shortest time between two frames (about 30 frames a second).
pub(crate) const FRAME: Duration = Duration::from_millis(33);
/// How often the key reader looks up from waiting to see whether the screen has closed.
const READER_CHECK: Duration = Duration::from_millis(250);

/// How the screen starts.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub theme: Theme,
    /// `NO_COLOR`: colour stays off whatever the theme.
    pub no_color: bool,
    /// The user's keys (the defaults, or `keymap.yaml` laid over them).
    pub keymap: Keymap,
    /// The user's settings (the defaults, or `config.yaml` laid over them).
    pub settings: Settings,
}

/// A terminal whose bell can be rung. The bell is the terminal's, so the loop rings it,
/// after a frame; the screen's state only says when it is due.
pub trait Bell {
    fn ring(&mut self) -> std::io::Result<()>;
}

impl<W: std::io::Write> Bell for ratatui::backend::CrosstermBackend<W> {
    fn ring(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        // BEL moves no cursor and draws nothing: it goes between two frames.
        self.write_all(b"\x07")?;
        Write::flush(self)
    }
}

/// A test terminal has no bell.
impl Bell for ratatui::backend::TestBackend {
    fn ring(&mut self) -> std::io::Result<()> {
        Ok(())
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
            app: App::new(opts.theme.clone(), opts.no_color)
                .with_keymap(opts.keymap.clone())
                .with_settings(opts.settings),
        }
    }

    /// A terminal event: a key becomes an intent for the controller, or nothing.
    pub fn on_event(&mut self, event: &Event, snapshot: &Snapshot) -> Option<Intent> {
        if let Event::Resize(width, height) = event {
            // Keys that come before the next frame are read against the new size.
            self.app
                .resize(ratatui::layout::Rect::new(0, 0, *width, *height));
            return None;
        }
        let Event::Key(key) = event else {
            return None;
        };
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let view = View::of(snapshot);
        self.app.on_key(*key, &view)
    }

    /// Shows the controller's answer to a command.
    pub fn answer(&mut self, answer: Answer) {
        self.app.answer(answer.map_err(|r| r.to_string()));
    }

    /// Draws a snapshot; the completed frame holds what was drawn.
    pub fn draw<'t, B: Backend>(
        &mut self,
        terminal: &'t mut Terminal<B>,
        snapshot: &Snapshot,
    ) -> Result<CompletedFrame<'t>, B::Error> {
        let view = View::of(snapshot);
        terminal.draw(|f| draw(f, &mut self.app, &view))
    }
}

impl<'a> View<'a> {
    /// Everything the screen shows about a release, for one frame.
    pub fn of(snapshot: &'a Snapshot) -> View<'a> {
        let engine = &snapshot.engine;
        // The engine never goes back in time; its clock may be ahead of the wall clock's
        // view of it when samples arrive early.
        let now = engine.now().map_or(snapshot.now, |e| e.max(snapshot.now));
        View {
            engine,
            journal: &snapshot.journal,
            now,
            operator: &snapshot.operator,
            follower_of: snapshot.follower_of(),
            notice: snapshot.notice.as_ref().map(ToString::to_string),
            alarm: snapshot.notice.as_ref().is_some_and(|n| n.is_alarm()),
            holder_state: snapshot.holder_state(),
            flag: snapshot.flag.clone(),
            data_age: snapshot.data_age,
            stages: &snapshot.stages,
            checks: &snapshot.checks,
        }
    }
}

/// How the screen's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A key quit, or the terminal's events ended.
    Quit,
    /// A signal arrived.
    Signal(Stop),
}

/// The event loop, generic over the backend and the event source so that tests run it on a
/// `TestBackend` with scripted keys. It draws the controller's snapshots and sends it the
/// keys' commands; it never waits on the controller. Returns when a key quits, the events
/// end, or `stop` completes (a signal).
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    screen: &mut Screen,
    handle: &Handle,
    mut events: E,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Ending>
where
    B: Backend + Bell,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    tokio::pin!(stop);
    let mut snapshots = handle.watch();
    let mut snapshot = snapshots.borrow_and_update().clone();
    let mut answers: FuturesUnordered<oneshot::Receiver<Answer>> = FuturesUnordered::new();
    let mut dirty = true;
    let mut last_frame: Option<Instant> = None;
    // When the bottom line's answer fades: a frame is drawn then, key or no key.
    let mut fade_at: Option<Instant> = None;
    // When the war-room badge's flash next blinks or ends.
    let mut flash_at: Option<Instant> = None;
    loop {
        // Draw now if a frame is due, else wake up when it is.
        let mut frame_at = None;
        if dirty {
            let due = last_frame.map_or(Instant::now(), |t| t + FRAME);
            if due <= Instant::now() {
                let now = Instant::now().into_std();
                fade_at = screen.app.fade_status(now).map(Instant::from_std);
                flash_at = screen.app.flash(now).map(Instant::from_std);
                screen.draw(terminal, &snapshot)?;
                last_frame = Some(Instant::now());
                // The frame saw a new trip: the bell once, and the flash from the next frame.
                if screen.app.take_bell() {
                    terminal
                        .backend_mut()
                        .ring()
                        .map_err(|e| anyhow::Error::new(e).context("ringing the terminal bell"))?;
                }
                dirty = screen.app.flash_due();
            } else {
                frame_at = Some(due);
            }
        }
        tokio::select! {
            biased;
            how = &mut stop => return Ok(Ending::Signal(how)),
            event = events.next() => match event {
                Some(Ok(event)) => {
                    match screen.on_event(&event, &snapshot) {
                        Some(Intent::Quit) => return Ok(Ending::Quit),
                        Some(Intent::Command { command, reason }) => {
                            answers.push(handle.send(command, reason));
                        }
                        Some(Intent::Recheck { list, item }) => {
                            answers.push(handle.recheck(list, item));
                        }
                        Some(Intent::Rerun { stage }) => {
                            answers.push(handle.rerun(stage));
                        }
                        Some(Intent::TakeOver) => {
                            let why = format!("taken over on the screen by {}", snapshot.operator);
                            answers.push(handle.take_over(why));
                        }
                        None => {}
                    }
                    dirty = true;
                }
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => return Ok(Ending::Quit),
            },
            Some(answer) = answers.next(), if !answers.is_empty() => {
                screen.answer(answer.unwrap_or_else(|_| {
                    Err(Refused::NotTaken("the controller did not take the command".into()))
                }));
                dirty = true;
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Ok(Ending::Quit);
                }
                snapshot = snapshots.borrow_and_update().clone();
                dirty = true;
            }
            () = tokio::time::sleep_until(frame_at.unwrap_or_else(Instant::now)), if frame_at.is_some() => {}
            () = tokio::time::sleep_until(fade_at.unwrap_or_else(Instant::now)), if fade_at.is_some() && !dirty => {
                fade_at = None;
                dirty = true;
            }
            () = tokio::time::sleep_until(flash_at.unwrap_or_else(Instant::now)), if flash_at.is_some() && !dirty => {
                flash_at = None;
                dirty = true;
            }
        }
    }
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
pub(crate) async fn signals() -> Stop {
    use tokio::signal::unix::{SignalKind, signal};
    let mut watched = Vec::new();
    for (kind, stop) in [
        (SignalKind::interrupt(), Stop::Interrupt),
        (SignalKind::terminate(), Stop::Terminate),
        (SignalKind::hangup(), Stop::Hangup),
    ] {
        if let Ok(s) = signal(kind) {
            watched.push((s, stop));
        }
    }
    if watched.is_empty() {
        return std::future::pending().await;
    }
    let waits = watched.iter_mut().map(|(s, stop)| {
        let stop = *stop;
        Box::pin(async move {
            s.recv().await;
            stop
        })
    });
    futures::future::select_all(waits).await.0
}

/// The terminal's events, read by a thread of their own that blocks until the next one.
/// crossterm's `EventStream` is not used: every poll of it takes the reader's lock, which
/// its own helper thread holds while it waits, so each turn of the loop spun on that lock.
fn terminal_events() -> mpsc::Receiver<std::io::Result<Event>> {
    let (tx, rx) = mpsc::channel(64);
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
    rx
}

/// The terminal, taken for full-screen use: raw mode, the alternate screen and one reader
/// of its keys, kept across screens (the fleet list and the release it opens) so that
/// moving between them neither flickers nor loses a key. Given back when dropped, on
/// every exit path.
pub struct Tty {
    terminal: ratatui::DefaultTerminal,
    events: mpsc::Receiver<std::io::Result<Event>>,
    // Last: the terminal is restored after the reader is told to stop.
    _guard: TerminalGuard,
}

impl Tty {
    pub fn take() -> anyhow::Result<Tty> {
        // Armed before the terminal changes, so a half-done start is undone too. `try_init`
        // also chains a panic hook that restores the terminal before the panic message.
        let guard = TerminalGuard;
        let terminal = ratatui::try_init()?;
        Ok(Tty {
            terminal,
            events: terminal_events(),
            _guard: guard,
        })
    }

    /// The terminal to draw on and its events as they come.
    pub fn parts(
        &mut self,
    ) -> (
        &mut ratatui::DefaultTerminal,
        impl Stream<Item = std::io::Result<Event>> + Unpin + '_,
    ) {
        let events = &mut self.events;
        (
            &mut self.terminal,
            futures::stream::poll_fn(move |cx| events.poll_recv(cx)),
        )
    }
}

/// The control room: takes the terminal, runs until quit or a signal, restores the
/// terminal, and stops the controller, saying on the way out what that leaves unguarded.
pub async fn run(session: Session, opts: TuiOptions) -> anyhow::Result<()> {
    let mut tty = Tty::take()?;
    let (terminal, events) = tty.parts();
    let (result, handle) = screen(terminal, events, session, &opts).await;
    drop(tty);
    if let Some(warning) = handle.stop(stop_for(&result)).await {
        eprintln!("shipdeck: {warning}");
    }
    result.map(|_| ())
}

/// The control room on a terminal already taken, until quit or a signal. The controller
/// is left running: the caller stops it (`stop_for` says how), once it has given the
/// terminal back or shown what it will show meanwhile.
pub async fn screen<B, E>(
    terminal: &mut Terminal<B>,
    events: E,
    session: Session,
    opts: &TuiOptions,
) -> (anyhow::Result<Ending>, Handle)
where
    B: Backend + Bell,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let handle = driver::spawn(session);
    let mut screen = Screen::new(opts);
    let result = run_loop(terminal, &mut screen, &handle, events, signals()).await;
    (result, handle)
}

/// How the controller stops after the screen's loop ended this way.
pub fn stop_for(result: &anyhow::Result<Ending>) -> Stop {
    match result {
        Ok(Ending::Signal(how)) => *how,
        _ => Stop::Quit,
    }
}
