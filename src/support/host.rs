//! support::host: this machine's name, for saying who holds a release. Reads it, never
//! fails: a machine that will not say is `unknown`.

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

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_is_never_empty() {
        assert!(!super::name().is_empty());
    }
}
