//! The real binary on a real terminal: tmux runs `shipdeck open`, keys go in with
//! send-keys, and the screen and the flag file are read after each act.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own, with one session `e2e`.
pub(super) struct Tmux {
    pub(super) socket: String,
}

impl Tmux {
    /// A server of its own (named after `name` and this process) running `command` in a
    /// 120×40 session `e2e`.
    pub(super) fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("shipdeck-{name}-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "120",
            "-y",
            "40",
            command,
        ]);
        tmux
    }

    /// Whether tmux is here; without it the test fails under `CI` and is skipped elsewhere.
    pub(super) fn installed() -> bool {
        if Command::new("tmux").arg("-V").output().is_ok() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing: scripts/deps/tmux.sh installs it"
        );
        eprintln!("skipping: tmux not installed (scripts/deps/tmux.sh installs it)");
        false
    }

    pub(super) fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(super) fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    pub(super) fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub(super) fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "waited for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn flag_line(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join("flags.yaml")).unwrap();
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("new_checkout:"))
        .take(6)
        .collect();
    block
        .iter()
        .find(|l| l.trim_start().starts_with(key))
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

/// `shipdeck open` on a copy of the healthy fixture in a 120×40 tmux window, at the ready
/// screen. The window reports the exit status when the program ends.
fn open_healthy(name: &str) -> Option<(tempfile::TempDir, Tmux)> {
    open_healthy_with(name, &[])
}

/// [`open_healthy`] with these files (name, text) in the user's config folder, which is
/// `config/shipdeck` in the release's folder.
fn open_healthy_with(name: &str, config: &[(&str, &str)]) -> Option<(tempfile::TempDir, Tmux)> {
    open_fixture(name, "healthy", "", config)
}

/// `shipdeck open` on a copy of `fixtures/FIXTURE` with `args` after it, in a 120×40 tmux
/// window, with `config` in the user's config folder, at the ready screen.
fn open_fixture(
    name: &str,
    fixture: &str,
    args: &str,
    config: &[(&str, &str)],
) -> Option<(tempfile::TempDir, Tmux)> {
    if !Tmux::installed() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), config);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    for f in ["plan.yaml", "flags.yaml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let command = format!(
        "cd {} && XDG_CONFIG_HOME=$PWD/config {} open plan.yaml --operator e2e {args}; echo SHIPDECK-EXITED-$?; sleep 60",
        dir.path().display(),
        env!("CARGO_BIN_EXE_shipdeck")
    );
    let tmux = Tmux::start(name, &command);
    tmux.wait_for("the ready screen", |s| {
        s.contains("READY") && s.contains("Pipeline")
    });
    Some((dir, tmux))
}

