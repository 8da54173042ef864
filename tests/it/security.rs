//! What keeps credentials and money data from leaking, end to end:
//!
//! - **Plain http** reaches this machine only (the test suite's fixtures rely on it), or another
//!   host when the entry says `allow_insecure_http = true` (`tests/configs/bad/` holds the refusals).
//! - **File permissions**: a world-writable config or `${file:…}` secret file is refused with exit
//!   78; one others may read is warned about, by `payguard check` and in the daemon's log.
//! - **Endless or odd files**: a config or a secret that is not a regular file (`/dev/zero`, a
//!   FIFO), or is larger than 1 MiB (config) or 64 KiB (secret), is refused at once with exit 78.
//! - **A private store**: the state directory is created 0700 and its files 0600 whatever the
//!   umask of whoever starts payguard; a store an older payguard left open to others is narrowed on
//!   open, with a warning that says what changed.
//! - **No secret leaks** from any kind of source or channel that fails, one table over every kind:
//!   not into the error's Display or Debug, the `Config`'s Debug, nor the output of `payguard
//!   check`, `notify-test`, `once`, `status`, `alerts` and `export`. The channels' receivers echo
//!   what they were sent, as real ones sometimes do (the sources' too, in a test that is ignored
//!   until they cut echoed secrets out). `channels.rs` and `email.rs` test each channel's
//!   scrubbing in detail; this is the one table over every kind.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chrono::{TimeDelta, Utc};
use payguard::config::{Config, Language, Support};
use payguard::notify::render::test_message;
use payguard::notify::{Channel, Stream};
use payguard::source::Source;
use payguard::source::notices::NoticeSource;
use std::os::unix::fs::PermissionsExt as _;
use support::{Fixture, Reply, Seen};

/// Every secret in the leak table starts with this, so one search finds any of them.
const MARK: &str = "s3cr3t-XYZ";

fn secret(kind: &str) -> String {
    format!("{MARK}-{kind}")
}

/// Standard base64, to recognise Basic credentials on the wire and in what must not show them.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn write_config(dir: &Path, text: &str, mode: u32) -> PathBuf {
    let path = dir.join("payguard.toml");
    std::fs::write(&path, text).expect("write the config");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod the config");
    path
}

fn payguard(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUNTIME_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("run payguard")
}

