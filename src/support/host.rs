//! support::host: this machine's name, for saying who holds a release, and its user
//! accounts, for saying who wrote a file. Reads them, never fails: a machine that will not
//! say is `unknown`, an account without a name is its uid.

/// The kernel's host name, else `/etc/hostname`, else `$HOSTNAME`, else `unknown`.
pub fn name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A user account of this machine: its uid, and its name when the system knows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub name: Option<String>,
}

impl Account {
    /// The account `uid`, named as the password database (or NSS) names it.
    pub fn of_uid(uid: u32) -> Account {
        Account {
            uid,
            name: lookup(uid),
        }
    }

    /// The account this process acts as (its effective uid).
    pub fn me() -> Account {
        Account::of_uid(effective_uid())
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Its name, else its uid: what `chown` takes.
    pub fn handle(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

/// `alice (uid 1000)`, or `uid 1000` for an account without a name.
impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} (uid {})", self.uid),
            None => write!(f, "uid {}", self.uid),
        }
    }
}

#[cfg(unix)]
pub fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
pub fn effective_uid() -> u32 {
    0
}

#[cfg(unix)]
fn lookup(uid: u32) -> Option<String> {
    uzers::get_user_by_uid(uid).map(|u| u.name().to_string_lossy().into_owned())
}

#[cfg(not(unix))]
fn lookup(_uid: u32) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_never_empty() {
        assert!(!super::name().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn root_is_named_and_an_unknown_uid_is_its_number() {
        let root = Account::of_uid(0);
        assert_eq!(root.name.as_deref(), Some("root"));
        assert!(root.is_root());
        assert_eq!(root.to_string(), "root (uid 0)");
        let nobody = Account {
            uid: 4_000_000_000,
            name: None,
        };
        assert_eq!(nobody.to_string(), "uid 4000000000");
        assert_eq!(nobody.handle(), "4000000000");
    }
}
