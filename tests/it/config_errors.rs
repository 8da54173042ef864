//! Proves that a broken config file is refused with a report a person can act on. Every file in
//! `tests/configs/bad/` holds one mistake, and its first line says where the loader must report it
//! (line, column, key) and what the message must say; the loader is checked against all of them, and
//! no report may show a password. It also proves that `payguard check` exits 78 (EX_CONFIG) with the
//! place of the mistake on stderr, and that a good config passes `check` without printing its password.
//! And a running daemon sent each broken file by SIGHUP keeps running the config it has, saying where
//! the new one is wrong in its status line.
//!
//! The first line of a corpus file has this form:
//!
//! ```text
//! # expect: line=7 column=12 key=source[0].schedule message~"5 fields" message!~"hunter2"
//! ```
//!
//! `line=0 column=0` is for mistakes with no place in the file, and `key=` may be empty for syntax
//! errors. `message~"…"` (at least one) must appear in the message; `message!~"…"` must appear
//! nowhere in the report, in any letter case. Inside quotes, `\"` and `\\` are escapes.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use payguard::config::Config;
use support::corpus::{bad_dir, corpus, parse_header, read_expectation};

/// The password every corpus file uses: no report may show it.
const CORPUS_PASSWORD: &str = "hunter2";

/// `unset_env_secret.toml` refers to this variable; it must be unset for that file to mean anything.
const UNSET_VARIABLE: &str = "PAYGUARD_TEST_UNSET_VARIABLE_XYZ";

/// The corpus may grow, but a folder emptied by accident must not pass.
const MIN_CORPUS_SIZE: usize = 30;