/// [`payguard`] off the async runtime, so the fixture server keeps answering while it runs.
async fn payguard_async(config: &Path, args: &[&str]) -> Output {
    let config = config.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || payguard(&config, &args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .expect("join")
}

fn both(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn quoted(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

// ---- Plain http ----

/// A config with one source, one notice and one webhook, all at `base`, each entry given `extra`.
fn http_config(base: &str, extra: &str) -> String {
    format!(
        r#"[[source]]
name = "bank"
kind = "simplefin"
access_url = "{scheme_host}/simplefin"
schedule = "0 * * * *"
{extra}

[[notice]]
name = "status"
kind = "statuspage"
url = "{base}/status"
schedule = "0 * * * *"
{extra}

[[channel]]
name = "hook"
kind = "webhook"
url = "{base}/hook"
{extra}
"#,
        scheme_host = base.replacen("://", "://user:hunter2@", 1),
    )
}

#[test]
fn plain_http_reaches_this_machine_and_other_hosts_only_when_allowed() {
    for base in ["http://127.0.0.1:8080", "http://127.1.2.3", "http://[::1]:8080", "http://localhost:8080"] {
        let config = Config::parse(&http_config(base, ""), Path::new("p.toml"))
            .unwrap_or_else(|e| panic!("{base} is this machine: {e}"));
        assert!(config.warnings.iter().all(|w| !w.contains("plain http")), "{base}: {:?}", config.warnings);
    }
    for base in ["http://bank.example.com", "http://192.168.1.20:8080", "http://localhost.example.net"] {
        let refused = Config::parse(&http_config(base, ""), Path::new("p.toml")).expect_err(base);
        assert_eq!(refused.key, "source[0].access_url", "{base}: {refused}");
        assert!(refused.message.contains("allow_insecure_http = true"), "{refused}");
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
        let allowed = Config::parse(&http_config(base, "allow_insecure_http = true"), Path::new("p.toml"))
            .unwrap_or_else(|e| panic!("{base} allowed: {e}"));
        // Allowed, and said: once per URL, naming its key and host, never the login.
        let said: Vec<&String> = allowed.warnings.iter().filter(|w| w.contains("over plain http")).collect();
        assert_eq!(said.len(), 3, "{:?}", allowed.warnings);
        for key in ["`source[0].access_url`", "`notice[0].url`", "`channel[0].url`"] {
            assert!(said.iter().any(|w| w.contains(key)), "{key} in {said:?}");
        }
        assert!(said.iter().all(|w| !w.contains("hunter2")), "{said:?}");
    }
}

/// The one key is honoured where the request is made, not only when the config is read: a webhook
/// at 0.0.0.0 (not loopback by the rule; Linux delivers it to this machine) gets its message.
#[tokio::test(flavor = "multi_thread")]
async fn allow_insecure_http_lets_a_channel_post_over_plain_http() {
    let fixture = Fixture::start().await;
    fixture.reply("/hook", Reply::json("{}"));
    let base = fixture.url("").replace("127.0.0.1", "0.0.0.0");
    let text = http_config(&base, "allow_insecure_http = true");
    let config = Config::parse(&text, Path::new("p.toml")).unwrap_or_else(|e| panic!("{e}"));
    let channel = Channel::new(&config.channels[0], Stream::Stderr).expect("the channel builds");
    let message = test_message("hook", Utc::now(), Language::En, &Support::default());
    channel.send(&message).await.unwrap_or_else(|e| panic!("the webhook should be reached: {e}"));
    assert_eq!(fixture.seen().iter().filter(|s| s.path == "/hook").count(), 1);
}

/// As above for a source and a notice, which check their URLs again when they are built (configs
/// can be built in code) with the entry's key, so what `check` allows, a poll may use.
#[tokio::test(flavor = "multi_thread")]
async fn allow_insecure_http_lets_a_source_and_a_notice_poll_over_plain_http() {
    let fixture = Fixture::start().await;
    fixture.reply("/simplefin/accounts", Reply::json(r#"{"errors": [], "accounts": []}"#));
    fixture.reply("/status/api/v2/summary.json", Reply::json(r#"{"incidents": [], "scheduled_maintenances": []}"#));
    let base = fixture.url("").replace("127.0.0.1", "0.0.0.0");
    let config = Config::parse(&http_config(&base, "allow_insecure_http = true"), Path::new("p.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let source = Source::new(&config.sources[0]).unwrap_or_else(|e| panic!("the source builds: {e}"));
    let _ = source.poll(&[], Utc::now() - TimeDelta::days(1), Utc::now()).await;
    let notice = NoticeSource::new(&config.notices[0]).unwrap_or_else(|e| panic!("the notice builds: {e}"));
    let _ = notice.poll(Utc::now()).await;
    let paths: Vec<String> = fixture.seen().into_iter().map(|s| s.path).collect();
    assert!(paths.iter().any(|p| p == "/simplefin/accounts"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("/status/")), "{paths:?}");
}

// ---- File permissions ----

/// A config whose only credential is written in it.
fn config_with_inline_secret(dir: &Path) -> String {
    format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://user:hunter2@bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n",
        quoted(&dir.join("state"))
    )
}

#[test]
fn check_warns_of_a_config_others_may_read_that_holds_a_credential() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = config_with_inline_secret(dir.path());
    let path = write_config(dir.path(), &text, 0o644);
    let output = payguard(&path, &["check"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "a warning, not an error: {stderr}");
    let file = path.display().to_string();
    for (what, text) in [("printed", &stdout), ("logged", &stderr)] {
        let line = text.lines().find(|l| l.contains("readable by")).unwrap_or_else(|| panic!("not {what}: {text}"));
        for needle in
            [file.as_str(), "mode 0644", "source[0].access_url", &format!("chmod 600 {file}"), "${credential:"]
        {
            assert!(line.contains(needle), "{what} warning lacks {needle:?}: {line}");
        }
    }
    assert!(!both(&output).contains("hunter2"));

    // Only its owner may read it: nothing to say.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let output = payguard(&path, &["check"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!both(&output).contains("warning"), "{}", both(&output));
}

#[test]
fn a_world_writable_config_is_refused_whatever_it_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    // No credential in it at all: whoever may write it can still send the alerts elsewhere.
    let text = format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"${{env:PAYGUARD_NEVER_SET_FOR_THIS_TEST}}\"\nschedule = \"0 * * * *\"\n",
        quoted(&dir.path().join("state"))
    );
    let path = write_config(dir.path(), &text, 0o666);
    for args in [&["check"][..], &["once"]] {
        let output = payguard(&path, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{args:?}: {stderr}");
        let file = path.display().to_string();
        for needle in
            [format!("payguard: {file}: "), "writable by everyone (mode 0666)".into(), format!("chmod 600 {file}")]
        {
            assert!(stderr.contains(&needle), "{args:?}: {needle:?} not in {stderr}");
        }
        // Refused before it was read: the unset variable is not what is reported.
        assert!(!stderr.contains("PAYGUARD_NEVER_SET_FOR_THIS_TEST"), "{stderr}");
    }
}

#[test]
fn secret_files_are_refused_when_anyone_may_write_them_and_warned_of_when_others_may_read_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("simplefin-url");
    std::fs::write(&secret, "https://user:hunter2@bridge.example.com/simplefin\n").expect("write the secret");
    let text = format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"${{file:{}}}\"\nschedule = \"0 * * * *\"\n",
        quoted(&dir.path().join("state")),
        quoted(&secret)
    );
    // The config holds no credential, so it may be world-readable (as the system service's is).
    let path = write_config(dir.path(), &text, 0o644);
    let chmod = |mode| std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).expect("chmod");
    let file = secret.display().to_string();

    chmod(0o600);
    let output = payguard(&path, &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!both(&output).contains("warning"), "{}", both(&output));

    chmod(0o640);
    let output = payguard(&path, &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("warning: secret file")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains(&file) && line.contains("mode 0640") && line.contains(&format!("chmod 600 {file}")),
        "{line}"
    );

    chmod(0o646);
    let output = payguard(&path, &["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    // Placed at the reference, like any other config error.
    let place = format!(
        "{}:7:14: `source[0].access_url`: secret file {file} is writable by everyone (mode 0646)",
        path.display()
    );
    assert!(stderr.contains(&place), "{place:?} not in {stderr}");
    assert!(!both(&output).contains("hunter2"));
}

/// `payguard ARGS` with `--config config`, killed if it has not ended within 30 s: an endless
/// read must fail the test, not hang it.
fn payguard_bounded(config: &Path, args: &[&str]) -> Output {
    let output = Command::new("timeout")
        .args(["--kill-after=5", "30", env!("CARGO_BIN_EXE_payguard"), "--config"])
        .arg(config)
        .args(args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("run payguard under timeout");
    assert_ne!(output.status.code(), Some(124), "payguard {args:?} did not end: {}", both(&output));
    output
}

#[test]
fn endless_and_odd_files_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let zero_config = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero_config).expect("symlink");
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let huge = dir.path().join("huge.toml");
    std::fs::write(&huge, format!("# {}\n", "x".repeat(1 << 20))).expect("write");
    for (config, needle) in [
        (
            &zero_config,
            "it is a character device, not a regular file: a config file must be a regular file of at most 1 MiB",
        ),
        (&fifo, "it is a named pipe, not a regular file"),
        (&huge, "it is larger than 1 MiB"),
    ] {
        for command in ["check", "run"] {
            let output = payguard_bounded(config, &[command]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(78), "{command} {}: {stderr}", config.display());
            let expected = format!("{}: cannot read the config file: {needle}", config.display());
            assert!(stderr.contains(&expected), "{expected:?} not in {stderr}");
        }
    }

    let secret = |reference: &str| {
        let text = format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"${{file:{reference}}}\"\nschedule = \"0 * * * *\"\n",
            quoted(&dir.path().join("state"))
        );
        write_config(dir.path(), &text, 0o600)
    };
    let big_secret = dir.path().join("big-secret");
    std::fs::write(&big_secret, "x".repeat((64 << 10) + 1)).expect("write");
    for (reference, needle) in [
        (
            "/dev/zero".to_owned(),
            "cannot read secret file /dev/zero: it is a character device, not a regular file: a secret must be a regular file of at most 64 KiB",
        ),
        (fifo.display().to_string(), "it is a named pipe"),
        (big_secret.display().to_string(), "it is larger than 64 KiB"),
    ] {
        let config = secret(&reference);
        for command in ["check", "run"] {
            let output = payguard_bounded(&config, &[command]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(78), "{command} {reference}: {stderr}");
            assert!(
                stderr.contains(":7:14: `source[0].access_url`: ") && stderr.contains(needle),
                "{needle:?} not in {stderr}"
            );
        }
    }
}

/// Every directory and file under `dir` with its mode, and `dir` itself.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut all = vec![(dir.to_owned(), std::fs::metadata(dir).expect("stat").permissions().mode() & 0o7777)];
    for entry in std::fs::read_dir(dir).expect("read the state dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all.extend(modes(&path));
        } else {
            all.push((path.clone(), std::fs::metadata(&path).expect("stat").permissions().mode() & 0o7777));
        }
    }
    all
}

#[test]
fn the_store_is_its_owners_alone_whatever_the_umask() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    let text = format!(
        "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://bridge.example.com/simplefin\"\nschedule = \"0 * * * *\"\n",
        quoted(&state)
    );
    let config = write_config(dir.path(), &text, 0o600);
    // The widest umask there is: nothing but payguard itself keeps the store private.
    let status = |config: &Path| {
        Command::new("sh")
            .arg("-c")
            .arg("umask 000 && exec \"$0\" --config \"$1\" status")
            .arg(env!("CARGO_BIN_EXE_payguard"))
            .arg(config)
            .env_remove("RUST_LOG")
            .output()
            .expect("run payguard status")
    };
    let first = status(&config);
    assert_eq!(first.status.code(), Some(0), "{}", both(&first));
    assert!(!both(&first).contains("readable by others"), "a new store has nothing to narrow: {}", both(&first));
    let created = modes(&state);
    assert!(created.iter().any(|(p, _)| p.ends_with("db")), "{created:?}");
    for (path, mode) in &created {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{} is {mode:04o}", path.display());
    }

    // As an older payguard left it: readable by everyone.
    for (path, _) in &created {
        let open = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(open)).expect("chmod");
    }
    let second = status(&config);
    assert_eq!(second.status.code(), Some(0), "{}", both(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("the store was readable by others; now only its owner's")
            && stderr.contains(&format!("{} 0755 → 0700", state.display()))
            && stderr.contains(&format!("{} 0644 → 0600", state.join("db").display())),
        "{stderr}"
    );
    for (path, mode) in modes(&state) {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, wanted, "{} is {mode:04o}", path.display());
    }
}

