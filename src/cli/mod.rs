//! The command line: one file per subcommand, each thin. Errors become sysexits codes here.

mod ack;
mod agent;
mod alerts;
mod check;
mod completions;
mod demo;
mod export;
pub(crate) mod history;
mod init;
mod logging;
mod man;
mod no_config;
mod notify_test;
mod once;
mod payees;
mod reload;
mod run;
mod silence;
mod status;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::config::{Config, DEFAULT_PATH, Secrets};
use crate::store::Store;

pub use crate::control::exit;

#[derive(Debug, Parser)]
#[command(
    name = "payguard",
    version,
    about = "Watches your payment and bank accounts and tells you when something is wrong with your money"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, env = "PAYGUARD_CONFIG", default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    /// What chose `config`, so a missing file can be explained.
    #[arg(skip)]
    pub config_origin: no_config::Origin,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG also works.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and show what would be watched, and when.
    Check {
        /// Read no secret (no `${file:...}`, `${env:...}` or `${credential:...}`): check the rest, as on a
        /// machine that does not hold them, such as the example config's.
        #[arg(long)]
        offline: bool,
    },
    /// Poll every source once, store, detect, print and send what fired.
    Once {
        /// Print findings as JSON lines on stdout; everything else goes to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Run the daemon: every source on its schedule until SIGINT or SIGTERM.
    Run,
    /// Make the running daemon read its configuration again, and say whether it now runs (exit 0)
    /// or was refused (exit 78, with the error; the previous configuration keeps running). Exit 75
    /// when no daemon listens. SIGHUP does the same without waiting for the outcome.
    Reload,
    /// Play a scripted incident against the built-in simulated platform.
    Demo,
    /// Send a test message through each channel now, and say which worked.
    NotifyTest {
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Mute alerts for a while.
    Silence {
        #[command(subcommand)]
        action: silence::Action,
    },
    /// How each source and account is doing, what is firing, what is owed.
    Status {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The balances and transactions kept for an account.
    History {
        /// The account id, as in [[account]] id.
        account: String,
        /// The source, when two sources have an account of that id.
        #[arg(long)]
        source: Option<String>,
        /// From (a date, an RFC 3339 time, or an age like 30d); default 30 days ago.
        #[arg(long)]
        since: Option<String>,
        /// Until (same forms); default now.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: history::Format,
    },
    /// Write an evidence bundle for one account (CSV, JSON, an HTML report, a SHA-256 manifest)
    /// into a new or empty directory, to hand to the platform, the bank or the police.
    Export {
        /// The account id, as in [[account]] id.
        #[arg(long)]
        account: String,
        /// The source, when two sources have an account of that id.
        #[arg(long)]
        source: Option<String>,
        /// From (a date, an RFC 3339 time, or an age like 30d).
        #[arg(long)]
        since: String,
        /// Until (same forms); default now.
        #[arg(long)]
        until: Option<String>,
        /// The directory to create (it must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// The alerts that are firing (with --all, every alert kept).
    Alerts {
        #[arg(long)]
        all: bool,
    },
    /// Who an account has paid or been paid by.
    Payees {
        account: String,
        #[arg(long)]
        source: Option<String>,
        /// Instead, the payments seen monthly in the last year, as [[account.expected]] rules to
        /// paste under the account (missing_payment, amount_changed).
        #[arg(long)]
        recurring: bool,
    },
    /// Show which rule of an imap source matches each of the latest mails, and what it reads
    /// (read-only; nothing is stored).
    ImapTest {
        /// The [[source]] name, of kind "imap".
        #[arg(long)]
        source: String,
        /// How many of the latest mails (at most 500).
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Trust a payee of an account: payments to it never raise new_payee.
    Trust {
        account: String,
        payee: String,
        #[arg(long)]
        source: Option<String>,
    },
    /// Acknowledge an alert, or every alert of an incident: a person has seen it, so it is not
    /// repeated.
    Ack {
        /// The alert id, or an incident id (i-...), as printed in every message.
        #[arg(value_name = "ID")]
        alert_id: String,
    },
    /// Check that the store's audit log is intact: every entry hashes right and links to the last,
    /// and no entry its anchor recorded is missing (exit 1 at a broken link, 65 for lost entries).
    Verify,
    /// Write a first config where --config points (mode 0600; never overwrites): a SimpleFIN
    /// source, its accounts, a console and a desktop channel. With --simplefin, claim the setup
    /// token into a file beside it and list the accounts the bridge reads.
    Init {
        /// A SimpleFIN setup token (it works once).
        #[arg(long, value_name = "TOKEN")]
        simplefin: Option<String>,
    },
    /// Exchange a SimpleFIN setup token for its access URL, written to a file only you can read.
    /// Needs no config: this is the step before writing one.
    SimplefinClaim {
        /// The setup token from your SimpleFIN bridge (the base64 of a claim URL; it works once).
        token: String,
        /// Where to write the access URL; created with mode 0600.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Link your bank through GoCardless Bank Account Data: list a country's banks, create the
    /// agreement and the link to open, wait until you have given your bank's consent, and print
    /// the accounts and the config lines. Reads the user secrets from
    /// $PAYGUARD_GOCARDLESS_SECRET_ID and $PAYGUARD_GOCARDLESS_SECRET_KEY. Needs no config.
    GocardlessLink {
        /// Your bank's country (two letters, like DE): lists its banks.
        #[arg(long)]
        country: Option<String>,
        /// The bank's institution id, from that list: creates the link.
        #[arg(long, value_name = "ID")]
        institution: Option<String>,
        /// How many days the access lasts (most banks allow at most 90).
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Where the bank sends your browser after consent; payguard does not need it.
        #[arg(long, value_name = "URL", default_value = "https://localhost/")]
        redirect: String,
        /// The API's address (a copy of it on this machine may use plain http).
        #[arg(long, value_name = "URL", default_value = crate::source::gocardless::API_BASE)]
        api_base: String,
    },
    /// Link your bank through Enable Banking (EU/EEA): list a country's banks, or start the
    /// authorisation, print the link to open, read the address your bank sent the browser back to
    /// from stdin, and write the session id to a file only you can read. Prints the accounts and
    /// the config lines. Needs no config.
    EnablebankingLink {
        /// Your application's id, from the Enable Banking control panel.
        #[arg(long, value_name = "ID")]
        application_id: String,
        /// The application's private key (PEM) that signs the requests.
        #[arg(long, value_name = "FILE")]
        private_key: PathBuf,
        /// Your bank's country (two letters, like FI): without --bank, lists its banks.
        #[arg(long)]
        country: Option<String>,
        /// The bank's name, as that list writes it: starts the authorisation.
        #[arg(long, value_name = "NAME")]
        bank: Option<String>,
        /// How many days the access lasts (at most what the bank allows).
        #[arg(long, default_value_t = 180)]
        days: u32,
        /// Where the bank sends your browser after consent: one registered for the application.
        #[arg(long, value_name = "URL")]
        redirect_url: Option<String>,
        /// Where to write the session id; created with mode 0600.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        /// The API's address (a copy of it on this machine may use plain http).
        #[arg(long, value_name = "URL", default_value = crate::source::enablebanking::API_BASE)]
        api_base: String,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `payguard man | man -l -`.
    Man,
    /// Show a running daemon's alerts as desktop notifications in this session, for a daemon run
    /// as a system service (which cannot reach your desktop). Needs no config.
    Agent {
        /// The daemon's control socket.
        #[arg(long, value_name = "PATH", env = "PAYGUARD_SOCKET", default_value = crate::control::SYSTEM_SOCKET)]
        socket: PathBuf,
    },
}

impl Cli {
    /// The command line of this process; on a usage error, clap's message and exit.
    pub fn from_args() -> Cli {
        Cli::from_matches(&Cli::command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    fn from_matches(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
        let mut cli = Cli::from_arg_matches(matches)?;
        cli.config_origin = no_config::Origin::of(matches.value_source("config"));
        Ok(cli)
    }
}

pub fn main(cli: Cli) -> ExitCode {
    let default_level = match cli.command {
        // Both run for a long time under a service manager, whose journal wants their progress.
        Command::Run | Command::Agent { .. } => "info",
        _ => "warn",
    };
    let journal = logging::init(cli.log_level.as_deref(), default_level);
    let result = match &cli.command {
        Command::Check { offline } => check::run(&cli.config, *offline),
        Command::Once { json } => runtime().and_then(|rt| rt.block_on(once::run(&cli.config, *json))),
        Command::Run => runtime().and_then(|rt| rt.block_on(run::run(&cli.config))),
        Command::Reload => reload::run(&cli.config),
        Command::Demo => runtime().and_then(|rt| rt.block_on(demo::run())),
        Command::NotifyTest { channel } => {
            runtime().and_then(|rt| rt.block_on(notify_test::run(&cli.config, channel.as_deref())))
        }
        Command::Silence { action } => silence::run(&cli.config, action),
        Command::Ack { alert_id } => ack::run(&cli.config, alert_id),
        Command::Verify => verify::run(&cli.config),
        Command::Status { json } => status::run(&cli.config, *json),
        Command::History { account, source, since, until, format } => {
            history::run(&cli.config, account, source.as_deref(), since.as_deref(), until.as_deref(), *format)
        }
        Command::Export { account, source, since, until, out } => {
            export::run(&cli.config, account, source.as_deref(), since, until.as_deref(), out)
        }
        Command::Alerts { all } => alerts::run(&cli.config, *all),
        Command::Payees { account, source, recurring } => {
            payees::list(&cli.config, account, source.as_deref(), *recurring)
        }
        Command::ImapTest { source, limit } => load_config(&cli.config, Secrets::Resolve).and_then(|config| {
            runtime().and_then(|rt| rt.block_on(crate::source::imap::probe::run(&config, source, *limit)))
        }),
        Command::Trust { account, payee, source } => payees::trust(&cli.config, account, payee, source.as_deref()),
        Command::Init { simplefin } => init::run(&cli.config, simplefin.as_deref()),
        Command::SimplefinClaim { token, out, force } => runtime()
            .and_then(|rt| rt.block_on(crate::source::simplefin::claim::run(token, out, *force)))
            .map(|()| exit::OK),
        Command::GocardlessLink { country, institution, days, redirect, api_base } => {
            let request = crate::source::gocardless::link::Request {
                api_base,
                country: country.as_deref(),
                institution: institution.as_deref(),
                days: *days,
                redirect,
            };
            runtime().and_then(|rt| rt.block_on(crate::source::gocardless::link::run(&request))).map(|()| exit::OK)
        }
        Command::EnablebankingLink {
            application_id,
            private_key,
            country,
            bank,
            days,
            redirect_url,
            out,
            force,
            api_base,
        } => {
            let request = crate::source::enablebanking::link::Request {
                api_base,
                application_id,
                private_key,
                country: country.as_deref(),
                bank: bank.as_deref(),
                days: *days,
                redirect_url: redirect_url.as_deref(),
                out: out.as_deref(),
                force: *force,
            };
            runtime().and_then(|rt| rt.block_on(crate::source::enablebanking::link::run(&request))).map(|()| exit::OK)
        }
        Command::Completions { shell } => completions::run(*shell),
        Command::Man => man::run(),
        Command::Agent { socket } => runtime().and_then(|rt| rt.block_on(agent::run(socket))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // Under journald the line needs its priority, or it is filed as info.
            let priority = if journal { logging::ERROR_PRIORITY } else { "" };
            match no_config::explain(&error, &cli.config, cli.config_origin) {
                Some(explained) => eprintln!("{priority}payguard: {explained}"),
                None => eprintln!("{priority}payguard: {error:#}"),
            }
            ExitCode::from(exit::code(&error))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Loads the config; a [`crate::config::ConfigError`] stays inside the error so the exit code can find it.
/// Only the commands that send requests resolve the secrets (see [`Secrets`]).
fn load_config(path: &Path, secrets: Secrets) -> anyhow::Result<Config> {
    Ok(Config::load_with(path, secrets)?)
}

/// Opens the store of a config; the store creates its state directory on first use.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.daemon.state_dir)?)
}
