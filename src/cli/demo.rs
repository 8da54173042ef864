//! `payguard demo`: the simulated bank, the daemon against it, and a scripted incident.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::{exit, open_store};
use crate::alert::NoticeEvent;
use crate::config::Config;
use crate::daemon::{self, Clock, Engine};
use crate::notify::Stream;
use crate::sim::{Advance, Simulator, demo_script};

const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");
/// The demo stops by itself after this long even if the story did not finish.
const DEADLINE: Duration = Duration::from_secs(50);

pub async fn run() -> anyhow::Result<u8> {
    let script = demo_script();
    let captions: Vec<String> = script.steps.iter().map(|s| s.caption.clone()).collect();
    let sim = Simulator::start(script, Advance::OnRequest).await.context("cannot start the simulated bank")?;
    let state = tempfile::tempdir().context("cannot create a temporary state directory")?;
    let text = DEMO_CONFIG
        .replace("@ACCESS_URL@", &sim.access_url())
        .replace("@STATE_DIR@", &toml_escape(&state.path().to_string_lossy()));
    let mut config = Config::parse(&text, Path::new("config/demo.toml"))?;
    let unavailable: Vec<(String, &str)> =
        config.channels.iter().filter_map(|c| Some((c.name.clone(), c.kind.get().unavailable()?))).collect();
    for (name, why) in unavailable {
        config.channels.retain(|c| c.name != name);
        config.alerting.default_channels.retain(|c| c != &name);
        println!("({why}: alerts are shown here only)");
    }
    let store = open_store(&config)?;
    let engine = Arc::new(Engine::new(config, store, Stream::Stdout, Clock::System)?);
    let mut fired = engine.subscribe();

    println!("payguard demo: a simulated bank on {}, polled every 2 seconds.\n", sim.addr());
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(daemon::run(engine.clone(), shutdown.clone()));

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut requests = sim.watch_requests();
    let story = async {
        loop {
            tokio::select! {
                notice = fired.recv() => {
                    if let Ok((alert, NoticeEvent::Firing)) = notice {
                        *counts.entry(alert.kind().to_string()).or_default() += 1;
                    }
                }
                changed = requests.changed() => {
                    if changed.is_err() { break; }
                    let served = *requests.borrow_and_update() as usize;
                    match captions.get(served.saturating_sub(1)) {
                        Some(caption) => println!("── poll {served}: {caption}"),
                        // One poll after the last step shows that nothing is repeated; then stop.
                        None => break,
                    }
                }
            }
        }
    };
    let finished = tokio::time::timeout(DEADLINE, story).await.is_ok();
    shutdown.cancel();
    daemon.await.context("the daemon task failed")?;
    while let Ok((alert, event)) = fired.try_recv() {
        if event == NoticeEvent::Firing {
            *counts.entry(alert.kind().to_string()).or_default() += 1;
        }
    }

    println!("\n── the demo is over{}", if finished { "" } else { " (stopped at its time limit)" });
    if counts.is_empty() {
        println!("payguard detected nothing.");
    } else {
        let parts: Vec<String> = counts.iter().map(|(kind, n)| format!("{kind} ×{n}")).collect();
        println!("payguard detected: {}", parts.join(", "));
    }
    println!("{}", next_step(std::env::current_exe().ok().as_deref()));
    Ok(exit::OK)
}

/// The demo's last line: how to go on to a real account with the binary that ran it. After
/// `cargo run` that binary is in the checkout's `target/` and `payguard` is not on PATH, so the
/// line says how to run it from there.
fn next_step(exe: Option<&Path>) -> String {
    let profile = exe
        .and_then(Path::parent)
        .filter(|dir| dir.parent().and_then(Path::file_name).is_some_and(|n| n == "target"))
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .filter(|n| matches!(*n, "debug" | "release"));
    match profile {
        Some(profile) => {
            let flag = if profile == "release" { "--release " } else { "" };
            format!(
                "To watch a real account, start from config/payguard.example.toml. `payguard` is not on your PATH \
                 after `cargo run`: in this checkout, run `cargo run {flag}-- check --config config/payguard.example.toml` \
                 (or `target/{profile}/payguard check --config config/payguard.example.toml`)."
            )
        }
        None => format!(
            "Run `payguard check --config {}` to see how to watch a real account.",
            super::no_config::INSTALLED_EXAMPLE
        ),
    }
}

fn toml_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_says_how_to_run_payguard_where_the_demo_ran() {
        let release = next_step(Some(Path::new("/home/me/payguard/target/release/payguard")));
        assert!(release.contains("`cargo run --release -- check --config config/payguard.example.toml`"), "{release}");
        assert!(release.contains("`target/release/payguard check --config config/payguard.example.toml`"), "{release}");
        let debug = next_step(Some(Path::new("/home/me/payguard/target/debug/payguard")));
        assert!(debug.contains("`cargo run -- check") && debug.contains("`target/debug/payguard check"), "{debug}");
        let installed = next_step(Some(Path::new("/usr/bin/payguard")));
        assert_eq!(
            installed,
            "Run `payguard check --config /usr/share/doc/payguard/payguard.example.toml` to see how to watch a real account."
        );
        assert_eq!(next_step(None), installed, "an unknown binary is taken as installed");
    }
}