/// The daemon says it at startup, in its log, before it starts watching.
#[test]
fn the_daemon_logs_the_warning_when_it_starts() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("temp dir");
    // A schedule that never comes in this test: the daemon starts, waits, and is stopped.
    let text = config_with_inline_secret(dir.path()).replace("0 * * * *", "0 0 1 1 *");
    let path = write_config(dir.path(), &text, 0o640);
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(&path)
        .arg("run")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUNTIME_DIRECTORY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start payguard run");
    let stderr = daemon.stderr.take().expect("stderr is piped");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
        let started = line.contains("payguard started");
        lines.push(line);
        if started {
            break;
        }
    }
    // Stopping it cleanly is tested elsewhere; a SIGTERM this early may beat its signal handler.
    let _ = daemon.kill();
    let _ = daemon.wait();
    let warned = lines.iter().position(|l| l.contains("WARN") && l.contains("readable by its group (mode 0640)"));
    let started = lines.iter().position(|l| l.contains("payguard started"));
    assert!(warned.is_some() && warned < started, "{lines:#?}");
    assert!(lines.iter().all(|l| !l.contains("hunter2")), "{lines:#?}");
}

// ---- No secret leaks ----

/// What a case configures.
enum Part {
    Source { name: &'static str, account: &'static str },
    Notice,
    Channel { name: &'static str },
}

/// One kind of source or channel, made to fail.
struct Case {
    kind: &'static str,
    part: Part,
    /// Its config entry.
    toml: String,
    /// What the fixture answers, and where.
    replies: Vec<(String, Reply)>,
    /// What must reach the wire, so the case is known to use its secret; empty when nothing
    /// listens (SMTP).
    on_wire: Vec<String>,
}

/// Every kind of source and channel, each with recognisable secrets, answered by `fixture` with
/// refusals, errors and garbage. The channels' receivers echo what they were sent; the sources' do
/// when `sources_echo`. `closed` is a port nothing listens on.
fn cases(fixture: &Fixture, closed: u16, sources_echo: bool) -> Vec<Case> {
    let base = fixture.url("");
    let echo = |status: u16, what: &str| Reply::status(status, &format!("rejected: you sent {what}"));
    let source_echo = |status: u16, what: &str| match sources_echo {
        true => echo(status, what),
        false => Reply::status(status, "rejected"),
    };
    let mut cases = Vec::new();

    let sf = secret("simplefin");
    cases.push(Case {
        kind: "simplefin",
        part: Part::Source { name: "sf", account: "ACT-SF" },
        toml: format!(
            "[[source]]\nname = \"sf\"\nkind = \"simplefin\"\naccess_url = \"{}\"\nschedule = \"0 * * * *\"\n\n[[account]]\nsource = \"sf\"\nid = \"ACT-SF\"\n",
            fixture.url_with_credentials("payguard", &sf, "/simplefin")
        ),
        replies: vec![("/simplefin/accounts".into(), source_echo(401, &sf))],
        on_wire: vec![base64(format!("payguard:{sf}").as_bytes())],
    });

    // http-json with each kind of auth; `none` keeps its key in the query, as some APIs want.
    let http_json = |auth: &'static str, auth_toml: String, query: String, reply: Reply, on_wire: Vec<String>| {
        let name = match auth {
            "none" => "hj-none",
            "bearer" => "hj-bearer",
            "basic" => "hj-basic",
            _ => "hj-header",
        };
        Case {
            kind: name,
            part: Part::Source { name, account: "A1" },
            toml: format!(
                "[[source]]\nname = \"{name}\"\nkind = \"http-json\"\nbalance_url = \"{base}/{name}/{{account}}/balance{query}\"\ntransactions_url = \"{base}/{name}/{{account}}/balance{query}\"\nschedule = \"0 * * * *\"\ncurrency = \"EUR\"\nauth = {auth_toml}\n[source.mapping]\nbalance = \"/balance\"\ntransactions = \"/tx\"\nposted = \"/posted\"\namount = \"/amount\"\n\n[[account]]\nsource = \"{name}\"\nid = \"A1\"\n"
            ),
            replies: vec![(format!("/{name}/A1/balance"), reply)],
            on_wire,
        }
    };
    let key = secret("http-json-none");
    cases.push(http_json(
        "none",
        "{ type = \"none\" }".into(),
        format!("?api_key={key}"),
        source_echo(500, &format!("/hj-none/A1/balance?api_key={key}")),
        vec![key.clone()],
    ));
    let token = secret("http-json-bearer");
    cases.push(http_json(
        "bearer",
        format!("{{ type = \"bearer\", token = \"{token}\" }}"),
        String::new(),
        source_echo(500, &format!("Bearer {token}")),
        vec![format!("Bearer {token}")],
    ));
    let password = secret("http-json-basic");
    let basic = base64(format!("me:{password}").as_bytes());
    cases.push(http_json(
        "basic",
        format!("{{ type = \"basic\", username = \"me\", password = \"{password}\" }}"),
        String::new(),
        Reply::json(&match sources_echo {
            true => format!("<html>debug: Authorization: Basic {basic} ({password})</html>"),
            false => "<html>maintenance</html>".to_owned(),
        }),
        vec![basic.clone()],
    ));
    let value = secret("http-json-header");
    cases.push(http_json(
        "header",
        format!("{{ type = \"header\", name = \"X-Api-Key\", value = \"{value}\" }}"),
        String::new(),
        source_echo(403, &value),
        vec![value.clone()],
    ));

