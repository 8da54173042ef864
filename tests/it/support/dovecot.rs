//! A real IMAP server for the `imap` source's tests: Debian's Dovecot, run as root from a config
//! written here, on a free loopback port, with a certificate from a CA made for the test and one
//! user whose maildir is in a temporary directory. Test mail is appended over IMAP, or, by the
//! thousand, written straight into the maildir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use payguard::source::imap::{ImapSession, Stream};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls;

pub const USER: &str = "alice";
pub const PASSWORD: &str = "imap-secret-7Q";

/// A running Dovecot; stopped when dropped.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Child,
    /// IMAPS: TLS from the first byte.
    pub port: u16,
    /// IMAP with STARTTLS (required before logging in).
    pub starttls_port: u16,
    ca: String,
}

impl Dovecot {
    /// Starts Dovecot, or says why it cannot run here (not root, not installed).
    pub async fn start() -> Result<Dovecot, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("Dovecot runs as root only here; CI runs the tests as root".into());
        }
        let binary = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].into_iter().find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            return Err("dovecot is not installed (apt-get install dovecot-imapd)".into());
        };
        let dir = tempfile::tempdir().expect("temp dir");
        // The auth process runs as `dovecot` and must reach and read the passwd file.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let (ca, cert, key) = certificates();
        std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
        std::fs::write(dir.path().join("key.pem"), key).expect("key");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        Command::new("chown").args(["-R", "65534:65534"]).arg(&home).status().expect("chown");
        std::fs::write(
            dir.path().join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}:65534:65534::{}\n", home.display()),
        )
        .expect("passwd");
        // Readable whatever the test process's umask (opening a store narrows it to 077).
        std::fs::set_permissions(dir.path().join("passwd"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("chmod passwd");
        let (port, starttls_port) = (free_port(), free_port());
        let d = dir.path().display();
        let conf = format!(
            r#"base_dir = {d}/run
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
mail_location = maildir:{d}/home/%u
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
"#
        );
        let conf_path = dir.path().join("dovecot.conf");
        std::fs::write(&conf_path, conf).expect("config");
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let dovecot = Dovecot { dir, child, port, starttls_port, ca };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err()
            || tokio::net::TcpStream::connect(("127.0.0.1", starttls_port)).await.is_err()
        {
            assert!(Instant::now() < deadline, "dovecot did not listen: {}", dovecot.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(dovecot)
    }

    /// The test CA's certificate, for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.pem");
        std::fs::write(&path, &self.ca).expect("write the CA");
        path
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// What the last session to end fetched, by Dovecot's own count in its logout line: the
    /// mails whose headers only, and the mails whose bodies, it sent. Waits (bounded) until every
    /// session that logged in has ended and been logged.
    pub async fn last_session_fetched(&self) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.log();
            let ended: Vec<&str> = log.lines().filter(|l| l.contains("hdr_count=")).collect();
            if let Some(line) = ended.last().filter(|_| ended.len() == log.matches("Login: user=").count()) {
                return (count_in(line, "hdr_count="), count_in(line, "body_count="));
            }
            assert!(Instant::now() < deadline, "a session's end was not logged: {log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A logged-in session, trusting the test CA.
    pub async fn session(&self) -> ImapSession {
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject as _;
        roots.add(rustls_pki_types::CertificateDer::from_pem_slice(self.ca.as_bytes()).expect("CA pem")).expect("CA");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.expect("connect");
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS");
        let stream: Box<dyn Stream> = Box::new(tls);
        let mut client = async_imap::Client::new(stream);
        client.read_response().await.expect("greeting").expect("greeting");
        client.login(USER, PASSWORD).await.map_err(|(e, _)| e).expect("login")
    }

    /// Appends `mail` to `folder`, creating the folder when needed.
    pub async fn append(&self, folder: &str, mail: &[u8]) {
        let mut session = self.session().await;
        let _ = session.create(folder).await;
        session.append(folder, None, None, mail).await.expect("append");
        session.logout().await.expect("logout");
    }

    /// Writes `mails` into `folder`'s maildir as files, in order: far faster than appending each
    /// over IMAP. Dovecot gives them UIDs in that order when the folder is next opened.
    pub fn deliver(&self, folder: &str, mails: impl IntoIterator<Item = Vec<u8>>) {
        let user = self.dir.path().join("home").join(USER);
        let maildir = user.join(format!(".{folder}"));
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        // Dovecot sorts new files by the time and counter in their names.
        for (n, mail) in mails.into_iter().enumerate() {
            let path = maildir.join("cur").join(format!("{}.M{n}P1.payguard:2,", 1_700_000_000 + n));
            std::fs::write(&path, mail).expect("write a mail");
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown a mail");
        }
        for path in [&user, &maildir, &maildir.join("cur"), &maildir.join("new"), &maildir.join("tmp")] {
            std::os::unix::fs::chown(path, Some(65534), Some(65534)).expect("chown the maildir");
        }
    }

    /// Deletes `folder` and makes it again: the server gives it a new UIDVALIDITY.
    pub async fn recreate(&self, folder: &str) -> u32 {
        let mut session = self.session().await;
        let before = session.examine(folder).await.expect("examine").uid_validity;
        // Deleting the selected folder would end the session.
        session.close().await.expect("close");
        session.delete(folder).await.expect("delete");
        session.create(folder).await.expect("create");
        let after = session.examine(folder).await.expect("examine").uid_validity.expect("UIDVALIDITY");
        assert_ne!(before, Some(after), "the server gave the folder a new UIDVALIDITY");
        session.logout().await.expect("logout");
        after
    }

    /// The flags of each mail in `folder`, read without changing them.
    pub async fn flags(&self, folder: &str) -> Vec<Vec<String>> {
        let mut session = self.session().await;
        session.examine(folder).await.expect("examine");
        let fetched: Vec<_> = session.fetch("1:*", "FLAGS").await.expect("fetch").try_collect().await.expect("flags");
        session.logout().await.expect("logout");
        fetched.iter().map(|f| f.flags().map(|flag| format!("{flag:?}")).collect()).collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// The number after `key` in a log line.
fn count_in(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    line[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a count")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The CA's certificate, and a server certificate for localhost and 127.0.0.1 with its key.
fn certificates() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "payguard test mail CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA certificate");
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &*ca).expect("certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}
