//! `payguard man`: the payguard(1) manual page in roff, generated from the clap definition (name,
//! synopsis, options, every subcommand with its arguments) plus what clap does not know: exit
//! status, environment and files. Needs no config. `doc/payguard.1` is this command's output.

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Arg, CommandFactory as _};
use roff::{Inline, Roff, bold, italic, roman};

use super::{Cli, exit};
use crate::config::DEFAULT_PATH;

pub fn run() -> anyhow::Result<u8> {
    std::io::stdout().lock().write_all(page().as_bytes()).context("cannot write to stdout")?;
    Ok(exit::OK)
}

/// The whole page. clap_mangen writes the head (title, name, synopsis, options); its subcommand
/// list only names a page per subcommand, which payguard does not ship, so that list is replaced
/// by one describing each subcommand's arguments here. Those sections and the ones clap cannot
/// know go before clap_mangen's VERSION section, where man-pages(7) orders them.
fn page() -> String {
    let head = Cli::command()
        .subcommand_value_name("COMMAND")
        .disable_help_subcommand(true)
        .mut_subcommands(|sub| sub.hide(true));
    let mut generated = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = clap_mangen::Man::new(head).title("PAYGUARD").manual("payguard manual").render(&mut generated);
    let mut page = String::from_utf8_lossy(&generated).into_owned();
    let at = page.find("\n.SH VERSION").map_or(page.len(), |i| i + 1);
    page.insert_str(at, &sections());
    page
}

fn sections() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["SUBCOMMANDS"]);
    // Left-adjusted: a synopsis that wraps would otherwise be justified, stretching the space in
    // "payguard enablebanking-link" that a reader searches for.
    roff.control("ad", ["l"]);
    subcommands(&mut roff, &Cli::command(), "payguard");
    roff.control("ad", ["b"]);

    roff.control("SH", ["EXIT STATUS"]);
    let codes = [
        (exit::OK, "Success."),
        (exit::FAILURE, "Another failure; for verify, a broken link in the audit log."),
        (
            exit::ROLLED_BACK,
            "For verify: the audit log is shorter than its anchor recorded; the store lost its newest writes.",
        ),
        (2, "The command line is wrong."),
        (exit::IO, "The store could not be read or written."),
        (
            exit::TEMPFAIL,
            "A source or account failed, or the store is in use by another payguard process; for reload, no daemon listens.",
        ),
        (
            exit::CONFIG,
            "The configuration is wrong; for reload, the daemon refused the new one and keeps running the old.",
        ),
    ];
    for (code, meaning) in codes {
        item(&mut roff, vec![bold(code.to_string())], meaning);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    let mut options = Vec::new();
    option_variables(&Cli::command(), &mut options);
    for (name, meaning) in &options {
        item(&mut roff, vec![bold(name)], meaning);
    }
    let variables = [
        ("RUST_LOG", "The log filter when --log-level is not given."),
        (
            "NOTIFY_SOCKET",
            "Set by systemd for Type=notify services: payguard run reports there that it is ready, its status line, watchdog pings and that it is stopping.",
        ),
        (
            "JOURNAL_STREAM",
            "Set by systemd when stderr goes to the journal: each log line then starts with its syslog priority and carries no timestamp.",
        ),
        (
            "CREDENTIALS_DIRECTORY",
            "Set by systemd for LoadCredential=: ${credential:NAME} in the configuration reads the file NAME there.",
        ),
        ("STATE_DIRECTORY", "Set by systemd for StateDirectory=: the default state directory."),
        (
            "RUNTIME_DIRECTORY",
            "Set by systemd for RuntimeDirectory=: the control socket is control.sock there, unless the configuration names one.",
        ),
    ];
    for (name, meaning) in variables {
        item(&mut roff, vec![bold(name)], meaning);
    }

    roff.control("SH", ["FILES"]);
    let files = [
        (
            DEFAULT_PATH,
            "The configuration. /usr/share/doc/payguard/payguard.example.toml shows and explains every option.",
        ),
        (
            "/var/lib/payguard",
            "The state directory: the store with the history, the alerts, the outbox and the audit log.",
        ),
        (
            "/run/payguard/control.sock",
            "The running daemon's control socket (mode 0600): the other commands ask the daemon through it.",
        ),
    ];
    for (path, meaning) in files {
        item(&mut roff, vec![bold(path)], meaning);
    }
    roff.to_roff()
}

/// Each subcommand as it is typed, what it does, and its arguments; nested ones (`silence add`)
/// under their full name.
fn subcommands(roff: &mut Roff, cmd: &clap::Command, prefix: &str) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix} {}", sub.get_name());
        if sub.has_subcommands() {
            subcommands(roff, sub, &name);
            continue;
        }
        let args: Vec<&Arg> = sub.get_arguments().filter(|a| !a.is_hide_set()).collect();
        let mut synopsis = vec![bold(name)];
        for arg in &args {
            let usage = usage(arg);
            synopsis.push(roman(" "));
            if arg.is_required_set() {
                synopsis.extend(usage);
            } else {
                synopsis.push(roman("["));
                synopsis.extend(usage);
                synopsis.push(roman("]"));
            }
        }
        roff.control("TP", []).text(synopsis);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        let described: Vec<(&Arg, String)> =
            args.iter().map(|arg| (*arg, description(arg))).filter(|(_, text)| !text.is_empty()).collect();
        if !described.is_empty() {
            roff.control("RS", []);
            for (arg, text) in described {
                item(roff, usage(arg), &text);
            }
            roff.control("RE", []);
        }
    }
}

/// The variables clap reads in place of an option, from every subcommand, each once.
fn option_variables(cmd: &clap::Command, out: &mut Vec<(String, String)>) {
    for arg in cmd.get_arguments() {
        let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
        let name = name.to_string_lossy().into_owned();
        if !out.iter().any(|(known, _)| *known == name) {
            let help = arg.get_help().map(|help| format!(" {help}.")).unwrap_or_default();
            out.push((name, format!("Used for --{long} when that is not given.{help}")));
        }
    }
    for sub in cmd.get_subcommands() {
        option_variables(sub, out);
    }
}

/// An argument's help, the values it takes when they are a fixed set, and its default.
fn description(arg: &Arg) -> String {
    let mut parts: Vec<String> = arg.get_help().map(|help| format!("{help}.")).into_iter().collect();
    let values: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
    // A flag's possible values are true and false; it takes none on the command line.
    if arg.get_action().takes_values() && !values.is_empty() {
        parts.push(format!("One of {}.", values.join(", ")));
    }
    if let Some(default) = arg.get_default_values().first().filter(|d| !d.is_empty()) {
        parts.push(format!("Default: {}.", default.to_string_lossy()));
    }
    parts.join(" ")
}

/// An argument as it is typed: `--name VALUE`, `--flag`, or `VALUE`.
fn usage(arg: &Arg) -> Vec<Inline> {
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    match arg.get_long() {
        None => vec![italic(value)],
        Some(long) if arg.get_action().takes_values() => vec![bold(format!("--{long}")), roman(" "), italic(value)],
        Some(long) => vec![bold(format!("--{long}"))],
    }
}

/// A tagged paragraph: the tag, its meaning indented below.
fn item(roff: &mut Roff, tag: Vec<Inline>, text: &str) {
    roff.control("TP", []).text(tag).text([roman(text)]);
}