    let token = secret("up");
    cases.push(Case {
        kind: "up",
        part: Part::Source { name: "up", account: "U1" },
        toml: format!("[[source]]\nname = \"up\"\nkind = \"up\"\napi_base = \"{base}/up\"\ntoken = \"{token}\"\nschedule = \"0 * * * *\"\n\n[[account]]\nsource = \"up\"\nid = \"U1\"\n"),
        replies: vec![("/up/accounts".into(), source_echo(500, &format!("Bearer {token}")))],
        on_wire: vec![format!("Bearer {token}")],
    });
    let (user, app) = (secret("akahu-user"), secret("akahu-app"));
    cases.push(Case {
        kind: "akahu",
        part: Part::Source { name: "akahu", account: "acc_1" },
        toml: format!("[[source]]\nname = \"akahu\"\nkind = \"akahu\"\napi_base = \"{base}/akahu\"\nuser_token = \"{user}\"\napp_token = \"{app}\"\nschedule = \"0 * * * *\"\n\n[[account]]\nsource = \"akahu\"\nid = \"acc_1\"\n"),
        // A 200 that is not JSON, echoing the tokens next to where it breaks.
        replies: vec![("/akahu/accounts".into(), Reply::json(&match sources_echo {
            true => format!("{{\"id\": {app}, \"user\": Bearer {user}}}"),
            false => "<html>maintenance</html>".to_owned(),
        }))],
        on_wire: vec![format!("Bearer {user}"), app.clone()],
    });

