//! pipeline::command: runs one command (argv, never through a shell) with a timeout and
//! keeps only the tail of its output. Owns process lifetime: a command that outlives its
//! timeout is killed with everything it started. Never decides what a result means for the
//! release.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Output lines kept per run (the screen's detail popup shows them).
pub const TAIL_LINES: usize = 20;
/// Bytes kept of one line; the rest of a longer line is dropped and marked with `…`.
const LINE_BYTES: usize = 512;
/// After the command exits, how long output from processes it left behind is still read.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The last [`TAIL_LINES`] lines a command printed (stdout and stderr interleaved), and how
/// many it printed in all. Memory stays bounded whatever the command prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail {
    lines: VecDeque<String>,
    total: u64,
}

impl Tail {
    pub fn push(&mut self, line: String) {
        self.total += 1;
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    pub fn last(&self) -> Option<&str> {
        self.lines.back().map(String::as_str)
    }

    /// Lines printed in all (kept or not).
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Splits a byte stream into display lines, holding at most [`LINE_BYTES`] of an
/// unfinished line.
#[derive(Default)]
struct Splitter {
    partial: Vec<u8>,
    cut: bool,
}

impl Splitter {
    fn feed(&mut self, mut chunk: &[u8], out: &mut impl FnMut(String)) {
        while let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            self.take(&chunk[..i]);
            out(self.line());
            chunk = &chunk[i + 1..];
        }
        self.take(chunk);
    }

    fn take(&mut self, bytes: &[u8]) {
        let room = LINE_BYTES.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.cut = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn line(&mut self) -> String {
        let mut line = clean(&self.partial);
        if self.cut {
            line.push('…');
        }
        self.partial.clear();
        self.cut = false;
        line
    }

    fn finish(&mut self, out: &mut impl FnMut(String)) {
        if !self.partial.is_empty() || self.cut {
            out(self.line());
        }
    }
}

/// A line as a terminal can show it: valid UTF-8, no colour codes or control characters,
/// and only what a progress bar left after its last carriage return.
pub fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches('\r');
    let text = text.rsplit('\r').next().unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // ESC [ … final byte: a colour or cursor sequence.
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The command exited with this code.
    Exited(i32),
    /// The command was ended by this signal (not by shipdeck).
    Signaled(i32),
    /// Still running at its timeout; killed with everything it started.
    TimedOut(Duration),
    /// It could not be started; the text says why and what to check.
    NotStarted(String),
}

/// One finished run of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub end: End,
    pub elapsed: Duration,
}

impl Outcome {
    /// Exit 0 is the only pass.
    pub fn passed(&self) -> bool {
        self.end == End::Exited(0)
    }

    /// `passed in 1.2s`, `exit code 1 after 3.0s`, `killed at its 10m timeout`, …
    pub fn describe(&self) -> String {
        let took = format_elapsed(self.elapsed);
        match &self.end {
            End::Exited(0) => format!("passed in {took}"),
            End::Exited(code) => format!("exit code {code} after {took}"),
            End::Signaled(sig) => format!("ended by signal {sig} after {took}"),
            End::TimedOut(limit) => format!(
                "still running at its {} timeout; killed",
                crate::support::fmt::duration(*limit)
            ),
            End::NotStarted(why) => why.clone(),
        }
    }
}

