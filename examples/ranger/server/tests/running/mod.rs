//! The real `ranger-server` binary, started, killed and stopped as an operator would, and a
//! PostgreSQL cluster of a test's own that it can stop and start again (an outage).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ANA: &str = "00000000-0000-4000-8000-00000000a0a0";
pub const ANA_TOKEN: &str = "ana-token";

/// `user=token` pairs for `n` devices' users (ranger ids) plus Ana.
pub fn tokens(devices: usize) -> String {
    let mut pairs = vec![format!("{ANA}={ANA_TOKEN}")];
    for d in 0..devices {
        pairs.push(format!("{}=device-{d}", device_user(d)));
    }
    pairs.join(",")
}

/// The user (and ranger) id of device `d`.
pub fn device_user(d: usize) -> String {
    format!("00000000-0000-4000-8000-0000000d{d:04x}")
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A running server process, its stderr collected line by line.
pub struct Process {
    child: Child,
    pub addr: String,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
    /// The thread copying stderr into `logs`: it ends at end of file, after the process
    /// exits. Its last lines may still be in the pipe when the exit status is known, so
    /// waiting for an exit also waits for it (a test that reads the logs then sees them all).
    reader: Option<std::thread::JoinHandle<()>>,
    env: Vec<(String, String)>,
}

impl Process {
    /// Starts the server with `env` on top of a fixed base (a free port, JSON logs at debug
    /// level for the runtime); waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Process {
        Process::try_start(env).unwrap_or_else(|(status, logs)| {
            panic!(
                "the server did not start ({status:?}):\n{}",
                logs.join("\n")
            )
        })
    }

    /// [`Process::start`], or the exit status and logs of a server that did not get to listen.
    pub fn try_start(env: &[(&str, &str)]) -> Result<Process, (Option<ExitStatus>, Vec<String>)> {
        let mut all: Vec<(String, String)> = vec![
            ("OFFGEN_ADDR".into(), "127.0.0.1:0".into()),
            ("OFFGEN_LOG".into(), "info,offgen_runtime=debug".into()),
            ("OFFGEN_LOG_FORMAT".into(), "json".into()),
            // Observations' photos: kept in memory, never in a folder beside the tests.
            ("OFFGEN_ATTACHMENT_STORE".into(), "memory:".into()),
        ];
        for (k, v) in env {
            all.retain(|(key, _)| key != k);
            all.push(((*k).to_owned(), (*v).to_owned()));
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_ranger-server"));
        command
            .env_remove("DATABASE_URL")
            .env_remove("OFFGEN_TOKENS")
            .envs(all.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the server binary runs");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "listening"
                {
                    let _ = addr_tx.send(event["addr"].as_str().unwrap_or("").to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Process {
                child,
                base: format!("http://{addr}"),
                addr,
                logs,
                reader: Some(reader),
                env: all,
            }),
            Err(_) => {
                let status = wait_for(&mut child, Duration::from_secs(5));
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                Err((status, logs.lock().unwrap().clone()))
            }
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.finish_reading();
    }

    /// Once the process has exited: waits until every line it wrote is in `logs`.
    fn finish_reading(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// SIGKILL, then a new process with the same settings on the same address.
    pub fn restart_after_kill(&mut self) {
        self.kill();
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let addr = self.addr.clone();
        env.push(("OFFGEN_ADDR", &addr));
        let next = Process::start(&env);
        *self = next;
    }

    /// SIGTERM, what an orchestrator sends to stop a server.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status, once the process ends within `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_for(&mut self.child, timeout);
        if status.is_some() {
            self.finish_reading();
        }
        status
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory now, in KiB (`VmRSS` of /proc/<pid>/status, Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server process is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Its log lines so far, parsed (JSON logs).
    pub fn logs(&self) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Its log lines once `wanted` holds of them, waiting up to 10 s: lines reach `logs`
    /// through a pipe and a thread, a little after the server wrote them, so a test that just
    /// got an answer may not see that request's lines yet.
    pub fn logs_once(&self, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs();
            if wanted(&logs) || Instant::now() > deadline {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its raw stderr so far.
    pub fn stderr(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A database for one test: a SQLite file in a temporary folder, or a new database on the
/// suite's PostgreSQL server (`OFFGEN_TEST_DATABASE_URL`, started by scripts/test.sh).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().unwrap();
        TestDatabase {
            url: format!("sqlite:{}", dir.path().join("ranger.db").display()),
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDatabase {
        let admin = std::env::var("OFFGEN_TEST_DATABASE_URL").expect(
            "OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
        );
        TestDatabase {
            url: create_database(&admin).await,
            _dir: None,
        }
    }

    pub async fn of(postgres: bool) -> TestDatabase {
        if postgres {
            TestDatabase::postgres().await
        } else {
            TestDatabase::sqlite()
        }
    }
}

/// A new database on the server of `admin` (a URL ending in `/<database>`); its URL.
pub async fn create_database(admin: &str) -> String {
    let name = format!(
        "offgen_run_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let pool = sqlx::PgPool::connect(admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A PostgreSQL cluster of the test's own, through scripts/pg.sh, on a free port: it can be
/// stopped (an outage) and started again. Removed when dropped, also when the test fails.
pub struct Cluster {
    port: u16,
    dir: PathBuf,
    pub url: String,
}

impl Cluster {
    pub fn start() -> Cluster {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "offgen-pg-fault-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cluster = Cluster {
            port,
            dir,
            url: String::new(),
        };
        let out = cluster.pg("start");
        cluster.url = String::from_utf8(out).unwrap().trim().to_owned();
        cluster
    }

    /// Stops the server (`pg_ctl stop -m fast`: every session ends with 57P01), keeping data.
    pub fn halt(&self) {
        self.pg("halt");
    }

    /// Starts it again on the same port.
    pub fn resume(&self) {
        self.pg("resume");
    }

    fn pg(&self, command: &str) -> Vec<u8> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../scripts/pg.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(command)
            .env("OFFGEN_PG_PORT", self.port.to_string())
            .env("OFFGEN_PG_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/pg.sh {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.pg("stop"));
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A prometheus sample's value from an exposition, by its full name with labels.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