    let (id, key) = (secret("gocardless-id"), secret("gocardless-key"));
    cases.push(Case {
        kind: "gocardless",
        part: Part::Source { name: "gocardless", account: "G1" },
        toml: format!("[[source]]\nname = \"gocardless\"\nkind = \"gocardless\"\napi_base = \"{base}/gocardless\"\nsecret_id = \"{id}\"\nsecret_key = \"{key}\"\nrequisition_id = \"r-1\"\nschedule = \"0 * * * *\"\n\n[[account]]\nsource = \"gocardless\"\nid = \"G1\"\n"),
        // The token request carries the secrets in its body; a refusal that echoes them.
        replies: vec![("/gocardless/api/v2/token/new/".into(), source_echo(400, &format!("secret_id {id} secret_key {key}")))],
        on_wire: vec![id.clone(), key.clone()],
    });

    cases.push(Case {
        kind: "imap",
        part: Part::Source { name: "imap", account: "M1" },
        toml: format!(
            "[[source]]\nname = \"imap\"\nkind = \"imap\"\nhost = \"127.0.0.1\"\nport = {closed}\ntls = \"none\"\nusername = \"me\"\npassword = \"{}\"\nschedule = \"0 * * * *\"\n[[source.rule]]\naccount = \"M1\"\npattern = \"(?P<amount>[0-9.]+)\"\n\n[[account]]\nsource = \"imap\"\nid = \"M1\"\n",
            secret("imap")
        ),
        replies: vec![],
        on_wire: vec![],
    });