/// P, then y once the question offers a plain start. Until the history the baselines
/// need is in, the start offers only "start anyway" (and a `y` would cancel it): that
/// question is dismissed and asked again.
fn start_rollout(tmux: &Tmux) {
    let begin = Instant::now();
    loop {
        tmux.keys(&["P"]);
        let asked = tmux.wait_for("the start question", |s| s.contains("Start the rollout"));
        if !asked.contains("start anyway") {
            tmux.keys(&["y"]);
            return;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(15),
            "the start stayed blocked:\n{asked}"
        );
        tmux.keys(&["Escape"]);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Puts `config` (file name, text) in the user's config folder under `dir`
/// (`dir/config/shipdeck`, which the sessions name as `XDG_CONFIG_HOME`).
fn write_config(dir: &Path, config: &[(&str, &str)]) {
    let folder = dir.join("config/shipdeck");
    std::fs::create_dir_all(&folder).unwrap();
    for (file, text) in config {
        std::fs::write(folder.join(file), text).unwrap();
    }
}

/// Waits until the flag file's `key` line reads `want`.
fn wait_flag(dir: &Path, key: &str, want: &str) {
    let start = Instant::now();
    while flag_line(dir, key) != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the flag never read {want}: {}",
            flag_line(dir, key)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn keys_on_a_real_terminal_drive_the_flag_and_the_terminal_is_restored() {
    let Some((dir, tmux)) = open_healthy("e2e") else {
        return;
    };

    // Start: P, then y.
    start_rollout(&tmux);
    tmux.wait_for("the first step to bake", |s| s.contains("BAKING"));
    wait_flag(dir.path(), "enabled", "enabled: true");

    // Pause and resume with space.
    tmux.keys(&["Space"]);
    tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    tmux.keys(&["Space"]);
    tmux.wait_for("the resume", |s| {
        s.contains("BAKING") && !s.contains("PAUSED")
    });

    // Promote early: P asks, f forces past the starved bake (journaled as forced).
    tmux.keys(&["P", "f"]);
    tmux.wait_for("step 2", |s| s.contains("step 2/"));
    wait_flag(dir.path(), "rollout", "rollout: 0.05");

    // A stray key after R cancels; R then y rolls back.
    tmux.keys(&["R", "n"]);
    tmux.wait_for("the cancelled rollback", |s| s.contains("cancelled"));
    tmux.keys(&["R", "y"]);
    tmux.wait_for("the rollback", |s| s.contains("ROLLED BACK"));
    assert_eq!(flag_line(dir.path(), "enabled"), "enabled: false");

    // Quit: the program ends cleanly and the terminal is back to the shell.
    tmux.keys(&["Escape", "q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-"));
    assert!(screen.contains("SHIPDECK-EXITED-0"), "{screen}");
    assert!(
        !screen.contains("Pipeline"),
        "the alternate screen is gone:\n{screen}"
    );
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"])
            .trim(),
        "0"
    );
}

#[test]
fn below_the_minimum_size_keys_wait_and_only_q_quits() {
    let Some((dir, tmux)) = open_healthy("small") else {
        return;
    };
    start_rollout(&tmux);
    tmux.wait_for("the first step to bake", |s| s.contains("BAKING"));
    wait_flag(dir.path(), "enabled", "enabled: true");

    let resize = |w: &str, h: &str| tmux.run(&["resize-window", "-t", "e2e", "-x", w, "-y", h]);
    resize("40", "12");
    tmux.wait_for("the small screen", |s| s.contains("terminal too small"));
    // R then y: unseen, so nothing happens.
    tmux.keys(&["R", "y", "Space"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(flag_line(dir.path(), "enabled"), "enabled: true");
    resize("120", "40");
    let screen = tmux.wait_for("the full screen again", |s| s.contains("Pipeline"));
    assert!(screen.contains("BAKING"), "{screen}");
    assert!(
        !screen.contains("ROLL BACK"),
        "no question left open:\n{screen}"
    );

    // q asks on the small screen itself; y quits.
    resize("40", "12");
    tmux.wait_for("the small screen", |s| s.contains("terminal too small"));
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", |s| s.contains("y quits"));
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-"));
    assert!(screen.contains("SHIPDECK-EXITED-0"), "{screen}");
    assert_eq!(flag_line(dir.path(), "enabled"), "enabled: true");
}

#[test]
fn the_users_keys_act_and_a_note_reaches_the_journal() {
    let keymap = "note: N\nrollback: X\n";
    let Some((_dir, tmux)) = open_healthy_with("keys", &[("keymap.yaml", keymap)]) else {
        return;
    };
    // n is free now, and says which key writes a note.
    tmux.keys(&["n"]);
    tmux.wait_for("the unbound key's answer", |s| {
        s.contains("n: no such key; note is N (shift-n) · ? lists the keys")
    });
    tmux.keys(&[":"]);
    tmux.wait_for("the unbound key's answer", |s| {
        s.contains(":: no such key; ? lists the keys")
    });
    tmux.keys(&["N"]);
    tmux.wait_for("the note line", |s| s.contains("note: █"));
    tmux.run(&[
        "send-keys",
        "-t",
        "e2e",
        "-l",
        "QA signed off by phone; R and q are letters here",
    ]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the note in the journal", |s| {
        s.contains("note: QA signed off by phone; R and q are letters here (e2e)")
    });
    // X asks to roll back; R does nothing now.
    tmux.keys(&["R"]);
    tmux.wait_for("R unbound", |s| s.contains("R: no such key"));
    tmux.keys(&["?"]);
    let help = tmux.wait_for("the help", |s| s.contains(" Keys "));
    assert!(help.contains("║ X             roll back"), "{help}");
    tmux.keys(&["Escape", "q"]);
    let screen = tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-"));
    assert!(screen.contains("SHIPDECK-EXITED-0"), "{screen}");
}

/// `shipdeck ARGS` run to its end in a tmux window of its own (a terminal, as a screen
/// needs) in the release folder `dir`, with `config` (name, text) in the user's config
/// folder `dir/config/shipdeck`: its exit code and what it wrote to stderr.
fn exit_in_tmux(name: &str, dir: &Path, config: &[(&str, &str)], args: &str) -> (i32, String) {
    write_config(dir, config);
    let command = format!(
        "cd {} && XDG_CONFIG_HOME=$PWD/config {} {args} 2>stderr.txt; echo SHIPDECK-EXITED-$?; sleep 60",
        dir.display(),
        env!("CARGO_BIN_EXE_shipdeck")
    );
    let tmux = Tmux::start(name, &command);
    let screen = tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-"));
    let code = screen
        .split("SHIPDECK-EXITED-")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap_or(-1);
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    (code, stderr)
}

#[test]
fn a_broken_keymap_theme_or_settings_file_stops_the_screen_with_its_place() {
    if !Tmux::installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy");
    for f in ["plan.yaml", "flags.yaml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let folder = dir.path().join("config/shipdeck");

    let keymap = [("keymap.yaml", "rollback: t\nnoet: N\n")];
    let (code, stderr) = exit_in_tmux("keymap", dir.path(), &keymap, "open plan.yaml");
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{k}:1:11: error: `t` is already the key for theme\n  hint: rebind theme too (`theme: KEY`, or `theme: []` to leave it without one), or pick another key\n\
             {k}:2:1: error: unknown action `noet`\n  hint: did you mean `note`?\n",
            k = folder.join("keymap.yaml").display()
        )
    );
    assert!(!dir.path().join(".shipdeck").exists(), "nothing started");

    let files = [
        ("keymap.yaml", "rollback: X\n"),
        ("theme.yaml", "ok: {fg: greeen}\n"),
    ];
    let (code, stderr) = exit_in_tmux("theme", dir.path(), &files, "demo");
    assert_eq!(code, 2, "{stderr}");
    let theme = folder.join("theme.yaml");
    assert!(
        stderr.starts_with(&format!("{}:1:", theme.display()))
            && stderr.contains(": error: `greeen` is not a colour"),
        "{stderr}"
    );
    assert!(stderr.contains("\n  hint: "), "{stderr}");

    // `--theme` names the theme instead: the user's file is not read.
    let (code, stderr) = exit_in_tmux("named", dir.path(), &[], "demo --theme nope");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown theme `nope`"), "{stderr}");

    // The settings too: a misspelt setting is refused at its place.
    let files = [("config.yaml", "war_room:\n  flash: true\n  bel: false\n")];
    std::fs::remove_file(folder.join("theme.yaml")).unwrap();
    std::fs::remove_file(folder.join("keymap.yaml")).unwrap();
    let (code, stderr) = exit_in_tmux("settings", dir.path(), &files, "demo");
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{}:3:3: error: unknown war_room setting `bel`\n  hint: did you mean `bell`?\n",
            folder.join("config.yaml").display()
        )
    );
}

