//! args: every command's arguments and the help text clap prints for them. Owns the
//! shape of the command line; acts on none of it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use crate::app::demo::DemoArgs;
use crate::app::options::{ClockArgs, parse_time};
use crate::plan;

#[derive(Debug, Parser)]
#[command(
    name = "shipdeck",
    version,
    about = "A terminal release control room: progressive rollouts driven by real metrics and guardrails"
)]
pub struct Cli {
    /// Who is acting (journaled with every action); default $SHIPDECK_OPERATOR, then $USER.
    #[arg(long, global = true, env = "SHIPDECK_OPERATOR")]
    pub operator: Option<String>,
    /// Where state.json, journal.jsonl and the lock live; default .shipdeck/ beside the plan.
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// Where releases are kept: `file` (beside the plan) or `postgres` (the database at
    /// $SHIPDECK_DATABASE_URL, shared by every machine). Default: the plan's `store:`, else file.
    #[arg(long, global = true, value_enum)]
    pub store: Option<StoreArg>,
    /// With `--store postgres` and no command (the fleet screen): where to look for plans,
    /// so that enter opens a release; `*.yaml` here and one folder down. Repeatable;
    /// default: the current directory.
    #[arg(long, value_name = "DIR")]
    pub plan_dir: Vec<PathBuf>,
    /// With no command (the fleet screen, or the demo): dark, light, high-contrast, or a
    /// theme file.
    #[arg(long)]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreArg {
    File,
    Postgres,
}

