//! `payguard simplefin-claim`: the real binary claims a setup token from a fixture bridge on
//! loopback, and keeps the access URL in a file only its owner can read.

use crate::support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Fixture, Reply};

const PASSWORD: &str = "s3cret-pass-word";

/// Runs `payguard simplefin-claim TOKEN --out OUT ARGS…` without `--config` or `$PAYGUARD_CONFIG`:
/// the command must not need a config, which does not exist yet when it is used.
async fn claim(token: &str, out: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
    command.env_remove("PAYGUARD_CONFIG").arg("simplefin-claim").arg(token).arg("--out").arg(out).args(args);
    tokio::task::spawn_blocking(move || command.output().expect("run payguard")).await.expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A setup token is the base64 (standard alphabet, padded) of the claim URL.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A fixture bridge whose claim URL answers `reply`, the token for it, and the access URL.
async fn bridge(reply: impl FnOnce(&str) -> Reply) -> (Fixture, String, String) {
    let fixture = Fixture::start().await;
    let access_url = fixture.url_with_credentials("user", PASSWORD, "/simplefin");
    fixture.reply("/claim/abc", reply(&access_url));
    let token = base64(fixture.url("/claim/abc").as_bytes());
    (fixture, token, access_url)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("the file").permissions().mode() & 0o777
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    entries
}

#[test]
fn the_test_encoder_is_base64() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_writes_the_access_url_to_a_private_file() {
    let (fixture, token, access_url) = bridge(|url| Reply::status(200, &format!("{url}\n"))).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("simplefin-url");
    // As pasted: surrounding whitespace, padding left off.
    let pasted = format!("  {}\n", token.trim_end_matches('='));

    let claimed = claim(&pasted, &out, &[]).await;
    let (stdout, stderr) = (text(&claimed.stdout), text(&claimed.stderr));
    assert_eq!(claimed.status.code(), Some(0), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("the access URL file"), access_url);
    assert_eq!(mode(&out), 0o600);
    assert_eq!(entries(dir.path()), vec![out.clone()], "nothing else is left behind");
    assert!(stdout.contains(&format!("wrote the access URL to {} (mode 0600)", out.display())), "{stdout}");
    assert!(stdout.contains(&format!("access_url = \"${{file:{}}}\"", out.display())), "{stdout}");
    for secret in [PASSWORD, token.trim_end_matches('='), "/claim/abc"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} shown:\n{stdout}\n{stderr}");
    }
    let seen = fixture.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str(), seen[0].body.as_str()), ("POST", "/claim/abc", ""));
    assert_eq!(seen[0].headers.get("content-length").map(String::as_str), Some("0"), "some bridges need a length");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_token_warns_that_someone_else_may_have_claimed_it() {
    let (fixture, token, _) = bridge(|_| Reply::status(403, "Forbidden")).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("simplefin-url");

    let refused = claim(&token, &out, &[]).await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    let warning =
        ["HTTP 403", "already claimed", "not valid", "someone else may have", "disable it", "create a new one"];
    for words in warning {
        assert!(stderr.contains(words), "{words:?} missing: {stderr}");
    }
    assert!(!stderr.contains("/claim/abc") && !stderr.contains(&token), "{stderr}");
    assert!(!out.exists(), "no file for a failed claim");
    assert!(entries(dir.path()).is_empty());
    assert_eq!(fixture.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_file_is_replaced_only_with_force() {
    let (fixture, token, access_url) = bridge(|url| Reply::status(200, url)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("simplefin-url");
    std::fs::write(&out, "keep me").expect("write");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let kept = claim(&token, &out, &[]).await;
    let stderr = text(&kept.stderr);
    assert_eq!(kept.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already exists") && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "keep me");
    assert!(fixture.seen().is_empty(), "the token is not spent when the file cannot be written");

    let replaced = claim(&token, &out, &["--force"]).await;
    assert_eq!(replaced.status.code(), Some(0), "{}", text(&replaced.stderr));
    assert_eq!(std::fs::read_to_string(&out).expect("read"), access_url);
    assert_eq!(mode(&out), 0o600, "the new file, not the old one's permissions");
    assert_eq!(entries(dir.path()), vec![out.clone()], "nothing else is left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused_before_any_request() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("simplefin-url");
    let with_user = fixture.url("/claim/abc").replace("http://", "http://me:pw@");
    let cases = [
        ("not base64!".to_owned(), "is not base64"),
        (base64(b"hello, world"), "does not hold a usable claim URL: not a URL"),
        (base64(&[0xff, 0xfe, 0x00]), "does not hold a claim URL"),
        (base64(b"http://bridge.example.com/claim/abc"), "use https://"),
        (base64(b"ftp://127.0.0.1/claim/abc"), "must start with https://"),
        (base64(with_user.as_bytes()), "user name or password"),
        (fixture.url("/claim/abc"), "not a setup token"),
    ];
    for (token, expected) in cases {
        let refused = claim(&token, &out, &[]).await;
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{token}: {stderr}");
        assert!(stderr.contains(expected), "{token}: expected {expected:?}: {stderr}");
        assert!(!stderr.contains("/claim/abc") && !stderr.contains(&token), "{token}: {stderr}");
    }
    assert!(fixture.seen().is_empty(), "{:?}", fixture.seen());
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn other_failures_name_the_host_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("simplefin-url");

    // The fixture's 404 echoes the path, as a bridge might; the message must not.
    let fixture = Fixture::start().await;
    let token = base64(fixture.url("/claim/unknown-token").as_bytes());
    let missing = claim(&token, &out, &[]).await;
    let stderr = text(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("answered the claim with HTTP 404") && !stderr.contains("unknown-token"), "{stderr}");

    let (_bridge, token, _) = bridge(|_| Reply::status(200, "<html>welcome</html>")).await;
    let nonsense = claim(&token, &out, &[]).await;
    let stderr = text(&nonsense.stderr);
    assert_eq!(nonsense.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not an access URL") && stderr.contains("the token is now spent"), "{stderr}");

    let (_bridge, token, _) = bridge(|_| Reply::status(200, "https://bridge.example.com/simplefin")).await;
    let bare = claim(&token, &out, &[]).await;
    assert!(text(&bare.stderr).contains("no user name and password"), "{}", text(&bare.stderr));

    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let token = base64(format!("http://127.0.0.1:{port}/claim/abc").as_bytes());
    let unreachable = claim(&token, &out, &[]).await;
    let stderr = text(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot reach 127.0.0.1:{port}")) && !stderr.contains("/claim"), "{stderr}");
    assert!(entries(dir.path()).is_empty(), "no file for a failed claim");
}

/// `payguard init --simplefin TOKEN` claims the token into a file beside the config, lists the
/// accounts the bridge reads, and writes a 0600 config that `check` passes, naming them; a second
/// `init` never overwrites it. No output shows the access URL's password.
#[tokio::test(flavor = "multi_thread")]
async fn init_writes_a_config_check_passes_with_the_bridges_accounts() {
    let (fixture, token, _) = bridge(|url| Reply::status(200, url)).await;
    fixture.reply(
        "/simplefin/accounts",
        Reply::json(
            r#"{"errors": [], "accounts": [
                {"id": "ACT-1", "name": "Checking", "currency": "USD", "balance": "10.00", "balance-date": 1789990000},
                {"id": "ACT-2", "name": "Savings", "currency": "USD", "balance": "20.00", "balance-date": 1789990000}]}"#,
        ),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("etc").join("payguard.toml");
    let run = |args: Vec<String>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_payguard"));
        command.env_remove("PAYGUARD_CONFIG").arg("--config").arg(&config).args(args);
        tokio::task::spawn_blocking(move || command.output().expect("run payguard"))
    };
    let init = run(vec!["init".into(), "--simplefin".into(), token.clone()]).await.expect("join");
    let said = format!("{}{}", text(&init.stdout), text(&init.stderr));
    assert_eq!(init.status.code(), Some(0), "{said}");
    assert!(said.contains("with the 2 account(s) the bridge lists"), "{said}");
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(&dir.path().join("etc").join("simplefin-access-url")), 0o600);
    let written = std::fs::read_to_string(&config).expect("the config");
    assert!(!written.contains(PASSWORD), "the config names the file, never the access URL: {written}");

    let check = run(vec!["check".into()]).await.expect("join");
    let checked = format!("{}{}", text(&check.stdout), text(&check.stderr));
    assert_eq!(check.status.code(), Some(0), "{checked}");
    assert!(checked.contains("ACT-1") && checked.contains("ACT-2"), "{checked}");
    for shown in [&said, &checked] {
        assert!(!shown.contains(PASSWORD) && !shown.contains(token.trim_end_matches('=')), "{shown}");
    }

    let again = run(vec!["init".into()]).await.expect("join");
    assert_ne!(again.status.code(), Some(0));
    assert!(text(&again.stderr).contains("init never overwrites a config"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(&config).expect("the config"), written);
}