#[test]
fn the_journal_filters_and_opens_a_whole_entry_on_a_real_terminal() {
    let Some((_dir, tmux)) = open_healthy("journal") else {
        return;
    };
    // A note longer than the journal's row.
    let note = "db failover at 14:02 done by the storage team; replicas caught up within forty seconds and the checkout error budget is untouched so far";
    tmux.keys(&["BTab", "n"]);
    tmux.wait_for("the note line", |s| s.contains("note: █"));
    tmux.run(&["send-keys", "-t", "e2e", "-l", note]);
    tmux.keys(&["Enter"]);
    let cut = tmux.wait_for("the note in the journal, cut", |s| {
        s.contains("note: db failover at 14:02") && s.contains("…")
    });
    assert!(!cut.contains("error budget is untouched so far"), "{cut}");

    // `/` filters: the bottom line counts as it is typed, enter applies.
    tmux.keys(&["/"]);
    tmux.wait_for("the filter line", |s| s.contains("filter the journal: █"));
    tmux.run(&["send-keys", "-t", "e2e", "-l", "FAILOVER"]);
    tmux.wait_for("the count while typing", |s| {
        s.contains("filter the journal: FAILOVER█") && s.contains("1 of 2 match")
    });
    tmux.keys(&["Enter"]);
    let filtered = tmux.wait_for("the filtered journal", |s| {
        s.contains("Journal newest first · \"FAILOVER\": 1 of 2")
    });
    assert!(!filtered.contains("control-start"), "{filtered}");

    // Enter opens the entry under ▸, whole.
    tmux.keys(&["Enter"]);
    let open = tmux.wait_for("the entry", |s| s.contains("note at "));
    let words: Vec<&str> = open
        .split(|c: char| c.is_whitespace() || c == '║')
        .collect();
    for word in note.split_whitespace() {
        assert!(words.contains(&word), "`{word}` is missing:\n{open}");
    }
    assert!(open.contains("who      e2e"), "{open}");
    assert!(open.contains("what     note"), "{open}");

    // esc closes it; esc again clears the filter.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the entry closed", |s| !s.contains("note at "));
    tmux.keys(&["Escape"]);
    let all = tmux.wait_for("every entry again", |s| s.contains("control-start"));
    assert!(all.contains("journal filter cleared"), "{all}");
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-0"));
}

