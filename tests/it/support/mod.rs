//! Helpers shared by the integration tests: a recording HTTP server for fixtures, builders for
//! source configs, and (`dbus`) a private session bus with a recording notification server. A module
//! of the `it` test binary; the tests that stand alone (`tests/crash.rs`, `tests/budget.rs`,
//! `tests/sled_hang.rs`) pull it in by path.

#![allow(dead_code)] // each standalone test binary uses a different part of it

pub mod corpus;
pub mod daemon_log;
pub mod damage;
pub mod dbus;
pub mod dovecot;
pub mod logs;
pub mod notify_socket;
pub mod records;
pub mod reopen;
pub mod smtp;
pub mod tmpfs;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use payguard::config::{HttpLimits, Schedule, Secret, SourceConfig};
use payguard::source::SourceKind;
use payguard::source::simplefin::SimpleFinConfig;

/// What the fixture server answers on one path.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Status, headers and body.
    Full { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Never answers: for timeouts.
    Hang,
    /// Streams `chunks` chunks of 64 KiB without a Content-Length.
    Stream { chunks: usize },
    /// Answers `then` once `gate` holds true: for a request that must be in flight at a moment the
    /// test chooses.
    Gated { gate: tokio::sync::watch::Receiver<bool>, then: Box<Reply> },
}

impl Reply {
    pub fn json(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Full { status, headers: vec![], body: body.into() }
    }
    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Full { status, mut headers, body } => {
                headers.push((name.into(), value.into()));
                Reply::Full { status, headers, body }
            }
            other => other,
        }
    }
}

/// A request as the fixture server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub method: String,
    /// The request body as text (lossy UTF-8), for channels that POST.
    pub body: String,
}

#[derive(Default)]
struct Shared {
    replies: HashMap<String, Reply>,
    /// Answers used once each, in order, before `replies` applies.
    queued: HashMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
    /// Bumped on every request, so tests can wait for requests instead of sleeping.
    changes: Option<tokio::sync::watch::Sender<usize>>,
}

/// A real HTTP server on loopback that answers each path as told and records every request.
pub struct Fixture {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Fixture::serve(tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a loopback port"))
    }

    /// A fixture answering on `listener`: any axum listener, such as one that speaks TLS first.
    pub fn serve<L: axum::serve::Listener<Addr = SocketAddr>>(listener: L) -> Fixture {
        let (changes, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Mutex::new(Shared { changes: Some(changes), ..Shared::default() }));
        let addr = listener.local_addr().expect("local address");
        let app = axum::Router::new().fallback(answer).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fixture { addr, shared, server }
    }

    pub fn reply(&self, path: &str, reply: Reply) {
        self.shared.lock().expect("fixture lock").replies.insert(path.to_owned(), reply);
    }

    /// Answers the next requests on `path` with `replies`, one each, then falls back to `reply`.
    pub fn reply_sequence(&self, path: &str, replies: Vec<Reply>) {
        self.shared.lock().expect("fixture lock").queued.insert(path.to_owned(), replies.into());
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A URL with Basic credentials in it, as SimpleFIN access URLs are.
    pub fn url_with_credentials(&self, user: &str, password: &str, path: &str) -> String {
        format!("http://{user}:{password}@{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().expect("fixture lock").seen.clone()
    }

    /// Waits (a minute at most, as a guard against a hang) until what the server has seen
    /// satisfies `done`.
    pub async fn wait_for(&self, what: &str, mut done: impl FnMut(&[Seen]) -> bool) {
        let mut changes =
            self.shared.lock().expect("fixture lock").changes.as_ref().expect("a change feed").subscribe();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while !done(&self.seen()) {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting for {what}; the server saw {} requests", self.seen().len());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(State(shared): State<Arc<Mutex<Shared>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let reply = {
        let mut shared = shared.lock().expect("fixture lock");
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        shared.seen.push(Seen {
            path: path.clone(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            headers,
            method: parts.method.as_str().to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let count = shared.seen.len();
        if let Some(changes) = &shared.changes {
            changes.send_replace(count);
        }
        match shared.queued.get_mut(&path).and_then(VecDeque::pop_front) {
            Some(reply) => Some(reply),
            None => shared.replies.get(&path).cloned(),
        }
    };
    let reply = match reply {
        Some(Reply::Gated { mut gate, then }) => {
            let _ = gate.wait_for(|open| *open).await;
            Some(*then)
        }
        other => other,
    };
    match reply {
        None => (StatusCode::NOT_FOUND, format!("no fixture for {path}")).into_response(),
        Some(Reply::Hang) => std::future::pending().await,
        Some(Reply::Full { status, headers, body }) => {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    map.insert(name, value);
                }
            }
            (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), map, body).into_response()
        }
        Some(Reply::Stream { chunks }) => {
            let chunk = vec![b' '; 64 * 1024];
            let stream = futures_stream(chunk, chunks);
            Response::new(Body::from_stream(stream))
        }
        Some(Reply::Gated { .. }) => (StatusCode::INTERNAL_SERVER_ERROR, "a gate behind a gate").into_response(),
    }
}

fn futures_stream(chunk: Vec<u8>, count: usize) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks {
        chunk: Vec<u8>,
        left: usize,
    }
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.left == 0 {
                return std::task::Poll::Ready(None);
            }
            self.left -= 1;
            std::task::Poll::Ready(Some(Ok(self.chunk.clone())))
        }
    }
    Chunks { chunk, left: count }
}

