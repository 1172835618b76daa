//! Real `redis-server` processes for the store contract tests: loopback only, a port from the
//! OS, no persistence, readiness by polling PING.
//!
//! - [`url`]: one server per test binary, started on first use and shared by every test; tests
//!   isolate themselves with unique key prefixes. It lives in a static, and statics are never
//!   dropped (nor may this crate register an `unsafe` exit hook), so a tiny `sh` watchdog kills
//!   it as soon as this process is gone, however the process ends (pass, panic, abort, ^C).
//! - [`RedisServer::start`]: a server a test owns, e.g. to stop and restart it; killed on drop.
//!
//! Without `redis-server` on PATH the tests fail, never skip: `make test` installs it.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const NOT_INSTALLED: &str = "redis-server is not on PATH, and the store contract tests need a \
     real Redis: `make test` installs it (scripts/ensure-deps.sh, apt-get install -y redis-server)";

const READY_WITHIN: Duration = Duration::from_secs(10);

/// The shared server's URL, starting it on first use.
pub fn url() -> &'static str {
    static SHARED: OnceLock<RedisServer> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let server = RedisServer::start();
            kill_when_this_process_ends(&server);
            server
        })
        .url()
}

pub struct RedisServer {
    child: Child,
    port: u16,
    url: String,
    log: PathBuf,
    /// Its working directory (a replica's sync writes an RDB file there).
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> Self {
        // The port was free when the OS handed it out; someone may take it before redis-server
        // binds it, so try a few.
        let mut errors = Vec::new();
        for _ in 0..5 {
            match Self::start_on(free_port()) {
                Ok(server) => return server,
                Err(e) => errors.push(e),
            }
        }
        panic!("could not start redis-server: {errors:#?}");
    }

    /// Starts a server on a free port with `extra` arguments (e.g. `--replicaof`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut errors = Vec::new();
        for _ in 0..5 {
            match spawn_redis(free_port(), extra) {
                Ok(server) => return server,
                Err(e) => errors.push(e),
            }
        }
        panic!("could not start redis-server: {errors:#?}");
    }

    /// Starts a server on `port` (e.g. again on the port of one that was stopped).
    pub fn start_on(port: u16) -> Result<Self, String> {
        spawn_redis(port, &[])
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Polls until this very process answers (not some other server that got the port first).
    fn wait_ready(&mut self) -> Result<(), String> {
        let client = redis::Client::open(self.url.as_str()).map_err(|e| e.to_string())?;
        let deadline = mcp_shared::ops::clock::monotonic() + READY_WITHIN;
        let own_pid = format!("process_id:{}", self.child.id());
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "redis-server on port {} exited ({status}): {}",
                    self.port,
                    self.log_text()
                ));
            }
            if let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) {
                let info = redis::cmd("INFO").arg("server").query::<String>(&mut conn);
                if let Ok(info) = info {
                    if info.lines().any(|l| l.trim() == own_pid) {
                        return Ok(());
                    }
                    return Err(format!("port {} belongs to another Redis", self.port));
                }
            }
            if mcp_shared::ops::clock::monotonic() > deadline {
                return Err(format!(
                    "redis-server on port {} did not answer within {READY_WITHIN:?}: {}",
                    self.port,
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `redis-server` on `port` with `extra` arguments and waits until it answers.
fn spawn_redis(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
    // Its working directory is its own: a replica's full sync writes an RDB file there, which
    // must not land in the source tree.
    let dir = data_dir(port)?;
    let mut command = Command::new("redis-server");
    command
        .arg("--dir")
        .arg(&dir)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--loglevel", "warning"])
        .args(extra);
    launch(port, command, dir)
}

/// Starts a sentinel on `port` watching the master on `master_port` as `master_name`, from a
/// config file in its own directory (a sentinel needs one, and rewrites it), and waits until it
/// answers.
fn spawn_sentinel(port: u16, master_port: u16, master_name: &str) -> Result<RedisServer, String> {
    let dir = data_dir(port)?;
    let conf = dir.join("sentinel.conf");
    let text = [
        format!("port {port}"),
        "bind 127.0.0.1".into(),
        format!("dir {}", dir.display()),
        "loglevel warning".into(),
        format!("sentinel monitor {master_name} 127.0.0.1 {master_port} 2"),
        // No failover in the contract tests, not even when a loaded machine stalls a server.
        format!("sentinel down-after-milliseconds {master_name} 60000"),
        String::new(),
    ]
    .join("\n");
    if let Err(e) = std::fs::write(&conf, text) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!("sentinel config: {e}"));
    }
    let mut command = Command::new("redis-server");
    command.arg(&conf).arg("--sentinel");
    launch(port, command, dir)
}

/// A fresh working directory for the server on `port`.
fn data_dir(port: u16) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "auth-proxy-test-redis-{}-{port}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("data dir: {e}"))?;
    Ok(dir)
}

