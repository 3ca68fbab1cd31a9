//! flags: `shipdeck flags eval` and `shipdeck flags list`, who gets the flag and how the
//! plan's backend holds it. Reads flags only; never changes one.

use anyhow::Result;
use std::path::Path;

use super::load::load_plan;
use crate::app::options::INVALID;
use crate::plan;

/// A flag error's exit code: 1 for a backend that could not be reached or refused
/// (try again), 2 for input the user can fix.
fn flag_error_code(e: &crate::flags::FlagError) -> u8 {
    match e {
        crate::flags::FlagError::Unleash { .. } => 1,
        _ => INVALID,
    }
}

/// `shipdeck flags eval`: from a flag file, or from a plan's backend with its bucketing.
pub(super) async fn flags_eval(
    flag: &str,
    user: &str,
    groups: &[String],
    file: &Path,
    plan: Option<&Path>,
    json: bool,
) -> Result<u8> {
    let eval = match plan {
        Some(path) => {
            let plan = match load_plan(Some(path), "flags eval") {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let spec = plan::FlagSpec {
                name: flag.to_string(),
                ..plan.flag.clone()
            };
            match crate::flags::inspect(&spec).await {
                Ok(found) if found.state.is_none() => {
                    let names = crate::flags::flag_names(&spec.backend);
                    eprintln!("{}", crate::flags::not_found(found.backend, flag, &names));
                    return Ok(INVALID);
                }
                Ok(found) => found.evaluate(user, groups),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(flag_error_code(&e));
                }
            }
        }
        None => match crate::flags::file::read_file_flag(file, flag) {
            Ok(Some(state)) => crate::flags::bucket::evaluate(flag, Some(&state), user, groups),
            Ok(None) => {
                let names = crate::flags::flag_names(&plan::BackendSpec::File {
                    path: file.to_path_buf(),
                });
                let where_ = crate::support::fmt::shell_word(file);
                eprintln!("{}", crate::flags::not_found(where_, flag, &names));
                return Ok(INVALID);
            }
            Err(e) => {
                eprintln!("{e}");
                return Ok(INVALID);
            }
        },
    };
    if json {
        out!("{}", serde_json::to_string(&eval)?);
    } else {
        let word = if eval.enabled { "ON" } else { "off" };
        out!("{} for {}: {word} ({})", eval.flag, eval.user, eval.why());
    }
    Ok(0)
}

/// `shipdeck flags list PLAN`: the flag where the plan's backend keeps it, and how many
/// sample users each step reaches by that backend's buckets.
pub(super) async fn flags_list(path: Option<&Path>, users: usize, json: bool) -> Result<u8> {
    let plan = match load_plan(path, "flags list") {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let found = match crate::flags::inspect(&plan.flag).await {
        Ok(found) => found,
        Err(e) => {
            eprintln!("{e}");
            return Ok(flag_error_code(&e));
        }
    };
    let steps: Vec<serde_json::Value> = plan
        .rollout
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "step": s.name, "percent": s.percent, "groups": s.groups,
                "reach": found.reach(s.percent, users),
            })
        })
        .collect();
    let others = match &plan.flag.backend {
        plan::BackendSpec::File { path } => crate::flags::list_flags(path)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| *name != plan.flag.name)
            .collect(),
        _ => Vec::new(),
    };
    if json {
        let value = serde_json::json!({
            "flag": found, "sample_users": users, "steps": steps,
            "other_flags": others.iter().map(|(n, s)| serde_json::json!({"name": n, "state": s})).collect::<Vec<_>>(),
        });
        out!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let state = found.state.as_ref().map_or(
        "missing (shipdeck creates it off at 0% on start)".into(),
        |s| format!("{} [{}]", s.summary(), s.kind.name()),
    );
    out_line!("{} in {}: {state}", found.flag, found.backend);
    match &found.bucketing {
        crate::flags::Bucketing::Flagd => out_line!(
            "  bucketing: flagd fractional over \"{}<user>\" (murmur3)",
            found.flag
        ),
        crate::flags::Bucketing::Unleash {
            group_id,
            stickiness,
        } => out_line!(
            "  bucketing: Unleash gradual rollout, murmur3(\"{group_id}:<user>\") % 100 + 1, stickiness {stickiness}"
        ),
    }
    if let Some(s) = &found.state {
        let now = found.reach(if s.enabled { s.percent() } else { 0 }, users);
        out_line!("  now: {now} of {users} sample users outside the groups");
    }
    out_line!("  preview over {users} sample users (user-0 …) by step:");
    for (step, value) in plan.rollout.steps.iter().zip(&steps) {
        let reach = value["reach"].as_u64().unwrap_or_default();
        let groups = if step.groups.is_empty() {
            String::new()
        } else {
            format!("  + everyone in [{}]", step.groups.join(", "))
        };
        out_line!(
            "    {:<16} {:>3}%  {reach:>6} users ({:.1}%){groups}",
            step.name,
            step.percent,
            reach as f64 * 100.0 / users.max(1) as f64
        );
    }
    // The first few of the sample users, never more than the preview counted.
    let samples: Vec<String> = (0..users.min(5))
        .map(|i| {
            let user = format!("user-{i}");
            format!("{user} bucket {}", found.evaluate(&user, &[]).bucket)
        })
        .collect();
    if !samples.is_empty() {
        out_line!("  sample buckets: {}", samples.join(", "));
    }
    if !others.is_empty() {
        out_line!("  other flags in the file:");
        for (name, s) in &others {
            out_line!("    {name:<24} {} [{}]", s.summary(), s.kind.name());
        }
    }
    Ok(0)
}