pub fn limits() -> HttpLimits {
    HttpLimits {
        connect_timeout: std::time::Duration::from_secs(5),
        timeout: std::time::Duration::from_secs(10),
        max_body: 1 << 20,
        allow_insecure_http: false,
    }
}

pub fn source_config(name: &str, kind: SourceKind, limits: HttpLimits) -> SourceConfig {
    let polling = payguard::config::Polling::defaults(&kind);
    SourceConfig {
        name: name.into(),
        schedule: Schedule::parse("*/5 * * * *").expect("schedule"),
        http: limits,
        kind,
        polling,
    }
}

pub fn simplefin(access_url: &str, limits: HttpLimits) -> SourceConfig {
    source_config(
        "bank",
        SourceKind::SimpleFin(Box::new(SimpleFinConfig { access_url: Secret::new(access_url) })),
        limits,
    )
}

/// The config most end-to-end tests share: the simulated bank polled as `sim-bank`, its account
/// `ACT-1` alerting on a 500.00 drop, new payees from the second poll, and three debits in an hour;
/// state under `dir/state`. `rest` adds channels, more accounts and sections.
pub fn sim_config_text(dir: &std::path::Path, access_url: &str, schedule: &str, rest: &str) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"[daemon]
state_dir = "{state}"

[[source]]
name = "sim-bank"
kind = "simplefin"
access_url = "{access}"
schedule = "{schedule}"

[[account]]
source = "sim-bank"
id = "ACT-1"
drop_abs = "500.00"
learning_period = "0s"
velocity_count = 3

{rest}
"#,
        state = quote(&dir.join("state").to_string_lossy()),
        access = quote(access_url),
    )
}

/// [`sim_config_text`] written to `dir/payguard.toml`; returns its path.
pub fn sim_config(dir: &std::path::Path, access_url: &str, schedule: &str, rest: &str) -> std::path::PathBuf {
    let path = dir.join("payguard.toml");
    std::fs::write(&path, sim_config_text(dir, access_url, schedule, rest)).expect("write the config");
    path
}

/// An engine on the config `text` (its state directory made), on `clock`, for tests that drive
/// polls themselves.
pub fn engine(text: &str, clock: payguard::daemon::Clock) -> std::sync::Arc<payguard::daemon::Engine> {
    let config = payguard::config::Config::parse(text, std::path::Path::new("test.toml")).expect("config");
    std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
    let store = payguard::store::Store::open(&config.daemon.state_dir).expect("store");
    let engine = payguard::daemon::Engine::new(config, store, payguard::notify::Stream::Stderr, clock);
    std::sync::Arc::new(engine.expect("engine"))
}

/// `payguard --config CONFIG run`, ready to start: stdout discarded, stderr discarded unless the
/// caller pipes it; add environment before `spawn`.
pub fn daemon(config: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
    command
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Sends `signal` ("TERM", "HUP", …) to a child, as a service manager would.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// Runs the real `payguard` binary with `--config config` and `args`, and waits for it.
pub fn payguard(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run payguard")
}

/// [`payguard`] off the async runtime, so servers in the test keep answering while it runs.
pub async fn run(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let config = config.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || payguard(&config, &args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .expect("join")
}

/// The stdout of `payguard status`, which exits 75 while a source fails and 0 otherwise: the
/// report is printed either way.
pub fn status_report(output: &std::process::Output) -> String {
    assert!(matches!(output.status.code(), Some(0 | 75)), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The stdout of a run that must have succeeded.
pub fn stdout_of(output: &std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