    let token = secret("notice-http-json");
    cases.push(Case {
        kind: "notice-http-json",
        part: Part::Notice,
        toml: format!(
            "[[notice]]\nname = \"status\"\nkind = \"http-json\"\nurl = \"{base}/notices\"\nschedule = \"0 * * * *\"\nauth = {{ type = \"bearer\", token = \"{token}\" }}\n[notice.mapping]\ntitle = \"/title\"\n"
        ),
        replies: vec![(
            "/notices".into(),
            match sources_echo {
                true => Reply::json(&format!("{{\"echo\": \"Bearer {token}\", not json")),
                false => Reply::json("{\"echo\": not json"),
            },
        )],
        on_wire: vec![format!("Bearer {token}")],
    });

    cases.push(Case {
        kind: "email",
        part: Part::Channel { name: "mail" },
        toml: format!(
            "[[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:{closed}\"\ntls = \"none\"\nusername = \"me\"\npassword = \"{}\"\nfrom = \"payguard@example.com\"\nto = [\"me@example.com\"]\ntimeout = \"5s\"\n",
            secret("email")
        ),
        replies: vec![],
        on_wire: vec![],
    });

    let twilio = secret("sms-twilio");
    cases.push(Case {
        kind: "sms-twilio",
        part: Part::Channel { name: "twilio" },
        toml: format!(
            "[[channel]]\nname = \"twilio\"\nkind = \"sms\"\nprovider = \"twilio\"\naccount_sid = \"AC0123\"\nauth_token = \"{twilio}\"\nfrom = \"+15005550006\"\nto = [\"+491701234567\"]\napi_base = \"{base}/twilio\"\n"
        ),
        replies: vec![(
            "/twilio/2010-04-01/Accounts/AC0123/Messages.json".into(),
            echo(401, &format!("{twilio} as {}", base64(format!("AC0123:{twilio}").as_bytes()))),
        )],
        on_wire: vec![base64(format!("AC0123:{twilio}").as_bytes())],
    });

    let (gateway_key, gateway_header) = (secret("sms-gateway-key"), secret("sms-gateway-header"));
    cases.push(Case {
        kind: "sms-gateway",
        part: Part::Channel { name: "gateway" },
        toml: format!(
            "[[channel]]\nname = \"gateway\"\nkind = \"sms\"\nprovider = \"http\"\nurl = \"{base}/gateway/send?key={gateway_key}\"\nheaders = {{ \"X-Auth\" = \"{gateway_header}\" }}\nbody = \"to={{to}}&text={{message}}\"\nto = [\"+491701234567\"]\n"
        ),
        replies: vec![("/gateway/send".into(), echo(500, &format!("key={gateway_key} X-Auth: {gateway_header}")))],
        on_wire: vec![gateway_key.clone(), gateway_header.clone()],
    });

