//! A real PostgreSQL for tests, from Debian's package (`scripts/deps/postgresql.sh`): a
//! throwaway cluster (initdb + postgres from /usr/lib/postgresql/*/bin, run as the
//! `postgres` user when the tests run as root) on a free loopback port, with trust auth.
//!
//! [`shared`] is the test binary's one cluster; each test takes a fresh database from it
//! ([`Postgres::database`]), so tests never see each other's releases. A test that
//! restarts the server starts its own ([`Postgres::start`]).
//!
//! Missing tools: with `CI` set the test fails and says which installer to run; elsewhere
//! it prints "skipping: ..." and the test returns early.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::unleash::free_port;

/// The newest PostgreSQL whose server binaries are installed.
pub fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// `(uid, gid)` of the account PostgreSQL runs as when the tests run as root
/// (PostgreSQL refuses root); `None` when not root.
pub fn server_account() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .unwrap_or(0);
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let account = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
                .flatten()
        })
    };
    Some(
        account("postgres")
            .or_else(|| account("nobody"))
            .expect("running as root with neither a `postgres` nor a `nobody` account"),
    )
}

pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

pub fn wait_for_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A running PostgreSQL cluster.
pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    account: Option<(u32, u32)>,
    /// Server settings beyond the harness's own (`ssl=on`, ...).
    settings: Vec<String>,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
}

static SHARED: OnceLock<Option<Postgres>> = OnceLock::new();

/// The test binary's one cluster; `None` when PostgreSQL is missing (and `CI` is unset).
pub fn shared() -> Option<&'static Postgres> {
    SHARED.get_or_init(Postgres::start).as_ref()
}

fn installed() -> Option<PathBuf> {
    match pg_bin() {
        Some(bin) => Some(bin),
        None => {
            let missing = "PostgreSQL (initdb/postgres) not installed: scripts/deps/postgresql.sh";
            if std::env::var_os("CI").is_some() {
                panic!("{missing}; CI is set, so the PostgreSQL tests must run");
            }
            eprintln!("skipping: {missing}");
            None
        }
    }
}

impl Postgres {
    /// A new cluster of its own; `None` when PostgreSQL is missing (and `CI` is unset).
    pub fn start() -> Option<Postgres> {
        Postgres::start_with(|_| Vec::new())
    }

    /// A cluster that speaks TLS (and plain TCP), with a certificate for 127.0.0.1 from a
    /// CA of its own; the CA's PEM file is `ca.pem` in [`Postgres::dir`].
    pub fn start_tls() -> Option<Postgres> {
        Postgres::start_with(|dir| {
            super::tls::certificates(dir);
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            if let Some((uid, gid)) = server_account() {
                for f in ["server.crt", "server.key"] {
                    std::os::unix::fs::chown(dir.join(f), Some(uid), Some(gid)).unwrap();
                }
            }
            vec![
                "ssl=on".to_string(),
                format!("ssl_cert_file={}", dir.join("server.crt").display()),
                format!("ssl_key_file={}", dir.join("server.key").display()),
            ]
        })
    }

    /// The cluster's own folder (its data, logs, and any certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn start_with(settings: impl FnOnce(&Path) -> Vec<String>) -> Option<Postgres> {
        let bin = installed()?;
        let dir = tempfile::Builder::new()
            .prefix("shipdeck-pg-")
            .tempdir()
            .unwrap();
        let account = server_account();
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "shipdeck", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null());
        if let Some((uid, gid)) = account {
            initdb.uid(uid).gid(gid);
        }
        let out = initdb.output().unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let settings = settings(dir.path());
        let pg = Postgres {
            port: free_port(),
            bin,
            data,
            account,
            settings,
            child: Mutex::new(None),
            dir,
        };
        pg.run();
        Some(pg)
    }

    fn run(&self) {
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            // Durability is of no use to a database thrown away after the tests.
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=on",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ])
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("postgres.err"))
                    .unwrap(),
            );
        if let Some((uid, gid)) = self.account {
            postgres.uid(uid).gid(gid);
        }
        let child = postgres.spawn().unwrap();
        // A static cluster is never dropped: this watcher takes it down (and its files)
        // when the test process is gone.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -QUIT {} 2>/dev/null; sleep 2; rm -rf {}",
                std::process::id(),
                child.id(),
                self.dir.path().display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        *self.child.lock().unwrap() = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if wait_for_port(self.port, Duration::from_millis(100)) && self.ready() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "PostgreSQL did not come up on 127.0.0.1:{}:\n{}",
            self.port,
            tail(&self.dir.path().join("postgres.err"))
        );
    }

    /// Accepts queries (not only connections: a starting server refuses them for a moment).
    fn ready(&self) -> bool {
        Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "shipdeck",
            ])
            .args(["-d", "postgres", "-Atc", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Stops the server at once (SIGQUIT: every backend ends), and starts it again on the
    /// same port after `down`.
    pub fn restart(&self, down: Duration) {
        self.stop();
        std::thread::sleep(down);
        self.run();
    }

    fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            quit(&mut child, Duration::from_secs(10));
        }
    }

    /// A fresh database; its URL (superuser `shipdeck`, who created it).
    pub fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "shipdeck_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name, "shipdeck")
    }

    /// The URL of `database` for `role`.
    pub fn url(&self, database: &str, role: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` in `database` with psql as the superuser; its output.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|e| panic!("psql {sql:?}: {e}"))
    }

    /// Runs `sql`; its output, or psql's error (the tables not made yet, the server down).
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "shipdeck"])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Stops a PostgreSQL server at once: SIGQUIT, its immediate shutdown, which also ends
/// its backends; SIGKILL if it is not gone within `limit`.
pub fn quit(server: &mut Child, limit: Duration) {
    let _ = Command::new("kill")
        .args(["-QUIT", &server.id().to_string()])
        .status();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// The database name in a URL from [`Postgres::database`].
pub fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