/// Runs `command` (a server that will listen on `port`, working in `dir`) with its output in a
/// log file, and waits until it answers.
fn launch(port: u16, mut command: Command, dir: PathBuf) -> Result<RedisServer, String> {
    let log = std::env::temp_dir().join(format!(
        "auth-proxy-test-redis-{}-{port}.log",
        std::process::id()
    ));
    let files = File::create(&log).and_then(|out| Ok((out.try_clone()?, out)));
    let (out, err) = match files {
        Ok(files) => files,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("log file: {e}"));
        }
    };
    let spawned = command.stdin(Stdio::null()).stdout(out).stderr(err).spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_dir_all(&dir);
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!("{NOT_INSTALLED}");
            }
            return Err(format!("spawning redis-server: {e}"));
        }
    };
    let mut server = RedisServer {
        child,
        port,
        url: format!("redis://127.0.0.1:{port}"),
        log,
        dir,
    };
    // On error `server` is dropped here, which kills what is left of it.
    server.wait_ready()?;
    Ok(server)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Kills `server` once this test process has exited, then removes its log and directory: the
/// shared server must not outlive the run.
fn kill_when_this_process_ends(server: &RedisServer) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.2; done; kill {pid} 2>/dev/null; \
         for _ in $(seq 50); do kill -0 {pid} 2>/dev/null || break; sleep 0.1; done; \
         rm -f '{log}'; rm -rf '{dir}'",
        parent = std::process::id(),
        pid = server.child.id(),
        log = server.log.display(),
        dir = server.dir.display(),
    );
    // Never waited for on purpose: it must outlive this process. Init reaps it afterwards.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning the redis-server watchdog");
}

/// A 3-master Redis Cluster with one replica per master, on loopback, shared by every test of
/// this binary like [`url`] (killed by the same kind of watchdog). Its `redis+cluster://` URL.
pub fn cluster_url() -> &'static str {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED.get_or_init(|| {
        let mut errors = Vec::new();
        for _ in 0..3 {
            match start_cluster() {
                Ok(url) => return url,
                Err(e) => errors.push(e),
            }
        }
        panic!("could not start a Redis Cluster: {errors:#?}");
    })
}

