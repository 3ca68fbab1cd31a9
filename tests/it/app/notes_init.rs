//! `shipdeck notes` and `shipdeck init` with the real binary: the reference release-notes
//! format, and templates that `shipdeck check` accepts, never written over a file.

use std::path::Path;

use shipdeck::app::init::Template;

use crate::support::cli::run;

#[test]
fn notes_print_the_demo_release_in_the_reference_format() {
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/plan.yaml");
    let (code, out, err) = run(&["notes", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "## Version 2.5.0 - March 15, 2025\n\
         \n### ✨ New Features\n\n\
         - Checkout: one-page flow with saved cards\n\
         - Checkout: Apple Pay and Google Pay\n\
         \n### 🔧 Improvements\n\n- Checkout: 50% faster payment confirmation\n\
         \n### 🐛 Bug Fixes\n\n- Fixed: tax rounding on multi-currency carts\n\
         \n### ⚠️ Breaking Changes\n\n- API v1 /checkout deprecated (sunset: June 2025)\n"
    );
    assert!(err.is_empty(), "{err}");
    let (_, plain, _) = run(&["notes", plan.to_str().unwrap(), "--plain"]);
    assert!(plain.contains("\n### New Features\n"), "{plain}");
}

#[test]
fn notes_leave_out_empty_sections_and_say_when_there_are_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flags.yaml"),
        "flags:\n  f: {enabled: false, rollout: 0.0, userGroups: []}\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.yaml");
    let rest = "flag: {name: f, backend: {kind: file, path: flags.yaml}}\nrollout:\n  steps:\n    - {name: All, percent: 100, bake: 1h}\n";
    std::fs::write(
        &plan,
        format!(
            "release:\n  name: r\n  version: 1.2.3\n  strategy: big-bang\n  notes:\n    date: \"2025-06-01\"\n    fixes: [\"Fixed: Email notification delays\"]\n{rest}"
        ),
    )
    .unwrap();
    let (code, out, _) = run(&["notes", plan.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "## Version 1.2.3 - June 1, 2025\n\n### 🐛 Bug Fixes\n\n- Fixed: Email notification delays\n"
    );

    std::fs::write(
        &plan,
        format!("release: {{name: r, version: 1.2.3, strategy: big-bang}}\n{rest}"),
    )
    .unwrap();
    let (code, out, err) = run(&["notes", plan.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("## Version 1.2.3 - "), "{out}");
    assert!(!out.contains("###"), "{out}");
    assert!(err.contains("no release notes yet"), "{err}");
}

#[test]
fn every_template_writes_a_plan_that_check_and_load_accept() {
    for t in Template::ALL {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("release");
        let (code, out, err) = run(&[
            "init",
            "--template",
            t.name(),
            "--name",
            "checkout-v2",
            "--dir",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{}: {out}{err}", t.name());
        assert!(out.contains("wrote "), "{out}");
        let plan_path = d.join("plan.yaml");
        let (code, summary, err) = run(&["check", plan_path.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {err}", t.name());
        assert!(summary.contains("checkout-v2"), "{summary}");

        let plan = shipdeck::plan::load(&plan_path).unwrap();
        assert_eq!(plan.flag.name, "checkout_v2");
        // The flag file the plan names holds its flag, off.
        let flag = shipdeck::flags::file::read_file_flag(&d.join("flags.yaml"), "checkout_v2")
            .unwrap()
            .unwrap();
        assert!(!flag.enabled);
        let text = std::fs::read_to_string(&plan_path).unwrap();
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .count()
                > 10
        );
    }
}

#[test]
fn the_hotfix_template_follows_the_reference_hotfix_process() {
    let dir = tempfile::tempdir().unwrap();
    shipdeck::app::init::write(dir.path(), Template::Hotfix, "checkout").unwrap();
    let plan = shipdeck::plan::load(&dir.path().join("plan.yaml")).unwrap();
    assert_eq!(
        plan.rollout.watch.as_secs(),
        15 * 60,
        "monitor for 15 minutes"
    );
    assert!(
        plan.rollout
            .steps
            .iter()
            .all(|s| s.bake.as_secs() <= 10 * 60)
    );
    let texts: Vec<String> = shipdeck::plan::ListKind::ALL
        .iter()
        .flat_map(|l| {
            plan.checklists
                .list(*l)
                .iter()
                .map(|i| i.text.to_lowercase())
        })
        .collect();
    for want in [
        "triage",
        "minimal fix",
        "test covering the issue",
        "fast-track code review",
        "verify fix in production",
        "monitor for 15 minutes",
        "merge hotfix to main",
        "document in incident log",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(want)),
            "no `{want}` in {texts:?}"
        );
    }
}

#[test]
fn init_never_overwrites_and_writes_nothing_when_a_file_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags.yaml");
    std::fs::write(&flags, "flags: {}\n# mine\n").unwrap();
    let (code, out, err) = run(&["init", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("flags.yaml already exists"), "{err}");
    assert!(err.contains("never overwrites"), "{err}");
    assert!(
        !dir.path().join("plan.yaml").exists(),
        "nothing half-written"
    );
    assert_eq!(
        std::fs::read_to_string(&flags).unwrap(),
        "flags: {}\n# mine\n"
    );

    std::fs::remove_file(&flags).unwrap();
    let (code, _, _) = run(&["init", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    let before = std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap();
    let (code, _, err) = run(&[
        "init",
        "--template",
        "hotfix",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("plan.yaml already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("plan.yaml")).unwrap(),
        before
    );
}

#[test]
fn init_names_the_release_after_its_folder_and_refuses_a_bad_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("Search API");
    let (code, _, err) = run(&["init", "--dir", d.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let plan = shipdeck::plan::load(&d.join("plan.yaml")).unwrap();
    assert_eq!(plan.release.name, "search-api");
    assert_eq!(plan.flag.name, "search_api");

    let (code, _, err) = run(&[
        "init",
        "--name",
        "bad name: {x}",
        "--dir",
        dir.path().join("other").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--name `bad name: {x}` cannot name a release"),
        "{err}"
    );
    assert!(!dir.path().join("other").exists());
}