    // Webhooks: the secret in a header, a token, or the URL's path (Slack, Discord).
    let webhook =
        |preset: &'static str, name: &'static str, entry: String, reply: Option<(String, Reply)>, on_wire| Case {
            kind: name,
            part: Part::Channel { name },
            toml: format!("[[channel]]\nname = \"{name}\"\nkind = \"webhook\"\npreset = \"{preset}\"\n{entry}"),
            replies: reply.into_iter().collect(),
            on_wire,
        };
    let generic = secret("webhook-generic");
    cases.push(webhook(
        "generic",
        "webhook-generic",
        format!("url = \"{base}/hook\"\nheaders = {{ \"Authorization\" = \"Token {generic}\" }}\n"),
        Some(("/hook".into(), echo(500, &format!("Token {generic}")))),
        vec![generic.clone()],
    ));
    let ntfy = secret("webhook-ntfy");
    cases.push(webhook(
        "ntfy",
        "webhook-ntfy",
        format!("url = \"{base}/ntfy-topic\"\ntoken = \"{ntfy}\"\n"),
        Some(("/ntfy-topic".into(), echo(500, &ntfy))),
        vec![ntfy.clone()],
    ));
    let gotify = secret("webhook-gotify");
    cases.push(webhook(
        "gotify",
        "webhook-gotify",
        format!("url = \"{base}/gotify\"\ntoken = \"{gotify}\"\n"),
        Some(("/gotify/message".into(), echo(401, &gotify))),
        vec![gotify.clone()],
    ));
    // No reply for Slack: the fixture's 404 names the path, token and all.
    let slack = secret("webhook-slack");
    cases.push(webhook(
        "slack",
        "webhook-slack",
        format!("url = \"{base}/services/T0/B0/{slack}\"\n"),
        None,
        vec![slack.clone()],
    ));
    let discord = secret("webhook-discord");
    cases.push(webhook(
        "discord",
        "webhook-discord",
        format!("url = \"{base}/api/webhooks/1/{discord}\"\n"),
        Some((
            format!("/api/webhooks/1/{discord}"),
            Reply::status(502, &format!("<html>bad gateway for /api/webhooks/1/{discord}</html>")),
        )),
        vec![discord.clone()],
    ));
    cases
}

/// Every secret of every case, and the Basic credentials built from them.
fn forbidden(cases: &[Case]) -> Vec<String> {
    let mut all = vec![MARK.to_owned()];
    all.extend(cases.iter().flat_map(|c| c.on_wire.iter().filter(|w| !w.contains(MARK)).cloned()));
    all
}

/// Notes in `leaks` where `text` (what `what` showed) holds a forbidden string.
fn check_clean(leaks: &mut Vec<String>, what: &str, text: &str, forbidden: &[String]) {
    for secret in forbidden.iter().filter(|s| text.contains(s.as_str())) {
        let line = text.lines().find(|l| l.contains(secret.as_str())).unwrap_or_default();
        leaks.push(format!("{what} shows {secret:?}: {line}"));
    }
}

fn wire(seen: &[Seen]) -> String {
    seen.iter()
        .map(|s| format!("{} {}?{} {:?} {}", s.method, s.path, s.query, s.headers, s.body))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_of_any_source_or_channel_leaks_when_it_fails() {
    let leaks = leaks(false).await;
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
}

/// A platform whose error page repeats the request (its URL with an API key, its Authorization
/// header) must not have that carried into the source's error, the log or `payguard once`: the
/// sources' GET cuts what it sent out of what it keeps, as the channels do.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_when_a_failing_source_echoes_the_request() {
    let leaks = leaks(true).await;
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
}

