//! store::trust: who may write the state directory. shipdeck acts on what it finds there —
//! a request rolls the release back, a torn journal line is cut off — so a directory or
//! file that someone else could have written is refused, never used. Owns the rule and
//! the words that say how to fix what breaks it; never opens anything itself.
//!
//! The rule: no write bit for group or others; and, for a process that writes, an owner
//! that is this process's user or root. Reading only (`status`, `journal`) trusts any
//! owner, since it acts on nothing: it still refuses what others could write.

use std::fs::Metadata;
use std::path::Path;

use crate::support::fmt::shell_word;
use crate::support::host::Account;
use crate::support::plain_file::Special;

/// What the caller will do with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Write, or act on what is read (the controller, a command that posts).
    Write,
    /// Only show it.
    Read,
}

/// Why a state directory or file is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// Group or others may write it (`mode` holds its permission bits).
    WritableByOthers { mode: u32 },
    /// Neither this process's user nor root owns it.
    OwnedByOther { owner: Account, me: Account },
    /// Where shipdeck keeps a plain file of its own: a link, a FIFO, a directory, ...
    NotPlain(Special),
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distrust::WritableByOthers { mode } => write!(
                f,
                "is writable by group or others (mode {mode:04o}), so they could plant files shipdeck would act on"
            ),
            Distrust::OwnedByOther { owner, me } => {
                let nor_root = if me.is_root() { "" } else { ", nor by root" };
                write!(
                    f,
                    "is owned by {owner}, not by {me} who runs shipdeck{nor_root}; its owner could plant files shipdeck would act on"
                )
            }
            Distrust::NotPlain(kind) => write!(
                f,
                "is {kind} where shipdeck keeps a plain file of its own; it never follows a link or reads a special file in its state directory"
            ),
        }
    }
}

impl Distrust {
    /// The command that fixes it, for `path`.
    pub fn fix(&self, path: &Path, is_dir: bool) -> String {
        let word = shell_word(path);
        match self {
            Distrust::WritableByOthers { .. } => format!("fix it with `chmod go-w {word}`"),
            Distrust::OwnedByOther { owner, me } => {
                let recursive = if is_dir { "-R " } else { "" };
                format!(
                    "fix it with `chown {recursive}{} {word}`, or run shipdeck as {}",
                    me.handle(),
                    owner.handle()
                )
            }
            Distrust::NotPlain(Special::Link) => format!(
                "remove the link (`rm {word}`); to keep the state elsewhere, pass --state-dir DIR"
            ),
            Distrust::NotPlain(_) => format!("move it away (`mv {word} {word}.bad`)"),
        }
    }
}

/// Judges what `fstat`/`stat` said of a state directory or file.
pub(crate) fn judge(meta: &Metadata, access: Access) -> Result<(), Distrust> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = crate::support::host::effective_uid();
        judge_owner(meta.uid(), meta.mode(), me, access)
    }
    #[cfg(not(unix))]
    {
        let _ = (meta, access);
        Ok(())
    }
}

/// The rule itself, on numbers.
fn judge_owner(owner: u32, mode: u32, me: u32, access: Access) -> Result<(), Distrust> {
    if mode & 0o022 != 0 {
        return Err(Distrust::WritableByOthers {
            mode: mode & 0o7777,
        });
    }
    if access == Access::Write && owner != me && owner != 0 {
        return Err(Distrust::OwnedByOther {
            owner: Account::of_uid(owner),
            me: Account::of_uid(me),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: u32 = 1000;
    const BOB: u32 = 1001;

    #[test]
    fn owner_only_writes_are_trusted_from_the_user_or_root() {
        for access in [Access::Write, Access::Read] {
            assert_eq!(judge_owner(ALICE, 0o40700, ALICE, access), Ok(()));
            assert_eq!(judge_owner(0, 0o40755, ALICE, access), Ok(()));
            assert_eq!(judge_owner(ALICE, 0o100600, ALICE, access), Ok(()));
            assert_eq!(judge_owner(0, 0o100644, 0, access), Ok(()));
        }
    }

    #[test]
    fn group_or_world_write_bits_are_refused_whoever_owns_it() {
        for (mode, bits) in [(0o40777, 0o777), (0o41777, 0o1777), (0o100620, 0o620)] {
            for owner in [0, ALICE] {
                for access in [Access::Write, Access::Read] {
                    assert_eq!(
                        judge_owner(owner, mode, ALICE, access),
                        Err(Distrust::WritableByOthers { mode: bits })
                    );
                }
            }
        }
    }

    #[test]
    fn another_users_directory_is_refused_for_writing_only() {
        assert!(matches!(
            judge_owner(BOB, 0o40700, ALICE, Access::Write),
            Err(Distrust::OwnedByOther { .. })
        ));
        // Root too: a root process must not write through a user's planted links.
        assert!(matches!(
            judge_owner(ALICE, 0o40700, 0, Access::Write),
            Err(Distrust::OwnedByOther { .. })
        ));
        assert_eq!(judge_owner(BOB, 0o40700, ALICE, Access::Read), Ok(()));
    }

    #[test]
    fn each_refusal_says_how_to_fix_it() {
        let path = Path::new("/srv/my app/.shipdeck");
        let loose = Distrust::WritableByOthers { mode: 0o777 };
        assert_eq!(
            loose.fix(path, true),
            "fix it with `chmod go-w '/srv/my app/.shipdeck'`"
        );
        assert!(loose.to_string().contains("mode 0777"));
        let theirs = Distrust::OwnedByOther {
            owner: Account {
                uid: BOB,
                name: Some("bob".into()),
            },
            me: Account {
                uid: 0,
                name: Some("root".into()),
            },
        };
        assert_eq!(
            theirs.fix(path, true),
            "fix it with `chown -R root '/srv/my app/.shipdeck'`, or run shipdeck as bob"
        );
        assert_eq!(
            theirs.to_string(),
            "is owned by bob (uid 1001), not by root (uid 0) who runs shipdeck; its owner could plant files shipdeck would act on"
        );
        let link = Distrust::NotPlain(Special::Link);
        assert!(
            link.fix(Path::new("/x/journal.jsonl"), false)
                .contains("`rm /x/journal.jsonl`")
        );
    }
}
