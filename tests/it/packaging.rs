//! payguard as a package ships it: the shell completions and the man page the binary prints, the
//! copies of them checked in for `cargo deb` (never stale), the package's asset list (every file
//! exists), and log lines under journald (a syslog priority each, no timestamp).

use std::io::{BufRead as _, BufReader};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::CommandFactory as _;

/// Only guards against a hang; every wait here ends within seconds.
const BOUND: Duration = Duration::from_secs(60);

/// The generated files shipped in the package, and the arguments that print each.
const GENERATED: [(&str, &[&str]); 4] = [
    ("doc/payguard.1", &["man"]),
    ("completions/payguard.bash", &["completions", "bash"]),
    ("completions/_payguard", &["completions", "zsh"]),
    ("completions/payguard.fish", &["completions", "fish"]),
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `payguard ARGS…` with no config anywhere, as on a machine where none is written yet.
fn payguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payguard"))
        .args(args)
        .env_remove("PAYGUARD_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run payguard")
}

fn stdout_of(args: &[&str]) -> String {
    let output = payguard(args);
    assert_eq!(output.status.code(), Some(0), "payguard {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn subcommand_names() -> Vec<String> {
    payguard::cli::Cli::command().get_subcommands().map(|c| c.get_name().to_owned()).collect()
}

#[test]
fn completions_cover_every_subcommand_in_every_shell() {
    let bash = stdout_of(&["completions", "bash"]);
    for name in subcommand_names() {
        assert!(bash.contains(&name), "the bash completion lacks {name}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains("simplefin-claim"), "{shell}: {script}");
    }
    let unknown = payguard(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2), "a shell clap_complete does not know is a usage error");
}

#[test]
fn the_man_page_is_roff_that_groff_renders_without_warnings() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH PAYGUARD 1"), "{page}");
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "SUBCOMMANDS", "\"EXIT STATUS\"", "ENVIRONMENT", "FILES"] {
        assert!(page.contains(&format!(".SH {section}\n")), "no {section} section");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("payguard.1");
    std::fs::write(&file, &page).expect("write the page");
    // -ww enables every warning; -rLL fixes the width so the rendering does not depend on a terminal.
    let rendered = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=100n"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("groff is needed to check the man page ({e}): install the groff-base package"));
    let warnings = String::from_utf8_lossy(&rendered.stderr);
    assert!(rendered.status.success() && warnings.is_empty(), "groff: {warnings}");
    // groff draws bold by overstriking; what a reader sees is the text without the backspaces.
    let raw = String::from_utf8_lossy(&rendered.stdout);
    let text = strip_overstrike(&raw);
    for name in subcommand_names() {
        assert!(text.contains(&format!("payguard {name}")), "the page lacks {name}: {text}");
    }
    for expected in ["EXIT STATUS", "78", "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY", "/run/payguard/control.sock"] {
        assert!(text.contains(expected), "the page lacks {expected}: {text}");
    }
    assert!(text.contains("--log-level"), "options keep their hyphens: {text}");
}

fn strip_overstrike(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    // groff may set `-` as a hyphen and `\-` as a minus sign; a reader types both as `-`.
    out.replace(['\u{2010}', '\u{2212}'], "-")
}

#[test]
fn checked_in_generated_files_are_what_the_binary_prints() {
    let mut stale = Vec::new();
    for (path, args) in GENERATED {
        let printed = stdout_of(args);
        let shipped = std::fs::read_to_string(repo(path)).unwrap_or_default();
        if shipped != printed {
            stale.push(format!("cargo run -q -- {} > {path}", args.join(" ")));
        }
    }
    assert!(stale.is_empty(), "stale generated files; regenerate them with:\n{}", stale.join("\n"));
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let text = std::fs::read_to_string(repo("Cargo.toml")).expect("read Cargo.toml");
    let mut manifest: toml::Table = text.parse().expect("Cargo.toml parses");
    let package = manifest.remove("package").expect("[package]");
    let toml::Value::Table(mut package) = package else { panic!("[package] is a table") };
    let Some(toml::Value::Table(mut metadata)) = package.remove("metadata") else { panic!("[package.metadata]") };
    let Some(toml::Value::Table(deb)) = metadata.remove("deb") else { panic!("[package.metadata.deb]") };
    deb
}