/// Six cluster-enabled servers (each with its own data directory, a port and a bus port from
/// the OS), joined by `redis-cli --cluster create`, ready once every node reports
/// `cluster_state:ok` and knows all six.
fn start_cluster() -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "auth-proxy-test-cluster-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cluster dir: {e}"))?;
    remove_when_this_process_ends(&dir);
    let mut nodes: Vec<RedisServer> = Vec::new();
    for _ in 0..6 {
        let (port, bus) = (free_port(), free_port());
        let node_dir = dir.join(port.to_string());
        std::fs::create_dir_all(&node_dir).map_err(|e| format!("node dir: {e}"))?;
        let server = spawn_redis(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus.to_string(),
                "--cluster-node-timeout",
                "2000",
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
                &node_dir.to_string_lossy(),
            ],
        )?;
        kill_when_this_process_ends(&server);
        nodes.push(server);
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port()))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli --cluster create: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let deadline = mcp_shared::ops::clock::monotonic() + Duration::from_secs(30);
    for node in &nodes {
        let client = redis::Client::open(node.url()).map_err(|e| e.to_string())?;
        loop {
            let ready = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
                .map(|info| {
                    info.lines().any(|l| l.trim() == "cluster_state:ok")
                        && info.lines().any(|l| l.trim() == "cluster_known_nodes:6")
                })
                .unwrap_or(false);
            if ready {
                break;
            }
            if mcp_shared::ops::clock::monotonic() > deadline {
                return Err(format!("cluster node {} not ready", node.port()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let url = format!("redis+cluster://{}", addrs.join(","));
    // The servers now belong to their watchdogs, which kill them when this process ends.
    for node in nodes {
        std::mem::forget(node);
    }
    Ok(url)
}

/// Removes `dir` once this test process has exited (after its servers are gone).
fn remove_when_this_process_ends(dir: &std::path::Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.2; done; sleep 1; rm -rf '{dir}'",
        parent = std::process::id(),
        dir = dir.display(),
    );
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning the cluster directory watchdog");
}

/// The master name [`sentinel_url`]'s sentinels watch.
pub const SENTINEL_MASTER: &str = "mymaster";

/// One master, one replica and three sentinels (quorum 2) on loopback, shared by every test of
/// this binary like [`url`] (killed by the same kind of watchdog). Its `redis+sentinel://` URL.
pub fn sentinel_url() -> &'static str {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED.get_or_init(|| {
        let mut errors = Vec::new();
        for _ in 0..3 {
            match start_sentinel() {
                Ok(url) => return url,
                Err(e) => errors.push(e),
            }
        }
        panic!("could not start Redis Sentinel: {errors:#?}");
    })
}

/// The master, its replica once in sync, then the sentinels, ready once each knows the replica
/// and the two other sentinels.
fn start_sentinel() -> Result<String, String> {
    let master = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
    kill_when_this_process_ends(&master);
    let replica =
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &master.port().to_string()]);
    kill_when_this_process_ends(&replica);
    let deadline = mcp_shared::ops::clock::monotonic() + Duration::from_secs(30);
    wait_until(
        deadline,
        &replica,
        "INFO",
        &["replication"],
        |info: String| info.lines().any(|l| l.trim() == "master_link_status:up"),
    )?;
    let mut sentinels = Vec::new();
    for _ in 0..3 {
        let sentinel = spawn_sentinel(free_port(), master.port(), SENTINEL_MASTER)?;
        kill_when_this_process_ends(&sentinel);
        sentinels.push(sentinel);
    }
    for sentinel in &sentinels {
        wait_until(
            deadline,
            sentinel,
            "SENTINEL",
            &["MASTER", SENTINEL_MASTER],
            |m: Vec<String>| {
                let field = |name: &str| {
                    m.chunks(2)
                        .find(|kv| kv[0] == name)
                        .and_then(|kv| kv.get(1).cloned())
                };
                field("num-slaves").as_deref() == Some("1")
                    && field("num-other-sentinels").as_deref() == Some("2")
            },
        )?;
    }
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();
    let url = format!("redis+sentinel://{}/{SENTINEL_MASTER}", addrs.join(","));
    // The servers now belong to their watchdogs, which kill them when this process ends.
    for server in [master, replica].into_iter().chain(sentinels) {
        std::mem::forget(server);
    }
    Ok(url)
}

/// Polls `server` with `cmd args` until `ready` holds for the reply, or fails at `deadline`.
fn wait_until<T: redis::FromRedisValue>(
    deadline: std::time::Instant,
    server: &RedisServer,
    cmd: &str,
    args: &[&str],
    ready: impl Fn(T) -> bool,
) -> Result<(), String> {
    let client = redis::Client::open(server.url()).map_err(|e| e.to_string())?;
    loop {
        let reply = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .and_then(|mut c| redis::cmd(cmd).arg(args).query::<T>(&mut c));
        if reply.is_ok_and(&ready) {
            return Ok(());
        }
        if mcp_shared::ops::clock::monotonic() > deadline {
            return Err(format!(
                "{cmd} {args:?} on port {} not ready: {}",
                server.port(),
                server.log_text()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
