//! The teller source end to end: the real binary polls a bank shaped after Teller's API over
//! mutual TLS on loopback. The bank's certificates are made here (a test CA, a server certificate
//! for 127.0.0.1, the application's client certificate), the bank refuses any connection without
//! a client certificate its CA signed, and payguard trusts the test CA through `SSL_CERT_FILE`,
//! which the system's certificate loading honours (see `tls_roots`).

use crate::support;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use chrono::{Days, NaiveDate, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};
use support::{Fixture, Reply};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

const TOKEN: &str = "token_s3cretenrollment";
const ACCOUNT: &str = "acc_oiin624iajrg2mp2ea000";

/// A certificate and its key, as PEM.
struct Pem {
    cert: String,
    key: String,
}

/// The test CA, the bank's server certificate, the application's client certificate, and a client
/// certificate from nobody the bank knows.
struct Pki {
    ca: String,
    server: Pem,
    client: Pem,
    stranger: Pem,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "payguard test bank CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA certificate");
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, issuer: Option<_>| {
        let mut params = CertificateParams::new(names).expect("params");
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = match issuer {
            Some(issuer) => params.signed_by(&key, issuer),
            None => params.self_signed(&key),
        };
        Pem { cert: cert.expect("certificate").pem(), key: key.serialize_pem() }
    };
    let server_names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    Pki {
        ca: ca.pem(),
        server: leaf(server_names, ExtendedKeyUsagePurpose::ServerAuth, Some(&*ca)),
        client: leaf(vec!["payguard".into()], ExtendedKeyUsagePurpose::ClientAuth, Some(&*ca)),
        stranger: leaf(vec!["stranger".into()], ExtendedKeyUsagePurpose::ClientAuth, None),
    }
}

/// A loopback listener that completes a TLS handshake, demanding a client certificate signed by
/// the test CA, before a connection reaches the fixture; refused handshakes are noted.
struct MutualTls {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
    refused: Arc<Mutex<Vec<String>>>,
}

impl axum::serve::Listener for MutualTls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(e) => self.refused.lock().expect("lock").push(e.to_string()),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The bank, the files payguard reads, and the config that points at them.
struct Bank {
    fixture: Fixture,
    refused: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
    pki: Pki,
}