#[test]
fn every_packaged_file_exists() {
    let deb = deb_metadata();
    let assets = deb.get("assets").and_then(toml::Value::as_array).expect("assets");
    let mut sources = Vec::new();
    for asset in assets {
        let fields: Vec<&str> =
            asset.as_array().expect("an asset is an array").iter().filter_map(|v| v.as_str()).collect();
        let [source, target, mode] = fields[..] else { panic!("an asset is [source, target, mode]: {asset}") };
        assert!(!target.starts_with('/'), "targets are relative to the package root: {target}");
        assert!(u32::from_str_radix(mode, 8).is_ok_and(|m| m <= 0o777), "mode {mode} of {source}");
        if source != "target/release/payguard" {
            assert!(repo(source).is_file(), "{source} is packaged but does not exist");
        }
        sources.push(source.to_owned());
    }
    for (path, _) in GENERATED {
        assert!(sources.iter().any(|s| s == path), "{path} is generated for the package but not packaged");
    }

    // cargo-deb takes the system unit named after the package from maintainer-scripts; every other
    // unit must be an asset, so a new unit file cannot be left out of the package.
    let units = deb.get("maintainer-scripts").and_then(toml::Value::as_str).expect("maintainer-scripts");
    assert!(deb.contains_key("systemd-units"), "without systemd-units the unit is installed but never registered");
    let system_unit = format!("{}payguard.service", units);
    assert!(repo(&system_unit).is_file(), "{system_unit} is where cargo-deb finds the system unit");
    for entry in std::fs::read_dir(repo(units)).expect("read the unit directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name").to_owned();
        let source = format!("{units}{name}");
        assert!(
            source == system_unit || sources.contains(&source),
            "{source} is in {units} but neither the system unit nor an asset"
        );
    }
}

/// With no config, payguard points at the example where the package installs it.
#[test]
fn the_missing_config_message_names_where_the_package_installs_the_example() {
    let deb = deb_metadata();
    let assets = deb.get("assets").and_then(toml::Value::as_array).expect("assets");
    let target = assets
        .iter()
        .filter_map(|a| a.as_array())
        .find(|a| a.first().and_then(toml::Value::as_str) == Some("config/payguard.example.toml"))
        .and_then(|a| a.get(1)?.as_str())
        .expect("the example config is packaged");
    let installed = format!("/{target}payguard.example.toml");
    let output = payguard(&["--config", "/nonexistent/payguard.toml", "check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains(&format!("installed by the package as {installed}")), "{installed}: {stderr}");
}

/// A `payguard.toml` whose one source is a port nothing listens on: every poll fails, which
/// payguard logs as a warning.
fn failing_config(dir: &Path) -> PathBuf {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind").local_addr().expect("address").port();
    let path = dir.join("payguard.toml");
    let state = dir.join("state");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[[source]]\nname = \"bank\"\nkind = \"simplefin\"\naccess_url = \"http://user:pass@127.0.0.1:{port}/simplefin\"\nschedule = \"* * * * * *\"\n\n[[account]]\nsource = \"bank\"\nid = \"ACT-1\"\n",
            state.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
        ),
    )
    .expect("write the config");
    path
}

/// `DEVICE:INODE` of an open file, as systemd writes JOURNAL_STREAM.
fn journal_stream(fd: impl AsFd) -> String {
    let file = std::fs::File::from(fd.as_fd().try_clone_to_owned().expect("dup"));
    let metadata = file.metadata().expect("fstat");
    format!("{}:{}", metadata.dev(), metadata.ino())
}

