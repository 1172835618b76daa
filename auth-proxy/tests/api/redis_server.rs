//! A real `redis-server` for the store contract tests: one per test binary, on a free port, no
//! persistence, started on first use. A small shell watchdog stops it once the test process is
//! gone (statics are never dropped, and no `unsafe` atexit hook is allowed here). Tests isolate
//! themselves with unique key prefixes.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static URL: OnceLock<String> = OnceLock::new();

pub fn url() -> &'static str {
    URL.get_or_init(start)
}

fn start() -> String {
    let available = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    assert!(
        available.is_ok_and(|s| s.success()),
        "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & r=$!; \
         trap 'kill $r 2>/dev/null' EXIT; \
         while kill -0 {parent} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.3; done",
        parent = std::process::id()
    );
    // Detached on purpose: the watchdog outlives every test and ends with the process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sh");
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut conn) = client.get_connection() {
            if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                return url;
            }
        }
        assert!(
            Instant::now() < deadline,
            "redis-server did not answer PING within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