impl From<StoreArg> for plan::StoreKind {
    fn from(s: StoreArg) -> Self {
        match s {
            StoreArg::File => plan::StoreKind::File,
            StoreArg::Postgres => plan::StoreKind::Postgres,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The built-in demo: a release, an incident and an automatic rollback, with no setup.
    Demo(DemoArgs),
    /// The control room on a real plan.
    Open(OpenArgs),
    /// Drive a release with no screen (CI/CD, cron).
    Run(RunArgs),
    /// Validate a plan and run each metrics query once; exit 2 with file:line:column errors
    /// or with the series whose query failed.
    Check(CheckArgs),
    /// When would these guardrails have paused or rolled back? The plan over past metrics.
    Backtest(BacktestArgs),
    /// Judge a canary's samples against a baseline's, offline: the same Mann-Whitney test,
    /// Hodges-Lehmann shift and verdict the canary judge gives a release (exit 0 pass,
    /// 3 high or low, 4 no data, 2 invalid input).
    Judge(JudgeArgs),
    /// Play a flight recording (`--record`): on the screen, or headless to check that the
    /// engine still decides the same.
    Replay(ReplayArgs),
    /// Where a release stands, and why.
    Status {
        /// The plan file; default: ./plan.yaml.
        plan: Option<PathBuf>,
        /// One JSON object: the saved progress, the holder, its heartbeat and how many
        /// journal entries there are.
        #[arg(long)]
        json: bool,
    },
    /// Promote to the next step (or start the rollout).
    Promote(ActArgs),
    /// Pause the rollout: timers freeze, the percent holds.
    #[command(mut_arg("force", |a| a.help(NOTHING_TO_FORCE)))]
    Pause(ActArgs),
    /// Resume a paused rollout.
    #[command(mut_arg("force", |a| a.help(
        "Resume while a pause or rollback guardrail still trips or data is stale (journaled as forced)"
    )))]
    Resume(ActArgs),
    /// Roll back: the flag is disabled at once.
    #[command(mut_arg("force", |a| a.help(NOTHING_TO_FORCE)))]
    Rollback(ActArgs),
    /// After a rollback, start a new attempt of the release (the fixed build: a new
    /// version in the plan, or the same one); it goes back to READY, the journal keeps the
    /// earlier attempt.
    Redeploy(ActArgs),
    /// Feature flags: evaluate who gets a flag.
    #[command(subcommand)]
    Flags(FlagsCmd),
    /// Tick a checklist item by hand (through the controller holding the release, if any).
    // `tick ITEM` alone takes ./plan.yaml: the one value is the item.
    #[command(allow_missing_positional = true)]
    Tick(TickArgs),
    /// Write a note from the room into the journal (through the controller holding the
    /// release, if any); `journal --markdown` lists the notes for the postmortem.
    // `note TEXT` alone takes ./plan.yaml: the one value is the note.
    #[command(allow_missing_positional = true)]
    Note(NoteArgs),
    /// The plan's release notes as Markdown.
    Notes {
        /// The plan file; default: ./plan.yaml.
        plan: Option<PathBuf>,
        /// Leave out the section marks (✨ 🔧 🐛 ⚠️).
        #[arg(long)]
        plain: bool,
    },
    /// Write a commented plan.yaml and flags.yaml to start a release from.
    Init(InitArgs),
    /// Every release in the store (PostgreSQL): what is rolling out right now, who guards
    /// it, and its last guardrail trip.
    Releases {
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Move a release between stores.
    #[command(subcommand)]
    Store(StoreCmd),
    /// A shell's completion script, on stdout (e.g. `shipdeck completions bash >
    /// /etc/bash_completion.d/shipdeck`).
    Completions {
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// The manual page, as roff on stdout (`shipdeck man > shipdeck.1`).
    Man,
    /// The journal: every action and decision.
    Journal {
        /// The plan file; default: ./plan.yaml.
        plan: Option<PathBuf>,
        /// A Markdown timeline, ready for the postmortem.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

impl From<ShellArg> for clap_complete::Shell {
    fn from(s: ShellArg) -> Self {
        match s {
            ShellArg::Bash => clap_complete::Shell::Bash,
            ShellArg::Zsh => clap_complete::Shell::Zsh,
            ShellArg::Fish => clap_complete::Shell::Fish,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy a release's state and journal from its files into the database, so every
    /// machine can share it. Refused while a controller holds the release.
    Copy {
        /// The plan file; default: ./plan.yaml.
        plan: Option<PathBuf>,
        /// The store to copy into.
        #[arg(long, value_enum)]
        to: StoreArg,
    },
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
    #[command(flatten)]
    pub clock: ClockArgs,
    /// Record every sample batch, command and decision to this new file, for `shipdeck replay`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Serve this release's state as Prometheus metrics at http://ADDR/metrics
    /// (`127.0.0.1:9464`, or `:9464` for every interface).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// The plan's steps changed under a release in the middle of its rollout: take them,
    /// pausing on the highest step at or below the flag's live percent (journaled).
    #[arg(long)]
    pub accept_plan_change: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// Ask the metrics queries at this time (RFC 3339) instead of now.
    #[arg(long, value_parser = parse_time)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Validate the file only; do not contact the metrics source.
    #[arg(long)]
    pub(crate) no_probe: bool,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// Start of the range (RFC 3339); the first `baseline_window` of it is the baseline.
    #[arg(long, value_parser = parse_time)]
    pub from: chrono::DateTime<chrono::Utc>,
    /// End of the range (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub to: chrono::DateTime<chrono::Utc>,
    /// The report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// The baseline's samples: one number per line, a CSV with the numbers in its last
    /// column, a JSON array of numbers, or a Prometheus query_range answer with one series.
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The canary's samples, in any of the same forms.
    #[arg(long, value_name = "FILE")]
    pub canary: PathBuf,
    /// Of the shift's interval, in (0, 1).
    #[arg(long, default_value_t = 0.98)]
    pub confidence: f64,
    /// The tolerance band is ±tolerance × |shift|: High or Low needs the whole interval
    /// outside it.
    #[arg(long, default_value_t = 0.25)]
    pub tolerance: f64,
    /// Which change fails: increase (latency, errors), decrease (throughput), or either.
    #[arg(long, value_enum, default_value = "either")]
    pub direction: DirectionArg,
    /// Drop each arm's outliers beyond Kayenta's IQR fences with this factor (e.g. 3).
    #[arg(long, value_name = "FACTOR")]
    pub remove_outliers: Option<f64>,
    /// Fewer samples than this in either arm, after NaN and outliers are dropped, is no data.
    #[arg(long, default_value_t = 10)]
    pub min_samples: usize,
    /// How the size of the change is measured.
    #[arg(long, value_enum, default_value = "mean-ratio")]
    pub effect_size: EffectArg,
    /// High needs an effect at least this big (default: none, 1 for mean-ratio, 0.5 for cles).
    #[arg(long, value_name = "EFFECT")]
    pub allowed_increase: Option<f64>,
    /// Low needs an effect at most this big (default: none, as for --allowed-increase).
    #[arg(long, value_name = "EFFECT")]
    pub allowed_decrease: Option<f64>,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DirectionArg {
    Increase,
    Decrease,
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EffectArg {
    MeanRatio,
    Cles,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording: the file `open` or `run` wrote with `--record FILE`.
    pub recording: PathBuf,
    /// Engine seconds per real second; default: the recorded speed on screen, as fast as
    /// possible headless. Above 0, at most 1000000.
    #[arg(long, value_parser = crate::app::options::parse_speed, allow_hyphen_values = true)]
    pub speed: Option<f64>,
    /// No screen: feed the recorded inputs to the engine and compare its decisions with the
    /// recorded ones (exit 0 the same, 1 diverged).
    #[arg(long)]
    pub headless: bool,
    /// Headless output as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// dark, light, high-contrast, or a theme file.
    #[arg(long)]
    pub theme: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// No screen (the only way `run` works; kept explicit for scripts).
    #[arg(long)]
    pub headless: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Evaluate once at the current clock and exit (for cron).
    #[arg(long)]
    pub once: bool,
    /// Wait for `shipdeck promote` at manual approvals instead of exiting 4.
    #[arg(long)]
    pub wait_for_approval: bool,
    /// Stand by while another controller holds the release, and take over within seconds
    /// when it dies, loses its connection or freezes (on any machine sharing the store).
    #[arg(long, conflicts_with = "once")]
    pub standby: bool,
    /// How long (engine time) a guardrail pause may last before exiting 4.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub max_pause: Duration,
    #[command(flatten)]
    pub clock: ClockArgs,
    /// Record every sample batch, command and decision to this new file, for `shipdeck replay`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Serve this release's state as Prometheus metrics at http://ADDR/metrics
    /// (`127.0.0.1:9464`, or `:9464` for every interface).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// The plan's steps changed under a release in the middle of its rollout: take them,
    /// pausing on the highest step at or below the flag's live percent (journaled).
    #[arg(long)]
    pub accept_plan_change: bool,
}

/// `--force` where nothing can be in the way: a pause and a rollback are never refused
/// for the rollout's state, only for being already done.
const NOTHING_TO_FORCE: &str = "Changes nothing: no check holds this command back (it is refused only when \
     there is nothing to do), so there is nothing to force; accepted so that a script or a \
     hurried hand that adds it is not refused";

#[derive(Debug, Args)]
pub struct ActArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// Why (journaled).
    #[arg(long)]
    pub reason: Option<String>,
    /// Promote past what holds it (journaled as forced): at the start, stages not passed
    /// and open pre-release items; later, guardrails not clear, stale data, a flag not yet
    /// confirmed, a starved step.
    #[arg(long)]
    pub force: bool,
    /// How long the flag backend may take to confirm the change (a rollback: the flag read
    /// back off) before the command exits 4.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,
}

#[derive(Debug, Args)]
pub struct TickArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// The item's text, in any case; a unique prefix is enough.
    pub item: String,
    /// Look only in this list: pre-release, release-day, post-release or rollback.
    #[arg(long, value_parser = crate::pipeline::checks::parse_list)]
    pub list: Option<crate::plan::ListKind>,
    /// Untick the item instead.
    #[arg(long)]
    pub undo: bool,
    /// Why (journaled).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The plan file; default: ./plan.yaml.
    pub plan: Option<PathBuf>,
    /// What the room knows that the metrics do not, in quotes: "DB failover at 14:02".
    pub text: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The shape of the release the plan starts from.
    #[arg(long, value_enum, default_value = "canary")]
    pub template: crate::app::init::Template,
    /// The release name; default: the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Where to write plan.yaml and flags.yaml (made if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum FlagsCmd {
    /// Would this user get the flag? Same bucketing as Unleash's gradual rollout.
    Eval {
        /// The flag's name.
        flag: String,
        /// The user's id: what the SDKs bucket (Unleash's userId, flagd's targetingKey).
        #[arg(long)]
        user: String,
        /// The user's groups, comma-separated: a member of one of the flag's groups gets
        /// it whatever the bucket says.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The YAML flag file to read the flag from (not read with --plan).
        #[arg(long, default_value = "flags.yaml")]
        file: PathBuf,
        /// Read the flag from this plan's backend (file, flagd or Unleash) and bucket the
        /// way that backend's SDKs do, instead of reading --file.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// The verdict as one JSON object: flag, user, enabled, bucket, reason.
        #[arg(long)]
        json: bool,
    },
    /// The plan's flag as its backend holds it, with a bucket preview for every step.
    List {
        /// The plan file; default: ./plan.yaml.
        plan: Option<PathBuf>,
        /// How many sample users (user-0, user-1, …) the preview buckets.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// One JSON object: the flag, the preview by step and the file's other flags.
        #[arg(long)]
        json: bool,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    plan::units::parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every option and argument of every command, with the commands that lead to it.
    fn arguments(cmd: &clap::Command, path: &str, out: &mut Vec<(String, Option<String>)>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string());
            out.push((format!("{path} {id}"), help));
        }
        for sub in cmd.get_subcommands() {
            arguments(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_option_and_argument_says_what_it_is_for() {
        let mut all = Vec::new();
        arguments(&Cli::command(), "shipdeck", &mut all);
        let silent: Vec<&str> = all
            .iter()
            .filter(|(_, help)| help.as_deref().is_none_or(|h| h.trim().is_empty()))
            .map(|(name, _)| name.as_str())
            .collect();
        assert!(silent.is_empty(), "no help for: {silent:#?}");
        assert!(
            all.len() > 50,
            "{} arguments: the walk missed some",
            all.len()
        );
    }

    #[test]
    fn force_says_what_it_does_for_each_command() {
        let mut all = Vec::new();
        arguments(&Cli::command(), "shipdeck", &mut all);
        let force = |command: &str| {
            all.iter()
                .find(|(name, _)| *name == format!("shipdeck {command} force"))
                .and_then(|(_, help)| help.clone())
                .unwrap_or_default()
        };
        assert!(force("promote").contains("pre-release items"));
        assert!(force("resume").contains("guardrail"));
        for command in ["pause", "rollback"] {
            let help = force(command);
            assert!(help.starts_with("Changes nothing"), "{command}: {help}");
            assert!(!help.contains("checklist"), "{command}: {help}");
        }
    }
}
