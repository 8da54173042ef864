//! payguard under a real systemd: the .deb that `cargo deb` builds is installed with apt into a
//! minimal Debian 12 booted with `systemd-nspawn -b`, and checked from inside through systemctl and
//! the journal (`tests/system/probe.sh`, run by a oneshot unit that powers the container off), while
//! the simulated bank plays a theft on the host's loopback, which the container shares.
//!
//! It needs root, `debootstrap`, `systemd-nspawn` (package `systemd-container`) and the package:
//! `.ci/run` runs it as `PAYGUARD_DEB=target/debian/payguard_….deb cargo test --test system --
//! --ignored`. A plain `cargo test` skips it. The Debian image is made once and kept in
//! /var/cache/payguard-system-test/, in a directory named after what it holds; each run boots it
//! read-only under a throw-away overlay (`--volatile=overlay`), so the cache is never changed.
//! With `--register=no --keep-unit` nspawn asks nothing of the host's service manager, so the host
//! needs neither systemd as PID 1 nor a system D-Bus.
//!
//! Its own test binary, not a module of `tests/it/`, so that `--ignored` here runs this test and
//! nothing else.

// Test code: a failed unwrap is a failed test, and clippy's allow-unwrap-in-tests does not
// reach the helper functions outside `#[test]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use payguard::sim::{Advance, Simulator, demo_script};

const CACHE: &str = "/var/cache/payguard-system-test";
const SUITE: &str = "bookworm";
/// Installed by debootstrap: what a minimal systemd system has. No procps: a minimal system has
/// no /bin/kill, and the unit must not need one.
const INCLUDE: &str = "systemd,systemd-sysv,dbus";
/// Downloaded into the image's apt cache with the package lists, not installed: what the .deb
/// depends on beyond the image, so `apt install ./payguard….deb` finds it without the network.
const CACHED: &str = "ca-certificates";
/// The container's own bound; the probe's waits are all shorter.
const BOUND: Duration = Duration::from_secs(420);

/// Every check of probe.sh, in its order.
const CHECKS: [&str; 11] = [
    "installs_from_the_deb",
    "depends_on_ca_certificates",
    "starts_as_notify_with_a_status_line",
    "the_theft_reaches_the_journal",
    "status_works_from_a_root_shell",
    "state_is_private_to_a_dynamic_user",
    "bad_reload_fails_and_says_why",
    "a_bad_reload_keeps_the_old_config",
    "a_good_reload_applies",
    "stops_cleanly",
    "the_secret_never_reaches_the_journal",
];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs root, debootstrap, systemd-nspawn and the .deb: run by .ci/run"]
async fn the_package_runs_under_a_real_systemd() {
    let deb = preflight();
    let image = tokio::task::spawn_blocking(image).await.expect("join");
    // A password found nowhere else, so the journal can be searched for it.
    let sim =
        Simulator::start_with_password(demo_script(), Advance::OnRequest, "pw-5f1c9e2a7d").await.expect("simulator");
    let run = tempfile::tempdir().expect("temp dir");
    let probe = probe_dir(run.path(), &deb, &sim.access_url());
    let out = run.path().join("out");
    fs::create_dir(&out).expect("out dir");
    let console = run.path().join("console.log");

    let mut container = Container::boot(&image, &probe, &out, &console);
    // The container is gone when this returns: powered off, or killed by its drop.
    let ended = tokio::task::spawn_blocking(move || container.wait(BOUND)).await.expect("join");

    let report = Report::read(&out);
    eprintln!("{}", report.table());
    let finished = out.join("finished").exists();
    if !ended || !finished || !report.failed().is_empty() {
        let console = fs::read_to_string(&console).unwrap_or_default();
        let tail: Vec<&str> = console.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        eprintln!("--- the container's console (the last 30 lines)\n{}", tail.join("\n"));
    }
    assert!(ended, "the container did not power off within {BOUND:?}");
    assert!(finished, "the probe did not finish: see the console above");
    assert!(report.failed().is_empty(), "failed: {}", report.failed().join(", "));
    assert!(sim.requests() > 0, "the container never reached the simulated bank");
}

/// The package to install, once the machine can run the test; panics saying what is missing.
fn preflight() -> PathBuf {
    let euid = fs::metadata("/proc/self").expect("stat /proc/self").uid();
    assert_eq!(euid, 0, "the system test boots a container: run it as root");
    for (tool, package) in [("debootstrap", "debootstrap"), ("systemd-nspawn", "systemd-container")] {
        let found = Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(found.is_ok(), "{tool} is missing: apt-get install {package}");
    }
    let deb = std::env::var_os("PAYGUARD_DEB")
        .map(PathBuf::from)
        .expect("set PAYGUARD_DEB to the package `cargo deb` built (it prints its path)");
    assert!(deb.is_file(), "PAYGUARD_DEB={} is not a file", deb.display());
    deb
}

