//! `payguard reload` against the real daemon: a good config is applied and said to be, a bad one is
//! refused with its error (exit 78) while the old one keeps polling, no daemon is exit 75; and a
//! reload that cannot finish reading its file never keeps the daemon from stopping.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};
use support::daemon_log::Logged;

/// Only guards against a hang: each wait ends within seconds.
const BOUND: Duration = Duration::from_secs(30);

/// `payguard reload` as `ExecReload=` runs it: in the unit's environment.
async fn reload(config: &Path, runtime: &Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.arg("--config").arg(config).arg("reload").env("RUNTIME_DIRECTORY", runtime);
    tokio::task::spawn_blocking(move || command.output().expect("run payguard reload")).await.expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_applies_a_good_config_and_refuses_a_bad_one_with_its_error() {
    let sim = Simulator::start(demo_script(), Advance::OnRequest).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("runtime dir");
    let config = support::sim_config(dir.path(), &sim.access_url(), "* * * * * *", "");
    let good = std::fs::read_to_string(&config).expect("read the config");
    let mut manager = support::notify_socket::Manager::listen(&dir.path().join("notify.sock"));
    let mut command = support::daemon(&config);
    command.env("RUNTIME_DIRECTORY", &runtime).env("NOTIFY_SOCKET", dir.path().join("notify.sock"));
    let mut daemon = Logged::spawn(command);
    daemon.wait_for(&["control socket listening"], BOUND);
    manager.next_saying("READY=1");

    // A typo: the daemon refuses it, says where, and the running config keeps polling.
    std::fs::write(&config, good.replace("schedule =", "shedule =")).expect("write a bad config");
    let refused = reload(&config, &runtime).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("the previous one keeps running"), "the daemon's answer: {stderr}");
    assert!(stderr.contains("payguard.toml:8:1") && stderr.contains("shedule"), "{stderr}");
    // The service manager heard the reload begin and end, and why it failed.
    manager.next_saying("RELOADING=1");
    let kept = manager.next_saying("READY=1");
    assert!(kept.contains("reload failed, running the previous config") && kept.contains("shedule"), "{kept}");
    let mut requests = sim.watch_requests();
    let before = *requests.borrow();
    tokio::time::timeout(BOUND, requests.wait_for(|n| *n >= before + 2))
        .await
        .expect("the old config keeps polling")
        .expect("watch");

    // A good one with a second account: the daemon runs it and says so.
    let two = format!("{good}\n[[account]]\nsource = \"sim-bank\"\nid = \"ACT-2\"\n");
    std::fs::write(&config, two).expect("write a good config");
    let applied = reload(&config, &runtime).await;
    assert_eq!(support::stdout_of(&applied), "configuration reloaded: 1 sources, 2 accounts\n");
    manager.next_saying("RELOADING=1");
    let running = manager.next_saying("READY=1");
    assert!(running.contains("2 accounts") && !running.contains("reload failed"), "{running}");
    daemon.wait_for(&["configuration reloaded"], BOUND);

    support::signal(&daemon.child, "TERM");
    assert_eq!(daemon.wait_exit(BOUND), Some(0));
    let gone = reload(&config, &runtime).await;
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert_eq!(gone.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("no daemon listens on") && stderr.contains("nothing to reload"), "{stderr}");
}

/// The probe's case: on SIGHUP the config had become endless (a link to /dev/zero), and the daemon
/// read it into gigabytes and then ignored SIGTERM. Now the reload is refused at once, the old config
/// runs on, and a stop is obeyed.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_of_an_endless_file_is_refused_and_the_daemon_still_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = dir.path().join("runtime");
    std::fs::create_dir(&runtime).expect("runtime dir");
    // Nothing is polled before New Year: this is about the reload alone.
    let config = support::sim_config(dir.path(), "http://127.0.0.1:9/simplefin", "0 0 1 1 *", "");
    let mut manager = support::notify_socket::Manager::listen(&dir.path().join("notify.sock"));
    let mut command = support::daemon(&config);
    command.env("RUNTIME_DIRECTORY", &runtime).env("NOTIFY_SOCKET", dir.path().join("notify.sock"));
    let mut daemon = Logged::spawn(command);
    manager.next_saying("READY=1");

    std::fs::remove_file(&config).expect("remove the config");
    std::os::unix::fs::symlink("/dev/zero", &config).expect("link the config to /dev/zero");
    support::signal(&daemon.child, "HUP");
    manager.next_saying("RELOADING=1");
    let kept = manager.next_saying("READY=1");
    assert!(kept.contains("reload failed") && kept.contains("not a regular file"), "{kept}");

    support::signal(&daemon.child, "TERM");
    manager.next_saying("STOPPING=1");
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(daemon.drain().iter().any(|l| l.contains("payguard stopped")), "{:#?}", daemon.seen);
}

/// A load that never ends, which the config reader no longer lets a file cause (a hung network
/// file system still could): it is given up after 30 s, and the stop that follows is obeyed.
#[tokio::test(start_paused = true)]
async fn a_reload_that_reads_for_too_long_is_given_up_and_the_old_config_kept() {
    use payguard::daemon::{Clock, Engine, Reloaded, Request, Stopped, supervise_loading};
    use std::sync::Arc;
    use tokio::sync::{mpsc, oneshot, watch};

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("payguard.toml");
    let text = support::sim_config_text(dir.path(), "http://127.0.0.1:9/simplefin", "0 0 1 1 *", "");
    let config = payguard::config::Config::parse(&text, &path).expect("config");
    std::fs::create_dir_all(&config.daemon.state_dir).expect("state dir");
    let store = payguard::store::Store::open(&config.daemon.state_dir).expect("store");
    let engine = Engine::new(config, store, payguard::notify::Stream::Stderr, Clock::System).expect("engine");
    fn never_loads(_: &Engine, _: &std::path::Path) -> Result<Engine, String> {
        loop {
            std::thread::park();
        }
    }

    let (engines, running) = watch::channel(Arc::new(engine));
    let (requests, received) = mpsc::channel(4);
    let supervisor = tokio::spawn(supervise_loading(engines, path, received, Duration::from_secs(30), never_loads));
    let (done, outcome) = oneshot::channel();
    requests.send(Request::Reload(Some(done))).await.expect("the supervisor listens");
    // The paused clock runs on to the limit while the reading thread waits.
    let outcome = outcome.await.expect("an outcome");
    assert!(matches!(&outcome, Reloaded::Refused(e) if e.contains("took longer than 30 s")), "{outcome:?}");
    assert!(running.borrow().reload_failure().is_some_and(|e| e.contains("took longer")), "the status line says so");

    // Stopping waits on the store off the runtime, which a paused clock would take for idleness
    // and run past the grace period: the stop runs on real time.
    tokio::time::resume();
    requests.send(Request::Stop).await.expect("the supervisor listens");
    assert_eq!(supervisor.await.expect("join"), Stopped::Cleanly);
}
