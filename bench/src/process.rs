//! The processes a benchmark runs beside itself: the example's server (`ranger-server`, built
//! next to this binary), PouchDB's server, and this binary again for a measured client, so
//! that each one's memory is its own.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use offgen_runtime::client::{HttpTransport, Method, Request, Transport};
use serde_json::Value;

/// A free port on loopback (taken by the next process started with it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// A binary built beside this one (`cargo build --release -p ranger-server -p offgen-bench`).
pub fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("the benchmark's own path");
    let path = me.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release -p {name}` (scripts/bench.sh does)",
        path.display()
    );
    path
}

/// A child process, killed when dropped.
pub struct Running {
    child: Child,
    /// Its base URL.
    pub base: String,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its peak and current resident memory (KiB), from /proc.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        (status_kib(&status, "VmHWM"), status_kib(&status, "VmRSS"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `/proc/<pid>/status` line's value in KiB.
pub fn status_kib(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's peak resident memory (KiB).
pub fn own_peak_kib() -> u64 {
    status_kib(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "VmHWM",
    )
}

/// Starts the ranger server over `database_url` with `tokens` (`user=token,...`) and waits
/// until it answers.
pub fn ranger_server(database_url: &str, tokens: &str) -> Running {
    let port = free_port();
    let child = Command::new(sibling("ranger-server"))
        .env("DATABASE_URL", database_url)
        .env("OFFGEN_ADDR", format!("127.0.0.1:{port}"))
        .env("OFFGEN_TOKENS", tokens)
        .env("OFFGEN_LOG", "warn")
        // The benchmarks upload no photos: nothing to keep on disk.
        .env("OFFGEN_ATTACHMENT_STORE", "memory:")
        .stdout(Stdio::null())
        .spawn()
        .expect("ranger-server starts");
    let running = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_until_up(&running.base, "/healthz");
    running
}

/// Starts PouchDB's server (from `node_dir`'s node_modules) over `dir`.
pub fn pouchdb_server(node_dir: &Path, dir: &Path) -> Running {
    let port = free_port();
    let child = Command::new("node")
        .arg(node_dir.join("node_modules/pouchdb-server/bin/pouchdb-server"))
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pouchdb-server starts");
    let running = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    wait_until_up(&running.base, "/");
    running
}

fn wait_until_up(base: &str, path: &str) {
    let transport = HttpTransport::with_timeout(base, Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = transport.send(Request {
            method: Method::Get,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        });
        if answer.is_ok_and(|r| r.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "{base}{path} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a child and parses the one JSON line it prints last.
pub fn run_json(command: &mut Command) -> Value {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("the measured process starts");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .expect("its output");
    let status = child.wait().expect("it ends");
    assert!(status.success(), "{command:?} failed: {out}");
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{command:?} printed {last:?}: {e}"))
}
