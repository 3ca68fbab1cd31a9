//! A real Unleash for tests: a throwaway PostgreSQL cluster (initdb + postgres from
//! /usr/lib/postgresql/*/bin, run as the `postgres` user when the tests run as root) on a
//! free loopback port, a fresh database, and the npm `unleash-server` package started by
//! `tests/js/unleash-server.mjs` on another free port with an admin and a client token.
//!
//! One server per test binary ([`shared`]): starting Unleash takes seconds and the
//! machine has two cores. A static is never dropped, so the node process watches the
//! test process and takes itself and PostgreSQL down when it is gone; a server from
//! [`Unleash::start`] is killed by pid on Drop.
//!
//! Missing tools: with `CI` set the test fails and says which installer to run
//! (`scripts/deps/postgresql.sh`, `scripts/deps/unleash.sh`); elsewhere it prints
//! "skipping: ..." and the test returns early.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::postgres::{pg_bin, quit, server_account, tail, wait_for_port};

/// How long a cold Unleash may take to migrate its database and answer `/health`.
const START_LIMIT: Duration = Duration::from_secs(180);

/// The tools the harness needs, found on this machine.
struct Tools {
    pg_bin: PathBuf,
    node: PathBuf,
    server_dir: PathBuf,
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tools() -> Option<Tools> {
    let server_dir = manifest_dir().join("target").join("unleash-server");
    let installed = server_dir
        .join("node_modules")
        .join("unleash-server")
        .join("package.json")
        .is_file();
    let missing = match (pg_bin(), which("node"), installed) {
        (Some(pg_bin), Some(node), true) => {
            return Some(Tools {
                pg_bin,
                node,
                server_dir,
            });
        }
        (None, _, _) => "PostgreSQL (initdb/postgres) not installed: scripts/deps/postgresql.sh",
        (_, None, _) => "node not found on PATH (Node 20 or newer)",
        (_, _, false) => "unleash-server not installed: scripts/deps/unleash.sh",
    };
    if std::env::var_os("CI").is_some() {
        panic!("{missing}; CI is set, so the Unleash tests must run");
    }
    eprintln!("skipping: {missing}");
    None
}

/// A free loopback port (the kernel's pick; free again by the time we return it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on loopback with a plain HTTP/1.0 request: the status code, if any answer.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A running Unleash over its own PostgreSQL.
pub struct Unleash {
    pub port: u16,
    pub admin_token: String,
    pub client_token: String,
    /// The environment the client token is for (and the tests use).
    pub environment: &'static str,
    node: Mutex<Option<Child>>,
    postgres: Mutex<Option<Child>>,
    _dir: tempfile::TempDir,
}

static SHARED: OnceLock<Option<Unleash>> = OnceLock::new();

/// The test binary's one Unleash, started on first use; `None` when the tools are
/// missing (and `CI` is unset).
pub fn shared() -> Option<&'static Unleash> {
    SHARED.get_or_init(Unleash::start).as_ref()
}