/// `850ms`, `3.2s`, `2m05s`.
pub(crate) fn format_elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// The command as a person would type it, for messages.
pub fn display(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Kills the command's process group if the run is abandoned (a timeout, or shipdeck
/// exiting mid-run); disarmed once the command has been reaped, when its id may be reused.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.0.take()
            && let Some(pid) = i32::try_from(pid)
                .ok()
                .filter(|p| *p > 1)
                .and_then(rustix::process::Pid::from_raw)
        {
            // The group may already be gone; nothing left to kill is fine.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn read_some(
    stream: &mut Option<impl AsyncReadExt + Unpin>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Runs `argv` in `cwd` with no stdin; every output line (stdout and stderr) goes to
/// `on_line` as it arrives. Never waits longer than `timeout` (plus a moment to reap).
pub async fn run(
    argv: &[String],
    timeout: Duration,
    cwd: &Path,
    mut on_line: impl FnMut(String),
) -> Outcome {
    let started = Instant::now();
    let not_started = |why: String| Outcome {
        end: End::NotStarted(why),
        elapsed: started.elapsed(),
    };
    let Some((program, args)) = argv.split_first() else {
        return not_started("the command is empty".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group: a timeout kills what it started too, and the terminal's
    // Ctrl-C reaches shipdeck only.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound if !cwd.is_dir() => {
                    format!("; the working directory {} does not exist", cwd.display())
                }
                std::io::ErrorKind::NotFound => {
                    format!("; is `{program}` installed and on PATH?")
                }
                std::io::ErrorKind::PermissionDenied => {
                    format!("; is `{program}` executable?")
                }
                _ => String::new(),
            };
            return not_started(format!("cannot run `{program}`: {e}{hint}"));
        }
    };
    let mut guard = GroupGuard(child.id());
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut split_out, mut split_err) = (Splitter::default(), Splitter::default());
    let (mut buf_out, mut buf_err) = ([0u8; 4096], [0u8; 4096]);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut exited: Option<std::process::ExitStatus> = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut timed_out = false;
    loop {
        if exited.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let stop_at = drain_until.unwrap_or(deadline);
        tokio::select! {
            r = read_some(&mut stdout, &mut buf_out) => match r {
                Ok(n) if n > 0 => split_out.feed(&buf_out[..n], &mut on_line),
                _ => {
                    split_out.finish(&mut on_line);
                    stdout = None;
                }
            },
            r = read_some(&mut stderr, &mut buf_err) => match r {
                Ok(n) if n > 0 => split_err.feed(&buf_err[..n], &mut on_line),
                _ => {
                    split_err.finish(&mut on_line);
                    stderr = None;
                }
            },
            status = child.wait(), if exited.is_none() => {
                match status {
                    Ok(s) => exited = Some(s),
                    Err(e) => {
                        return Outcome {
                            end: End::NotStarted(format!("lost track of `{program}`: {e}")),
                            elapsed: started.elapsed(),
                        };
                    }
                }
                guard.0 = None;
                // Something it left running may hold the pipes open: read briefly, then stop.
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            _ = tokio::time::sleep_until(stop_at) => {
                timed_out = exited.is_none();
                break;
            }
        }
    }
    split_out.finish(&mut on_line);
    split_err.finish(&mut on_line);
    let elapsed = started.elapsed();
    if timed_out {
        guard.kill();
        // Reap it; SIGKILL cannot be ignored, so this is quick.
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        return Outcome {
            end: End::TimedOut(timeout),
            elapsed,
        };
    }
    let end = match exited {
        Some(s) => match s.code() {
            Some(code) => End::Exited(code),
            None => End::Signaled(signal_of(&s)),
        },
        None => End::NotStarted(format!("`{program}` ended without an exit status")),
    };
    Outcome { end, elapsed }
}

#[cfg(unix)]
fn signal_of(s: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.signal().unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |l| out.push(l));
        }
        s.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn lines_join_across_chunks() {
        assert_eq!(
            split(&[b"hel", b"lo\nwor", b"ld\n", b"tail"]),
            ["hello", "world", "tail"]
        );
    }

    #[test]
    fn a_long_line_is_cut_and_marked() {
        let long = vec![b'x'; LINE_BYTES * 3];
        let lines = split(&[&long, b"\nnext\n"]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), LINE_BYTES + 1);
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn colour_codes_and_progress_bars_are_cleaned() {
        assert_eq!(clean(b"\x1b[1;32mok\x1b[0m done"), "ok done");
        assert_eq!(clean(b"10%\r50%\r100%\r"), "100%");
        assert_eq!(clean(b"a\tb\x07"), "a    b");
        assert_eq!(clean(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn the_tail_keeps_the_last_lines_and_counts_all() {
        let mut t = Tail::default();
        for i in 0..100 {
            t.push(i.to_string());
        }
        assert_eq!(t.total(), 100);
        assert_eq!(t.lines().len(), TAIL_LINES);
        assert_eq!(t.lines().next(), Some("80"));
        assert_eq!(t.last(), Some("99"));
    }

    #[test]
    fn outcomes_say_what_happened() {
        let o = |end| Outcome {
            end,
            elapsed: Duration::from_millis(3200),
        };
        assert_eq!(o(End::Exited(0)).describe(), "passed in 3.2s");
        assert!(o(End::Exited(0)).passed());
        assert_eq!(o(End::Exited(2)).describe(), "exit code 2 after 3.2s");
        assert!(!o(End::Exited(2)).passed());
        assert_eq!(
            o(End::TimedOut(Duration::from_secs(600))).describe(),
            "still running at its 10m timeout; killed"
        );
        assert_eq!(format_elapsed(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_elapsed(Duration::from_millis(850)), "850ms");
    }

    #[test]
    fn argv_is_shown_quoted_where_needed() {
        let argv: Vec<String> = ["curl", "-fsS", "http://x/a b", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(display(&argv), "curl -fsS 'http://x/a b' ''");
    }

    proptest! {
        /// However the output is chunked, the lines are the same, and none exceeds the cap.
        #[test]
        fn chunking_never_changes_the_lines(
            text in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'\r'), any::<u8>()], 0..3000),
            cuts in proptest::collection::vec(0usize..3000, 0..8),
        ) {
            let whole = split(&[&text]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                chunks.push(&text[at..c]);
                at = c;
            }
            chunks.push(&text[at..]);
            prop_assert_eq!(&split(&chunks), &whole);
            for l in &whole {
                prop_assert!(l.len() <= LINE_BYTES * 4 + 3);
            }
        }
    }
}