#[test]
fn the_war_room_fills_the_screen_and_rings_once_for_each_trip() {
    // The incident fixture on a clock 600 times real time: each hour's bake passes in six
    // seconds, and the incident at 25% pauses and rolls back within a few more.
    let Some((dir, tmux)) = open_fixture("war-room", "incident", "--speed 600", &[]) else {
        return;
    };
    // Everything the terminal is sent, to count the bells in it.
    let sent = dir.path().join("sent.bin");
    tmux.run(&[
        "pipe-pane",
        "-t",
        "e2e",
        "-o",
        &format!("cat >> {}", sent.display()),
    ]);
    start_rollout(&tmux);
    tmux.keys(&["z"]);
    let baking = tmux.wait_for("the war room", |s| s.contains("Health war room"));
    assert!(baking.contains("NEXT"), "{baking}");
    let bells = || {
        std::fs::read(&sent)
            .unwrap_or_default()
            .iter()
            .filter(|b| **b == 0x07)
            .count()
    };
    assert_eq!(bells(), 0, "nothing has tripped yet");

    let start = Instant::now();
    let mut screen = tmux.screen();
    while !screen.contains("ROLLED BACK") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no rollback yet:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
        screen = tmux.screen();
    }
    // The state in large letters, the charts with their limits.
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for("the war room without the runbook", |s| {
        !s.contains("Rollback runbook")
    });
    let letters = screen.lines().filter(|l| l.contains("██  ██")).count();
    assert!(letters >= 3, "{screen}");
    assert!(screen.contains("✗ ROLLED BACK"), "{screen}");
    assert!(screen.contains("╌ rollback 5.00%"), "{screen}");
    assert!(
        screen.contains("NEXT  nothing more happens by itself"),
        "{screen}"
    );

    // A bell for each trip at most, never one a frame.
    let journal = std::fs::read_to_string(dir.path().join(".shipdeck/journal.jsonl")).unwrap();
    let trips = journal.matches("\"action\":\"guardrail\"").count();
    let rung = bells();
    assert!(
        (1..=trips).contains(&rung),
        "{rung} bells for {trips} trips"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(bells(), rung, "no bell while nothing new trips");
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("SHIPDECK-EXITED-0"));
}