/// Whether a line holds an RFC 3339 date, as tracing-subscriber's timestamps start.
fn has_timestamp(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.windows(11).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            _ => b.is_ascii_digit(),
        })
    })
}

/// `payguard once` on the failing config with stderr in a file; `journal` decides whether
/// JOURNAL_STREAM names that file or another one. Returns stderr's lines.
fn once_logging_to_a_file(journal: bool) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = failing_config(dir.path());
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).expect("create the log file");
    let other = std::fs::File::create(dir.path().join("other")).expect("create another file");
    let stream = if journal { journal_stream(&stderr) } else { journal_stream(&other) };
    let status = Command::new(env!("CARGO_BIN_EXE_payguard"))
        .arg("--config")
        .arg(&config)
        .arg("once")
        .env("JOURNAL_STREAM", stream)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .expect("run payguard once");
    assert_eq!(status.code(), Some(75), "a failed source is a temporary failure");
    std::fs::read_to_string(&log).expect("read the log").lines().map(str::to_owned).collect()
}

#[test]
fn under_journald_a_line_starts_with_its_priority_and_has_no_timestamp() {
    let lines = once_logging_to_a_file(true);
    let failed =
        lines.iter().find(|l| l.contains("poll failed")).unwrap_or_else(|| panic!("a poll failed line: {lines:#?}"));
    assert!(failed.starts_with("<4>"), "{failed}");
    assert!(failed.contains("source=bank") && failed.contains("error="), "the fields are kept: {failed}");
    assert!(!lines.iter().any(|l| has_timestamp(l) || l.contains("WARN") || l.contains('\u{1b}')), "{lines:#?}");
}

#[test]
fn a_journal_stream_that_is_not_stderr_keeps_the_usual_lines() {
    let lines = once_logging_to_a_file(false);
    let failed =
        lines.iter().find(|l| l.contains("poll failed")).unwrap_or_else(|| panic!("a poll failed line: {lines:#?}"));
    assert!(has_timestamp(failed) && failed.contains("WARN") && !failed.starts_with('<'), "{failed}");
}

#[test]
fn the_daemon_under_journald_logs_each_level_with_its_priority() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = failing_config(dir.path());
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let stream = journal_stream(&writer);
    // The Command holds the pipe's write end; dropping it with the block leaves the daemon the only
    // writer, so reading ends when the daemon exits.
    let mut daemon = {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
        command
            .args(["--log-level", "payguard=debug", "--config"])
            .arg(&config)
            .arg("run")
            .env("JOURNAL_STREAM", stream)
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(writer);
        command.spawn().expect("start payguard run")
    };
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });

    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("poll failed")) {
        match lines.recv_timeout(BOUND) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = daemon.kill();
                panic!("no failed poll logged ({e}): {seen:#?}");
            }
        }
    }
    let status = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().expect("kill");
    assert!(status.success());
    // Until the daemon closes its stderr by exiting.
    while let Ok(line) = lines.recv_timeout(BOUND) {
        seen.push(line);
    }
    let exit = daemon.wait().expect("wait for payguard");
    assert_eq!(exit.code(), Some(0), "{seen:#?}");

    let has = |prefix: &str, text: &str| seen.iter().any(|l| l.starts_with(prefix) && l.contains(text));
    assert!(has("<6>", "payguard started"), "{seen:#?}");
    assert!(has("<7>", "next poll"), "{seen:#?}");
    assert!(has("<4>", "poll failed"), "{seen:#?}");
    assert!(has("<6>", "SIGTERM: stopping"), "{seen:#?}");
    for line in &seen {
        let priority = line.get(..3).unwrap_or_default();
        assert!(["<3>", "<4>", "<6>", "<7>"].contains(&priority), "a line without a priority: {line}");
        assert!(!has_timestamp(line), "a timestamp: {line}");
    }
}
