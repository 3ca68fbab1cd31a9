//! `shipdeck completions` and `shipdeck man`: generated from the command line itself.

use crate::support::cli::run;

#[test]
fn each_shells_completion_script_names_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, script, stderr) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(!script.trim().is_empty(), "{shell}: an empty script");
        for command in ["rollback", "promote", "journal"] {
            assert!(
                script.contains(command),
                "{shell}: no {command} in the script"
            );
        }
    }
    let (code, _, stderr) = run(&["completions", "cmd.exe"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn the_man_page_opens_with_its_title_and_lists_the_commands() {
    let (code, page, stderr) = run(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        page.starts_with(".TH shipdeck 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("rollback"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
}