impl Bank {
    async fn start() -> Bank {
        let pki = pki();
        let der = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM certificate");
        let mut roots = RootCertStore::empty();
        roots.add(der(&pki.ca)).expect("trust the CA");
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots)).build().expect("client verifier");
        let key = PrivatePkcs8KeyDer::from_pem_slice(pki.server.key.as_bytes()).expect("server key");
        let config = ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![der(&pki.server.cert)], PrivateKeyDer::Pkcs8(key))
            .expect("server config");
        let tcp = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let refused = Arc::new(Mutex::new(Vec::new()));
        let listener = MutualTls { tcp, acceptor: TlsAcceptor::from(Arc::new(config)), refused: refused.clone() };
        let fixture = Fixture::serve(listener);
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        };
        write("ca.pem", &pki.ca);
        write("certificate.pem", &pki.client.cert);
        write("private_key.pem", &pki.client.key);
        write("stranger.pem", &pki.stranger.cert);
        write("stranger_key.pem", &pki.stranger.key);
        write("token", TOKEN);
        Bank { fixture, refused, dir, pki }
    }

    fn base(&self) -> String {
        format!("https://{}", self.fixture.addr())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A config with the teller source and one account, using `certificate` and `private_key`
    /// (file names in the bank's directory).
    fn config_with(&self, certificate: &str, private_key: &str) -> PathBuf {
        let quote = |p: PathBuf| p.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
        let text = format!(
            r#"[daemon]
state_dir = "{state}"

[[source]]
name = "us-bank"
kind = "teller"
api_base = "{base}"
certificate = "{certificate}"
private_key = "{private_key}"
access_token = "${{file:{token}}}"
schedule = "0 * * * *"

[[account]]
source = "us-bank"
id = "{ACCOUNT}"
large_debit = "1000.00"
learning_period = "0s"

[[channel]]
name = "terminal"
kind = "console"
"#,
            state = quote(self.path("state")),
            base = self.base(),
            certificate = quote(self.path(certificate)),
            private_key = quote(self.path(private_key)),
            token = quote(self.path("token")),
        );
        let path = self.path("payguard.toml");
        std::fs::write(&path, text).expect("write the config");
        path
    }

    fn config(&self) -> PathBuf {
        self.config_with("certificate.pem", "private_key.pem")
    }

    /// `payguard ARGS` on `config`, trusting the test CA as the system's only one.
    async fn run(&self, config: &Path, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_payguard"));
        command.arg("--config").arg(config).args(args).env("SSL_CERT_FILE", self.path("ca.pem"));
        command.env_remove("SSL_CERT_DIR");
        tokio::task::spawn_blocking(move || command.output().expect("run payguard")).await.expect("join")
    }

    /// `payguard once --json`: its exit code, its findings and its stderr.
    async fn once(&self, config: &Path) -> (Option<i32>, Vec<Value>, String) {
        let output = self.run(config, &["once", "--json"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let findings = stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .collect();
        (output.status.code(), findings, String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// The bank answers with `ledger`, `available` and `transactions` for the account.
    fn answers(&self, ledger: &str, available: &str, transactions: &[Value]) {
        let accounts = json!([{
            "id": ACCOUNT, "enrollment_id": "enr_oiin624rqaojse22oe000", "name": "Checking", "currency": "USD",
            "type": "depository", "subtype": "checking", "status": "open", "last_four": "0000",
            "institution": {"id": "security_cu", "name": "Security Credit Union"},
            "links": {"self": format!("{}/accounts/{ACCOUNT}", self.base())}
        }, {
            "id": "acc_unwatched", "name": "Savings", "currency": "USD", "status": "open"
        }]);
        self.fixture.reply("/accounts", Reply::json(&accounts.to_string()));
        let balances = json!({"account_id": ACCOUNT, "ledger": ledger, "available": available, "links": {}});
        self.fixture.reply(&format!("/accounts/{ACCOUNT}/balances"), Reply::json(&balances.to_string()));
        self.fixture.reply(&format!("/accounts/{ACCOUNT}/transactions"), Reply::json(&json!(transactions).to_string()));
    }
}

fn days_ago(days: u64) -> NaiveDate {
    Utc::now().date_naive().checked_sub_days(Days::new(days)).expect("a date")
}

/// A transaction as Teller lists it.
fn tx(id: &str, amount: &str, days: u64, status: &str, counterparty: Option<&str>, description: &str) -> Value {
    json!({
        "id": id, "account_id": ACCOUNT, "amount": amount, "date": days_ago(days).to_string(),
        "description": description, "status": status, "type": "card_payment", "running_balance": null,
        "details": {"processing_status": "complete", "category": "general",
                    "counterparty": {"name": counterparty, "type": "organization"}},
        "links": {}
    })
}

/// Newest first, as Teller lists them.
fn baseline() -> Vec<Value> {
    vec![
        tx("txn_coffee", "-4.50", 1, "posted", Some("Blue Bottle Coffee"), "BLUE BOTTLE #12"),
        tx("txn_payroll", "3200.00", 3, "posted", Some("Acme Corp"), "ACME PAYROLL"),
    ]
}

fn kinds(findings: &[Value]) -> Vec<&str> {
    let mut kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    kinds.sort_unstable();
    kinds
}

/// What the store holds for the account: its transactions (id → (amount, pending, payee)) and the
/// last balance.
async fn stored(bank: &Bank, config: &Path) -> (Vec<(String, String, bool, String)>, Value) {
    let output = bank.run(config, &["history", ACCOUNT, "--format", "json", "--since", "90d"]).await;
    let history = support::stdout_of(&output);
    let lines: Vec<Value> = history.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut transactions: Vec<(String, String, bool, String)> = lines
        .iter()
        .filter(|l| l["type"] == "transaction")
        .map(|l| &l["transaction"])
        .map(|t| {
            let field = |name: &str| t[name].as_str().unwrap_or_default().to_owned();
            (field("id"), field("amount"), t["pending"].as_bool().unwrap_or_default(), field("payee"))
        })
        .collect();
    transactions.sort();
    let balance = lines.iter().rev().find(|l| l["type"] == "balance").map(|l| l["snapshot"].clone());
    (transactions, balance.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_with_the_certificate_and_token_reads_balances_and_transactions() {
    let bank = Bank::start().await;
    let mut transactions = baseline();
    transactions.insert(0, tx("txn_hold", "-12.34", 0, "pending", None, "PENDING AUTH GAS STATION"));
    bank.answers("5000.00", "4987.66", &transactions);
    let config = bank.config();

    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(findings, Vec::<Value>::new(), "the first poll is the baseline");
    assert!(stderr.contains("checked 1 account"), "{stderr}");

    let seen = bank.fixture.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    let balances = format!("/accounts/{ACCOUNT}/balances");
    let listed = format!("/accounts/{ACCOUNT}/transactions");
    assert_eq!(paths, ["/accounts", balances.as_str(), listed.as_str()]);
    // The token is the Basic user name, with an empty password: base64("token_s3cretenrollment:").
    for request in &seen {
        let auth = request.headers.get("authorization").map(String::as_str);
        assert_eq!(auth, Some("Basic dG9rZW5fczNjcmV0ZW5yb2xsbWVudDo="), "{}", request.path);
    }
    assert_eq!(seen[2].query, "count=100");
    assert!(bank.refused.lock().expect("lock").is_empty(), "every handshake had the certificate");

    let (stored, balance) = stored(&bank, &config).await;
    assert_eq!(
        stored,
        [
            ("txn_coffee".into(), "-4.50".into(), false, "Blue Bottle Coffee".into()),
            // No counterparty: the payee is the bank's description.
            ("txn_hold".into(), "-12.34".into(), true, "PENDING AUTH GAS STATION".into()),
            ("txn_payroll".into(), "3200.00".into(), false, "Acme Corp".into()),
        ]
    );
    assert_eq!(
        (&balance["balance"], &balance["available"], &balance["currency"]),
        (&json!("5000.00"), &json!("4987.66"), &json!("USD"))
    );

    // `status` says the same from the store.
    let status: Value = serde_json::from_str(&support::stdout_of(&bank.run(&config, &["status", "--json"]).await))
        .expect("status JSON");
    assert_eq!(
        (&status["sources"][0]["kind"], &status["sources"][0]["state"]),
        (&json!("teller"), &json!("ok")),
        "{status}"
    );
    assert_eq!(
        (&status["accounts"][0]["account"], &status["accounts"][0]["balance"]),
        (&json!(ACCOUNT), &json!("5000.00")),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_debit_to_a_new_payee_after_the_baseline_is_caught() {
    let bank = Bank::start().await;
    bank.answers("5000.00", "5000.00", &baseline());
    let config = bank.config();
    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!((code, findings), (Some(0), vec![]), "the baseline: {stderr}");

    let mut theft = baseline();
    theft.insert(0, tx("txn_theft", "-1600.00", 0, "posted", Some("QuickCash Transfer"), "ONLINE TRANSFER"));
    bank.answers("3400.00", "3400.00", &theft);
    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(0), "{stderr}");
    // The balance fell by what the debit explains: no unexplained_change.
    assert_eq!(kinds(&findings), ["balance_drop", "large_debit", "new_payee"], "{findings:?}");
    let large = findings.iter().find(|f| f["kind"] == "large_debit").expect("large_debit");
    assert_eq!((&large["amount"], &large["payees"][0]), (&json!("1600.00"), &json!("QuickCash Transfer")));
    assert!(findings.iter().all(|f| f["source"] == "us-bank" && f["account"] == ACCOUNT), "{findings:?}");

    // Polled again, the theft is not news.
    let (_, again, _) = bank.once(&config).await;
    assert!(!kinds(&again).contains(&"large_debit") && !kinds(&again).contains(&"new_payee"), "{again:?}");

    // `run` polls it on its schedule over mutual TLS and stops cleanly; `status` shows the balance.
    let every_second = std::fs::read_to_string(&config).expect("config").replace("0 * * * *", "* * * * * *");
    std::fs::write(&config, every_second).expect("write the config");
    let accounts_asked = |seen: &[support::Seen]| seen.iter().filter(|s| s.path == "/accounts").count();
    let before = accounts_asked(&bank.fixture.seen());
    let mut daemon = support::daemon(&config)
        .env("SSL_CERT_FILE", bank.path("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .spawn()
        .expect("start payguard run");
    bank.fixture.wait_for("two scheduled polls", |seen| accounts_asked(seen) >= before + 2).await;
    support::signal(&daemon, "TERM");
    let stopped = tokio::task::spawn_blocking(move || daemon.wait()).await.expect("join").expect("wait");
    assert_eq!(stopped.code(), Some(0));
    let status = String::from_utf8_lossy(&bank.run(&config, &["status"]).await.stdout).into_owned();
    assert!(status.contains("us-bank (teller): ok") && status.contains("3400.00 USD"), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_charge_that_posts_is_one_transaction_that_changed() {
    let bank = Bank::start().await;
    let mut pending = baseline();
    pending.insert(0, tx("txn_fuel", "-40.00", 0, "pending", Some("Shell"), "SHELL OIL 123"));
    bank.answers("5000.00", "4960.00", &pending);
    let config = bank.config();
    assert_eq!(bank.once(&config).await.0, Some(0));

    let mut posted = baseline();
    posted.insert(0, tx("txn_fuel", "-38.20", 0, "posted", Some("Shell"), "SHELL OIL 123"));
    bank.answers("4961.80", "4961.80", &posted);
    let (code, _, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(0), "{stderr}");
    let (stored, _) = stored(&bank, &config).await;
    let fuel: Vec<_> = stored.iter().filter(|t| t.0 == "txn_fuel").collect();
    assert_eq!(fuel, [&("txn_fuel".to_owned(), "-38.20".to_owned(), false, "Shell".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_without_the_applications_certificate_is_refused_and_said_so() {
    let bank = Bank::start().await;
    bank.answers("5000.00", "5000.00", &baseline());

    // Without any client certificate the bank refuses the handshake: nothing reaches it.
    let ca = reqwest::Certificate::from_pem(bank.pki.ca.as_bytes()).expect("CA");
    let bare = reqwest::Client::builder().tls_certs_only([ca]).build().expect("client");
    let refused = bare.get(format!("{}/accounts", bank.base())).send().await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(bank.fixture.seen().is_empty());
    assert!(bank.refused.lock().expect("lock").iter().any(|e| e.contains("no certificates")), "{:?}", bank.refused);

    // A certificate from anyone else: refused too, and payguard says what to check.
    let config = bank.config_with("stranger.pem", "stranger_key.pem");
    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    assert!(findings.is_empty() || kinds(&findings) == ["source_down"], "{findings:?}");
    assert!(stderr.contains(&bank.fixture.addr().to_string()), "{stderr}");
    assert!(stderr.contains("client certificate"), "{stderr}");
    assert!(bank.fixture.seen().is_empty(), "no request got through");
    assert!(!stderr.contains(TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_is_source_down_at_once() {
    let bank = Bank::start().await;
    let body = json!({"error": {"code": "forbidden", "message": "Invalid or revoked access token"}}).to_string();
    bank.fixture.reply("/accounts", Reply::Full { status: 403, headers: vec![], body: body.into() });
    let config = bank.config();
    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    // The first refusal, with down_after at its default of 3.
    assert_eq!(kinds(&findings), ["source_down"], "{stderr}");
    assert!(findings[0]["title"].as_str().unwrap_or_default().contains("refused"), "{findings:?}");
    assert!(stderr.contains("refused the credentials (HTTP 403)"), "{stderr}");
    assert!(!stderr.contains(TOKEN) && !findings[0].to_string().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_is_waited_out_as_asked() {
    let bank = Bank::start().await;
    let config = bank.config();
    bank.fixture.reply("/accounts", Reply::status(429, "slow down").with_header("retry-after", "120"));
    let (code, _, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    assert!(stderr.contains("rate-limiting us (HTTP 429); it asks us to wait 120s"), "{stderr}");
    // The next run does not ask before the wait is over.
    let (_, _, stderr) = bank.once(&config).await;
    assert!(stderr.contains("not polled: waiting until"), "{stderr}");
    assert_eq!(bank.fixture.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disconnected_enrollment_says_what_to_do() {
    let bank = Bank::start().await;
    let config = bank.config();
    let disconnected = json!({"error": {
        "code": "enrollment.disconnected.user_action.mfa_required", "message": "Enrollment is not healthy"
    }});
    bank.fixture
        .reply("/accounts", Reply::Full { status: 404, headers: vec![], body: disconnected.to_string().into() });
    let (code, findings, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    assert!(stderr.contains("enrollment.disconnected.user_action.mfa_required"), "{stderr}");
    assert!(
        stderr.contains("one-time code") && stderr.contains("Reconnect the bank through Teller Connect"),
        "{stderr}"
    );
    // Only the person can reconnect it: source_down says so on the first poll, not after down_after.
    let down: Vec<&Value> = findings.iter().filter(|f| f["kind"] == "source_down").collect();
    assert_eq!(down.len(), 1, "{findings:?}");
    assert!(down[0]["title"].as_str().unwrap_or("").ends_with(": access to the accounts has ended"), "{findings:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_are_read_page_by_page_back_to_the_window() {
    let bank = Bank::start().await;
    let config = bank.config();
    bank.answers("5000.00", "5000.00", &[]);
    // A full page of today's charges, then a page that reaches back beyond the window.
    let page: Vec<Value> =
        (0..100).map(|i| tx(&format!("txn_{i:03}"), "-1.00", 0, "posted", Some("Vending"), "VENDING")).collect();
    let older = vec![
        tx("txn_yesterday", "-2.00", 1, "posted", Some("Vending"), "VENDING"),
        tx("txn_old", "-3.00", 40, "posted", Some("Vending"), "VENDING"),
    ];
    let transactions = format!("/accounts/{ACCOUNT}/transactions");
    bank.fixture.reply_sequence(&transactions, vec![Reply::json(&json!(page).to_string())]);
    bank.fixture.reply(&transactions, Reply::json(&json!(older).to_string()));
    let (code, _, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(0), "{stderr}");
    let queries: Vec<String> =
        bank.fixture.seen().into_iter().filter(|s| s.path == transactions).map(|s| s.query).collect();
    assert_eq!(queries, ["count=100", "count=100&from_id=txn_099"]);
    let (stored, _) = stored(&bank, &config).await;
    assert_eq!(stored.len(), 101, "a page of 100 and yesterday's, not the one before the window");
    assert!(!stored.iter().any(|t| t.0 == "txn_old"));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_host_and_never_the_token() {
    let bank = Bank::start().await;
    let output = bank.run(&bank.config(), &["check"]).await;
    let said = support::stdout_of(&output);
    assert!(said.contains(&format!("us-bank (teller, {})", bank.base())), "{said}");
    assert!(!said.contains(TOKEN) && !String::from_utf8_lossy(&output.stderr).contains(TOKEN), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pem_files_are_checked_where_the_config_names_them() {
    let bank = Bank::start().await;
    let exit_and_words = |output: Output| (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned());

    // Swapped: a key where the certificate should be.
    let (code, said) =
        exit_and_words(bank.run(&bank.config_with("private_key.pem", "certificate.pem"), &["check"]).await);
    assert_eq!(code, Some(78), "{said}");
    assert!(said.contains("source[0].certificate") && said.contains("holds no PEM certificate"), "{said}");

    // A key anyone may replace is refused; one others may read is warned about.
    let config = bank.config();
    let key = bank.path("private_key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let (code, said) = exit_and_words(bank.run(&config, &["check"]).await);
    assert_eq!(code, Some(78), "{said}");
    assert!(said.contains("source[0].private_key") && said.contains("writable by everyone"), "{said}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = bank.run(&config, &["check"]).await;
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("private_key.pem is readable by") && said.contains("chmod 600"), "{said}");

    // Gone: what polls cannot start; what only reads the store does not read it at all.
    std::fs::remove_file(&key).expect("remove the key");
    let (code, said) = exit_and_words(bank.run(&config, &["once"]).await);
    assert_eq!(code, Some(78), "{said}");
    assert!(said.contains("source[0].private_key") && said.contains("cannot read"), "{said}");
    let (code, said) = exit_and_words(bank.run(&config, &["status"]).await);
    assert_ne!(code, Some(78), "status needs no secrets: {said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_and_a_key_that_are_not_a_pair_are_said_so() {
    let bank = Bank::start().await;
    bank.answers("5000.00", "5000.00", &baseline());
    let (code, _, stderr) = bank.once(&bank.config_with("certificate.pem", "stranger_key.pem")).await;
    assert_eq!(code, Some(78), "a config error, which `check` finds too: {stderr}");
    assert!(
        stderr.contains("source[0].private_key") && stderr.contains("are not a client certificate and its key"),
        "{stderr}"
    );
    assert!(stderr.contains("KeyMismatch"), "{stderr}");
    assert!(bank.fixture.seen().is_empty(), "no request got through");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pager_that_never_ends_costs_a_bounded_number_of_requests() {
    let bank = Bank::start().await;
    let config = bank.config();
    bank.answers("5000.00", "5000.00", &[]);
    let transactions = format!("/accounts/{ACCOUNT}/transactions");
    let full_page = |n: usize| {
        let page: Vec<Value> =
            (0..100).map(|i| tx(&format!("txn_{n}_{i}"), "-1.00", 0, "posted", Some("Vending"), "VENDING")).collect();
        Reply::json(&json!(page).to_string())
    };
    // New ids on every page, for ever.
    bank.fixture.reply_sequence(&transactions, (0..60).map(full_page).collect());
    let (code, _, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    assert!(stderr.contains("more than 5000 transactions"), "{stderr}");
    let asked = |bank: &Bank| bank.fixture.seen().iter().filter(|s| s.path == transactions).count();
    assert_eq!(asked(&bank), 50);

    // The same page whatever from_id says: noticed on the second.
    let bank = Bank::start().await;
    let config = bank.config();
    bank.answers("5000.00", "5000.00", &[]);
    bank.fixture.reply(&transactions, full_page(0));
    let (code, _, stderr) = bank.once(&config).await;
    assert_eq!(code, Some(75), "{stderr}");
    assert!(stderr.contains("gave the same page again"), "{stderr}");
    assert_eq!(asked(&bank), 2);
}