/// Configures every case of [`cases`], fails each on its own and through the binary, and returns
/// every place a secret showed, so one run lists them all.
async fn leaks(sources_echo: bool) -> Vec<String> {
    let fixture = Fixture::start().await;
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind").local_addr().expect("address").port();
    let cases = cases(&fixture, closed, sources_echo);
    for (path, reply) in cases.iter().flat_map(|c| &c.replies) {
        fixture.reply(path, reply.clone());
    }
    let forbidden = forbidden(&cases);
    let mut leaks = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = format!("[daemon]\nstate_dir = \"{}\"\n\n", quoted(&dir.path().join("state")));
    for case in &cases {
        text.push_str(&case.toml);
        text.push('\n');
    }
    // Only its owner may read it: the output under test is the same either way, minus a warning.
    let path = write_config(dir.path(), &text, 0o600);
    let config = Config::load(&path).unwrap_or_else(|e| panic!("the config should load: {e}"));
    check_clean(&mut leaks, "the Config's Debug", &format!("{config:?}"), &forbidden);

    // Each part, failing on its own: its error, shown both ways.
    let now = Utc::now();
    let message = test_message("t", now, Language::En, &Support::default());
    for case in &cases {
        let error = match &case.part {
            Part::Source { name, account } => {
                let source_config = config.sources.iter().find(|s| s.name == *name).expect("configured");
                let source = Source::new(source_config).unwrap_or_else(|e| panic!("{}: {e}", case.kind));
                match source.poll(&[(*account).to_owned()], now - TimeDelta::days(5), now).await {
                    Err(e) => format!("{e}\n{e:?}"),
                    Ok(poll) => poll
                        .accounts
                        .iter()
                        .filter_map(|(_, r)| r.as_ref().err())
                        .map(|e| format!("{e}\n{e:?}"))
                        .collect(),
                }
            }
            Part::Notice => {
                let notice = NoticeSource::new(&config.notices[0]).unwrap_or_else(|e| panic!("{}: {e}", case.kind));
                notice.poll(now).await.err().map(|e| format!("{e}\n{e:?}")).unwrap_or_default()
            }
            Part::Channel { name } => {
                let channel_config = config.channel(name).expect("configured");
                let channel =
                    Channel::new(channel_config, Stream::Stderr).unwrap_or_else(|e| panic!("{}: {e}", case.kind));
                channel.send(&message).await.err().map(|e| format!("{e}\n{e:?}")).unwrap_or_default()
            }
        };
        assert!(!error.is_empty(), "{}: it should have failed", case.kind);
        check_clean(&mut leaks, &format!("the error of {}", case.kind), &error, &forbidden);
    }
    // The secrets were used, so their absence above means something.
    let sent = wire(&fixture.seen());
    for case in &cases {
        for expected in &case.on_wire {
            assert!(sent.contains(expected.as_str()), "{}: {expected:?} never reached the fixture:\n{sent}", case.kind);
        }
    }

    // The binary: every command that loads this config, shows it, or sends through it.
    let before = fixture.seen().len();
    let check = payguard_async(&path, &["check"]).await;
    assert_eq!(check.status.code(), Some(0), "{}", both(&check));
    check_clean(&mut leaks, "payguard check", &both(&check), &forbidden);
    let notify_test = payguard_async(&path, &["notify-test"]).await;
    check_clean(&mut leaks, "payguard notify-test", &both(&notify_test), &forbidden);
    // The refused credentials of `sf` raise source_down at once, and every channel is told.
    let once = payguard_async(&path, &["once"]).await;
    assert_eq!(once.status.code(), Some(75), "{}", both(&once));
    check_clean(&mut leaks, "payguard once", &both(&once), &forbidden);
    let channel_paths = ["/hook", "/ntfy-topic", "/gotify/message", "/gateway/send"];
    let tried = fixture.seen()[before..].iter().filter(|s| channel_paths.contains(&s.path.as_str())).count();
    assert!(tried >= 2 * channel_paths.len(), "notify-test and once should each try every channel: {tried}");
    // What the store kept of the failures: each source's last error, the alerts, the delivery log.
    for args in [&["status"][..], &["alerts", "--all"]] {
        let output = payguard_async(&path, args).await;
        // status says in its exit code that sources are failing; the report is printed all the same.
        let want = if args[0] == "status" { 75 } else { 0 };
        assert_eq!(output.status.code(), Some(want), "{args:?}: {}", both(&output));
        check_clean(&mut leaks, &format!("payguard {}", args.join(" ")), &both(&output), &forbidden);
    }
    let out = dir.path().join("evidence");
    let export =
        payguard_async(&path, &["export", "--account", "ACT-SF", "--since", "7d", "--out", &out.to_string_lossy()])
            .await;
    assert_eq!(export.status.code(), Some(0), "{}", both(&export));
    check_clean(&mut leaks, "payguard export", &both(&export), &forbidden);
    let files = std::fs::read_dir(&out).expect("the export directory").map(|e| e.expect("an entry").path());
    let mut read = 0;
    for file in files {
        let bytes = std::fs::read(&file).expect("read an exported file");
        check_clean(&mut leaks, &file.display().to_string(), &String::from_utf8_lossy(&bytes), &forbidden);
        read += 1;
    }
    assert!(read >= 4, "the bundle should hold its CSVs, alerts, report and manifest");
    leaks
}