/// Everything about the report of one corpus file that differs from its header.
fn mismatches(path: &Path) -> Vec<String> {
    let expect = read_expectation(path);
    let error = match Config::load(path) {
        Ok(_) => return vec!["loaded without an error".to_owned()],
        Err(error) => error,
    };
    let report = error.to_string();
    let mut problems = Vec::new();
    let mut compare = |what: &str, expected: &dyn std::fmt::Debug, actual: &dyn std::fmt::Debug, same: bool| {
        if !same {
            problems.push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    };
    compare("line", &expect.line, &error.line, expect.line == error.line);
    compare("column", &expect.column, &error.column, expect.column == error.column);
    compare("key", &expect.key, &error.key, expect.key == error.key);
    // One mistake per file: anything more is a mistake made up by another (a cascade).
    for other in &error.more {
        problems.push(format!("reported a second mistake: {other}"));
    }
    for needle in &expect.contains {
        if !error.message.contains(needle.as_str()) {
            problems.push(format!("message should contain {needle:?}"));
        }
    }
    let lowered = report.to_lowercase();
    for needle in expect.lacks.iter().map(String::as_str).chain([CORPUS_PASSWORD]) {
        if lowered.contains(&needle.to_lowercase()) {
            problems.push(format!("report must not show {needle:?}"));
        }
    }
    let place = if expect.line > 0 {
        format!("{}:{}:{}", path.display(), expect.line, expect.column)
    } else {
        format!("{}: ", path.display())
    };
    if !report.starts_with(&place) {
        problems.push(format!("Display should start with {place:?}"));
    }
    if !problems.is_empty() {
        problems.push(format!("the report was: {report}"));
    }
    problems
}

#[test]
fn every_broken_config_is_reported_where_it_is_wrong() {
    assert!(
        std::env::var_os(UNSET_VARIABLE).is_none(),
        "{UNSET_VARIABLE} is set in the environment; unset it, unset_env_secret.toml relies on it"
    );
    let files = corpus();
    assert!(
        files.len() >= MIN_CORPUS_SIZE,
        "{} holds {} .toml files, expected at least {MIN_CORPUS_SIZE}",
        bad_dir().display(),
        files.len()
    );
    // Every file is checked before failing, so one run lists all the loader's wrong reports.
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let problems = mismatches(path);
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            (!problems.is_empty()).then(|| format!("{name}:\n    {}", problems.join("\n    ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} broken configs were not reported as their header expects:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn expectation_headers_are_read_with_escapes_and_empty_keys() {
    let header = r#"# expect: line=3 column=13 key= message~"expected `\"`" message!~"a\\b""#;
    let expect = parse_header(header).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((expect.line, expect.column, expect.key.as_str()), (3, 13, ""));
    assert_eq!(expect.contains, ["expected `\"`"]);
    assert_eq!(expect.lacks, ["a\\b"]);
    assert!(parse_header("# expect: line=1 column=1 key=x").is_err(), "a header without message~ must be refused");
    assert!(parse_header("# expect: line=one column=1 key=x message~\"m\"").is_err());
}

fn payguard_check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(config)
        .arg("check")
        // The config must come from --config alone, and logging must not depend on the caller.
        .env_remove("PAYGUARD_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("the payguard binary should start")
}

/// Every command that reads the config, with the arguments it needs to get that far.
const CONFIG_COMMANDS: [&[&str]; 15] = [
    &["check"],
    &["once"],
    &["run"],
    &["reload"],
    &["notify-test"],
    &["silence", "list"],
    &["status"],
    &["history", "ACT-1"],
    &["export", "--account", "ACT-1", "--since", "7d", "--out", "evidence"],
    &["alerts"],
    &["payees", "ACT-1"],
    &["imap-test", "--source", "mail"],
    &["trust", "ACT-1", "Landlord"],
    &["ack", "a1b2c3d4e5f6"],
    &["verify"],
];

/// The commands that need no config: the steps before writing one (`init` writes it), and the ones
/// about payguard.
const NO_CONFIG_COMMANDS: [&str; 9] =
    ["demo", "init", "simplefin-claim", "gocardless-link", "enablebanking-link", "completions", "man", "agent", "help"];

/// `payguard ARGS…` in an empty directory, with `env` as the only payguard variables.
fn payguard_in(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.args(args).current_dir(dir).env_remove("PAYGUARD_CONFIG").env_remove("RUNTIME_DIRECTORY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the payguard binary should start")
}

#[test]
fn with_no_config_every_command_says_where_it_looked_and_where_to_start() {
    use clap::CommandFactory as _;
    let listed: Vec<&str> = CONFIG_COMMANDS.iter().map(|args| args[0]).chain(NO_CONFIG_COMMANDS).collect();
    for command in payguard::cli::Cli::command().get_subcommands() {
        assert!(listed.contains(&command.get_name()), "is `{}` a command that reads the config?", command.get_name());
    }
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let missing = dir.path().join("nowhere").join("payguard.toml");
    for args in CONFIG_COMMANDS {
        let flag = payguard_in(dir.path(), &[&["--config", missing.to_str().expect("UTF-8")], args].concat(), &[]);
        let from_env = payguard_in(dir.path(), args, &[("PAYGUARD_CONFIG", &missing)]);
        for (output, origin) in [(flag, "(named by --config)"), (from_env, "(named by $PAYGUARD_CONFIG")] {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(78), "payguard {args:?} should exit 78 (EX_CONFIG): {stderr}");
            let looked = format!("payguard: no config file at {} {origin}", missing.display());
            assert!(stderr.starts_with(&looked), "payguard {args:?} should say {looked:?}; it said: {stderr}");
            assert!(stderr.contains("Start from config/payguard.example.toml"), "{args:?}: {stderr}");
            assert!(stderr.contains("`payguard init` write a first one there"), "{args:?}: {stderr}");
        }
    }
    // The default path is what it looks at with neither; unless payguard is installed with a config
    // on this machine, it says so there.
    if !Path::new(payguard::config::DEFAULT_PATH).exists() {
        let output = payguard_in(dir.path(), &["check"], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{stderr}");
        assert!(
            stderr.contains("no config file at /etc/payguard/payguard.toml (the default, as neither --config nor $PAYGUARD_CONFIG was given)"),
            "{stderr}"
        );
    }
}

#[test]
fn check_exits_with_ex_config_and_names_the_place_of_the_mistake() {
    // A mistake next to a password, so the test also sees that stderr keeps it hidden.
    let path = bad_dir().join("plain_http_remote.toml");
    let expect = read_expectation(&path);
    let output = payguard_check(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "payguard check should exit 78 (EX_CONFIG); stderr: {stderr}");
    let place = format!("{}:{}:{}", path.display(), expect.line, expect.column);
    assert!(stderr.contains(&place), "stderr should name {place}; it was: {stderr}");
    assert!(stderr.contains(&expect.key), "stderr should name the key {}; it was: {stderr}", expect.key);
    assert!(!stderr.contains(CORPUS_PASSWORD), "stderr shows the password: {stderr}");
}

/// Three tables with a mistake each: one run of `check` names all three, in file order.
#[test]
fn check_lists_every_mistake_in_file_order() {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let path = dir.path().join("payguard.toml");
    let text = "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"https://user:hunter2@bridge.example.com/simplefin\"\nschedule = \"0 * * *\"\n\n\
                [[channel]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://smtp.example.com\"\nfrom = \"payguard\"\nto = [\"me@example.com\"]\n\n\
                [[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://hooks.example.com/x\"\n";
    std::fs::write(&path, text).expect("write the config");
    let output = payguard_check(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    let places: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("payguard: {}:", path.display())))
        .map(|rest| rest.split(": ").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(places, ["5:12", "11:8", "17:7"], "{stderr}");
    assert!(stderr.contains("`source[0].schedule`") && stderr.contains("`channel[0].from`"), "{stderr}");
    assert!(stderr.contains("`channel[1].url`") && stderr.ends_with("3 mistakes in the config\n"), "{stderr}");
    assert!(!stderr.contains(CORPUS_PASSWORD), "{stderr}");
}

#[test]
fn a_good_config_passes_check_without_showing_its_password() {
    const PASSWORD: &str = "Pa55-never-printed-7f3e";
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let state_dir = dir.path().join("state");
    let state_dir = state_dir.to_str().expect("the temporary directory has a UTF-8 path");
    assert!(!state_dir.contains('\''), "{state_dir} cannot go in a TOML literal string");
    let config = dir.path().join("payguard.toml");
    let text = format!(
        r#"[daemon]
state_dir = '{state_dir}'
timezone = "Europe/Berlin"

[[source]]
name = "bank"
kind = "simplefin"
access_url = "https://payguard-user:{PASSWORD}@bridge.example.com/simplefin"
schedule = "*/15 * * * *"

[[account]]
source = "bank"
id = "ACT-1"
name = "Everyday Wallet"
min_balance = "500.00"
drop_abs = "500.00"
drop_pct = 30
drop_window = "1h"
large_debit = "700.00"
learning_period = "7d"
trusted_payees = ["Landlord Co"]
velocity_count = 3
velocity_window = "1h"
duplicate_window = "24h"

[[channel]]
name = "terminal"
kind = "console"
"#
    );
    std::fs::write(&config, text).expect("the config should be written");

    let output = payguard_check(&config);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "payguard check should pass; stderr: {stderr}");
    let ok = format!("{}: OK", config.display());
    assert!(stdout.starts_with(&ok), "stdout should start with {ok:?}; it was: {stdout}");
    assert!(stdout.contains("bridge.example.com"), "the summary should name the host; it was: {stdout}");
    assert!(!stdout.contains(PASSWORD), "stdout shows the password: {stdout}");
    assert!(!stderr.contains(PASSWORD), "stderr shows the password: {stderr}");
}

/// A newcomer's first `check` of the example is green: `--offline` reads none of its secrets
/// (no credentials directory, no environment) and checks everything else.
#[test]
fn the_example_config_passes_check_offline_out_of_the_box() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(root.join("config/payguard.example.toml"))
        .args(["check", "--offline"])
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("WALLET_API_TOKEN")
        .env_remove("PAYGUARD_SMTP_PASSWORD")
        .output()
        .expect("run payguard check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("bank/ACT-1") && stdout.contains("secrets were not read (--offline)"), "{stdout}");
}

/// The shipped example config is valid, shows every detector, and `check` prints no secret.
#[test]
fn the_example_config_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let credentials = tempfile::tempdir().expect("temp dir");
    std::fs::write(credentials.path().join("simplefin-url"), "https://user:hunter2@bridge.example.com/simplefin\n")
        .expect("write credential");
    std::fs::write(credentials.path().join("twilio-token"), "twilio-hunter2\n").expect("write credential");
    let output = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(root.join("config/payguard.example.toml"))
        .arg("check")
        .env("CREDENTIALS_DIRECTORY", credentials.path())
        .env("WALLET_API_TOKEN", "tok-hunter2")
        .env("PAYGUARD_SMTP_PASSWORD", "smtp-hunter2")
        .output()
        .expect("run payguard check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    for expected in [
        "bank (simplefin, https://bridge.example.com)",
        "wallet (http-json, https://api.wallet.example)",
        "bank/ACT-1",
        "wallet/W-42",
        "velocity: 5 debits or 2000.00 out within 1h",
        "phone (sms, twilio to +491701234567, at most 5 an hour)",
        "route 0: severity critical → desktop, mail, phone, then keep matching",
        "quiet hours 23:00–07:00: held until they end, except critical",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_daemon_keeps_its_config_through_every_broken_one() {
    let sim = payguard::sim::Simulator::start(payguard::sim::demo_script(), payguard::sim::Advance::Manual)
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // New Year's midnight only, so the status line's "next poll 00:00" shows which config runs.
    let config = support::sim_config(dir.path(), &sim.access_url(), "0 0 1 1 *", "");
    let good = std::fs::read_to_string(&config).expect("read the config");
    let socket = dir.path().join("notify.sock");
    let mut manager = support::notify_socket::Manager::listen(&socket);
    let daemon = support::daemon(&config)
        .env("NOTIFY_SOCKET", &socket)
        .env_remove(UNSET_VARIABLE)
        .spawn()
        .expect("start payguard run");
    let first = manager.next_saying("READY=1");
    let running = "STATUS=1 accounts, 0 firing, next poll 00:00";
    assert!(first.contains(running), "{first}");

    let reload = |manager: &mut support::notify_socket::Manager| {
        support::signal(&daemon, "HUP");
        manager.next_saying("RELOADING=1");
        manager.next_saying("READY=1")
    };
    let mut wrong = Vec::new();
    for path in corpus() {
        let expect = read_expectation(&path);
        std::fs::copy(&path, &config).expect("put the broken config in place");
        let ready = reload(&mut manager);
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let place = format!("payguard.toml:{}:{}", expect.line, expect.column);
        if !ready.contains(running) || !ready.contains("reload failed, running the previous config") {
            wrong.push(format!("{name}: {ready}"));
        } else if expect.line > 0 && !ready.contains(&place) {
            wrong.push(format!("{name}: {place} not named in {ready}"));
        } else if ready.to_lowercase().contains(CORPUS_PASSWORD) {
            wrong.push(format!("{name}: the status shows the password"));
        }
    }
    std::fs::write(&config, good.replace("0 0 1 1 *", "30 4 * * *")).expect("write a good config");
    let healed = reload(&mut manager);
    support::signal(&daemon, "TERM");
    let exit = tokio::task::spawn_blocking(move || daemon.wait_with_output()).await.expect("join").expect("wait");
    assert!(wrong.is_empty(), "a broken config was not refused as it should be:\n{}", wrong.join("\n"));
    assert!(healed.contains("next poll 04:30") && !healed.contains("reload failed"), "{healed}");
    assert_eq!(exit.status.code(), Some(0));
}