impl Unleash {
    /// Starts PostgreSQL and Unleash; `None` when the tools are missing (and `CI` is unset).
    pub fn start() -> Option<Unleash> {
        let tools = tools()?;
        let dir = tempfile::Builder::new()
            .prefix("shipdeck-unleash-")
            .tempdir()
            .unwrap();
        let account = server_account();
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let as_server = |command: &mut Command| {
            if let Some((uid, gid)) = account {
                command.uid(uid).gid(gid);
            }
        };
        let data = dir.path().join("data");
        let mut initdb = Command::new(tools.pg_bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "shipdeck", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null());
        as_server(&mut initdb);
        let out = initdb.output().unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let db_port = free_port();
        let pg_log = dir.path().join("postgres.log");
        let mut postgres = Command::new(tools.pg_bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &db_port.to_string(), "-k"])
            .arg(dir.path())
            // Durability is of no use to a database thrown away after the tests.
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&pg_log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("postgres.err")).unwrap());
        as_server(&mut postgres);
        let mut postgres = postgres.spawn().unwrap();
        if !wait_for_port(db_port, Duration::from_secs(30)) {
            let _ = postgres.kill();
            panic!(
                "PostgreSQL did not listen on 127.0.0.1:{db_port}:\n{}",
                tail(&dir.path().join("postgres.err"))
            );
        }
        let database = format!("unleash_{}", std::process::id());
        let out = Command::new(tools.pg_bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &db_port.to_string(),
                "-U",
                "shipdeck",
            ])
            .arg(&database)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let nonce = format!(
            "{}{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin_token = format!("*:*.shipdeck-admin-{nonce}");
        let client_token = format!("*:development.shipdeck-client-{nonce}");
        let port = free_port();
        let log = dir.path().join("unleash.log");
        let node = Command::new(&tools.node)
            .arg(manifest_dir().join("tests/js/unleash-server.mjs"))
            .env("UNLEASH_SERVER_DIR", &tools.server_dir)
            .env("UNLEASH_PORT", port.to_string())
            .env("UNLEASH_DB_PORT", db_port.to_string())
            .env("UNLEASH_DB_USER", "shipdeck")
            .env("UNLEASH_DB_NAME", &database)
            .env("UNLEASH_ADMIN_TOKEN", &admin_token)
            .env("UNLEASH_CLIENT_TOKEN", &client_token)
            .env("WATCH_PARENT_PID", std::process::id().to_string())
            .env("WATCH_KILL_PID", postgres.id().to_string())
            .env("WATCH_REMOVE_DIR", dir.path())
            .env("SEND_TELEMETRY", "false")
            .env("CHECK_VERSION", "false")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("unleash.err")).unwrap())
            .spawn()
            .unwrap();
        let server = Unleash {
            port,
            admin_token,
            client_token,
            environment: "development",
            node: Mutex::new(Some(node)),
            postgres: Mutex::new(Some(postgres)),
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if http_status(port, "/health") == Some(200) {
                break;
            }
            let exited = server
                .node
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|n| n.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > START_LIMIT {
                panic!(
                    "Unleash did not come up on 127.0.0.1:{port} ({}):\n{}\n{}",
                    exited.map_or("timed out".to_string(), |s| s.to_string()),
                    tail(&server._dir.path().join("unleash.log")),
                    tail(&server._dir.path().join("unleash.err"))
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "unleash: up on 127.0.0.1:{port} in {:.1}s",
            start.elapsed().as_secs_f64()
        );
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A call to Unleash's HTTP API with `token`; the status and the JSON answer (Null when
    /// the body is empty or not JSON).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .header("Authorization", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// An Admin API call.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.api(method, path, &self.admin_token, body).await
    }

    /// The flag as SDKs see it: its entry in `/api/client/features` (client token).
    pub async fn client_feature(&self, flag: &str) -> Option<serde_json::Value> {
        let (status, body) = self
            .api(
                reqwest::Method::GET,
                "/api/client/features",
                &self.client_token,
                None,
            )
            .await;
        assert_eq!(status, 200, "client features: {body}");
        body["features"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == flag)
            .cloned()
    }
}

impl Drop for Unleash {
    fn drop(&mut self) {
        if let Some(mut node) = self.node.lock().unwrap().take() {
            let _ = node.kill();
            let _ = node.wait();
        }
        if let Some(mut postgres) = self.postgres.lock().unwrap().take() {
            quit(&mut postgres, Duration::from_secs(5));
        }
    }
}

/// A loopback TCP relay in front of a server that a test can cut: while it is down every
/// connection is closed at once, so the server looks dead to shipdeck while it keeps running.
pub struct Relay {
    pub port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    pub fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, o) = (Arc::clone(&down), Arc::clone(&open));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                };
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Relay { port, down, open }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every open connection and closes new ones at once; `false` lets them through.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for stream in self.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}