/// The Debian image, made on first use: debootstrap's minbase with [`INCLUDE`], and [`CACHED`]
/// in its apt cache. Made beside its final place and renamed there whole, so a run that is
/// interrupted leaves no half image behind under the final name.
fn image() -> PathBuf {
    let name = format!("debian-{SUITE}-minbase-{}-apt-{}", INCLUDE.replace(',', "+"), CACHED.replace(',', "+"));
    let image = Path::new(CACHE).join(&name);
    if image.is_dir() {
        return image;
    }
    fs::create_dir_all(CACHE).expect("create the image cache");
    let partial = tempfile::Builder::new().prefix(&format!("{name}.partial-")).tempdir_in(CACHE).expect("temp dir");
    let root = partial.path();
    run(Command::new("debootstrap").args(["--variant=minbase", &format!("--include={INCLUDE}"), SUITE]).arg(root));
    // debootstrap leaves the packages it installed in the apt cache: only the lists and what the
    // package will pull in are worth keeping.
    run(Command::new("chroot").arg(root).args(["apt-get", "clean"]));
    run(Command::new("chroot").arg(root).args(["apt-get", "update", "-qq"]));
    let mut download = Command::new("chroot");
    download.arg(root).args(["apt-get", "install", "-qq", "--download-only", "-y"]).args(CACHED.split(','));
    run(&mut download);
    match fs::rename(partial.path(), &image) {
        Ok(()) => {
            // Renamed away: nothing is left for the guard to remove.
            let _ = partial.keep();
        }
        // Another run made it meanwhile; ours goes with the guard.
        Err(_) if image.is_dir() => {}
        Err(e) => panic!("cannot move the image to {}: {e}", image.display()),
    }
    image
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?}: {}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
}

/// What the probe finds in /probe: itself, the package, the config and its variants, the
/// credential drop-in and the secret (root's only, as the README has it).
fn probe_dir(run: &Path, deb: &Path, access_url: &str) -> PathBuf {
    let dir = run.join("probe");
    fs::create_dir(&dir).expect("probe dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system");
    for file in ["probe.sh", "payguard.toml", "second-source.toml", "credential.conf", "payguard-probe.service"] {
        fs::copy(source.join(file), dir.join(file)).unwrap_or_else(|e| panic!("copy tests/system/{file}: {e}"));
    }
    fs::copy(deb, dir.join("payguard.deb")).expect("copy the package");
    let secret = dir.join("simplefin-url");
    fs::write(&secret, access_url).expect("write the secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod the secret");
    dir
}

/// A booted container; dropping it powers it off (and kills it when it will not go).
struct Container {
    pid: u32,
    /// Says when systemd-nspawn has exited, from the thread that waits for it.
    exited: mpsc::Receiver<()>,
    ended: bool,
}

impl Container {
    fn boot(image: &Path, probe: &Path, out: &Path, console: &Path) -> Container {
        let bind = |host: &Path, inside: &str| {
            let mut arg = std::ffi::OsString::from(host);
            arg.push(":");
            arg.push(inside);
            arg
        };
        let log = fs::File::create(console).expect("console log");
        let mut nspawn = Command::new("systemd-nspawn")
            .arg("--directory")
            .arg(image)
            // The image is the lower layer of an overlay on a tmpfs that goes with the container.
            .arg("--volatile=overlay")
            // No machined or host systemd to register with, nor a scope to create.
            .args(["--register=no", "--keep-unit", "--quiet"])
            .arg(format!("--machine=payguard-test-{}", std::process::id()))
            .arg("--bind-ro")
            .arg(bind(probe, "/probe"))
            .arg("--bind-ro")
            .arg(bind(&probe.join("payguard-probe.service"), "/etc/systemd/system/payguard-probe.service"))
            .arg("--bind")
            .arg(bind(out, "/out"))
            .args(["--boot", "systemd.unit=multi-user.target", "systemd.wants=payguard-probe.service"])
            // apt's daily run would take apt's lock from the probe, and wants the network.
            .args(["systemd.mask=apt-daily.timer", "systemd.mask=apt-daily-upgrade.timer"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("start systemd-nspawn");
        let pid = nspawn.id();
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = nspawn.wait();
            let _ = tx.send(());
        });
        Container { pid, exited, ended: false }
    }

    /// Whether the container powered off within `bound`.
    fn wait(&mut self, bound: Duration) -> bool {
        self.ended = self.ended || self.exited.recv_timeout(bound).is_ok();
        self.ended
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill").args([&format!("-{signal}"), &self.pid.to_string()]).status();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.ended || self.exited.try_recv().is_ok() {
            return;
        }
        // SIGTERM asks nspawn to power the container off; SIGKILL of nspawn alone could leave
        // the container's processes behind.
        self.signal("TERM");
        if !self.wait(Duration::from_secs(30)) {
            self.signal("KILL");
            self.wait(Duration::from_secs(10));
        }
    }
}

/// The probe's verdicts: `/out/checks` and, for each failure, `/out/NAME.log`.
struct Report {
    out: PathBuf,
    verdicts: Vec<(String, String)>,
}

impl Report {
    fn read(out: &Path) -> Report {
        let text = fs::read_to_string(out.join("checks")).unwrap_or_default();
        let verdicts = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(verdict, name)| (name.to_owned(), verdict.to_owned()))
            .collect();
        Report { out: out.to_owned(), verdicts }
    }

    fn verdict(&self, check: &str) -> &str {
        self.verdicts.iter().find(|(name, _)| name == check).map_or("not run", |(_, verdict)| verdict)
    }

    /// Every check that did not pass, missing ones included.
    fn failed(&self) -> Vec<&'static str> {
        CHECKS.into_iter().filter(|check| self.verdict(check) != "pass").collect()
    }

    fn table(&self) -> String {
        let mut text = String::from("system test under systemd:\n");
        for check in CHECKS {
            text.push_str(&format!("  {:<8}{check}\n", self.verdict(check)));
        }
        for check in self.failed() {
            if let Ok(evidence) = fs::read_to_string(self.out.join(format!("{check}.log"))) {
                text.push_str(&format!("\n=== {check}\n{evidence}"));
            }
        }
        text
    }
}
