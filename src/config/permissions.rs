//! File permissions that put the money at risk. A config file or a `${file:…}` secret file that
//! anyone on the machine may write is refused: whoever can change it can send the alerts elsewhere,
//! turn them off, or swap a credential. Secrets that others may read are warned about: the config
//! file when it holds a credential written in it, a secret file always. [`judge`] is the rule;
//! `Config::load` and the secret resolution apply it to the files they open.

use std::path::Path;

use reqwest::Url;

use super::{Config, ConfigError, HttpAuth, Registry, Secret};

/// What a file is to payguard.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role<'a> {
    /// The config file, with the keys of the credentials written out in it (none known yet: only
    /// a refusal can come of it).
    Config { inline_secrets: &'a [String] },
    /// A file a `${file:…}` reference reads a secret from.
    SecretFile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Fine,
    /// Go on, and say this (`payguard check` prints it, the daemon logs it).
    Warn(String),
    /// Do not use the file: a config error.
    Refuse(String),
}

/// The one rule: what `mode` (the permission bits of the file at `path`) means for a file in `role`.
pub(super) fn judge(path: &Path, mode: u32, role: Role<'_>) -> Verdict {
    let file = shell_quoted(path);
    let shown = format!("{:04o}", mode & 0o7777);
    if mode & 0o002 != 0 {
        return Verdict::Refuse(match role {
            Role::Config { .. } => format!(
                "the config file is writable by everyone (mode {shown}): anyone on this machine could send the alerts elsewhere or turn them off; run `chmod 600 {file}` (or at least `chmod o-w {file}`) and check that it still says what you wrote"
            ),
            Role::SecretFile => format!(
                "secret file {file} is writable by everyone (mode {shown}): anyone on this machine could swap the credential; run `chmod 600 {file}` and check what it holds"
            ),
        });
    }
    let readers = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => "its group and everyone",
        (true, false) => "its group",
        (false, true) => "everyone",
        (false, false) => return Verdict::Fine,
    };
    match role {
        Role::Config { inline_secrets: [] } => Verdict::Fine,
        Role::Config { inline_secrets } => Verdict::Warn(format!(
            "config file {file} is readable by {readers} (mode {shown}) and holds credentials written in it ({}): run `chmod 600 {file}` (payguard must still be able to read it), or move them out of the file as ${{credential:NAME}}, ${{file:PATH}} or ${{env:NAME}}",
            inline_secrets.join(", ")
        )),
        Role::SecretFile => Verdict::Warn(format!(
            "secret file {file} is readable by {readers} (mode {shown}): run `chmod 600 {file}` (payguard must still be able to read it), or hand it over as a systemd credential, ${{credential:NAME}}"
        )),
    }
}

/// `path` as a shell word, so the `chmod` a message suggests can be pasted as it is.
fn shell_quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@,=%".contains(c);
    if !text.is_empty() && text.chars().all(plain) { text } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

/// Reads the config file, with the permission bits of the file that was read.
pub(super) fn read(path: &Path) -> Result<(String, u32), ConfigError> {
    super::file::read(path, super::file::CONFIG)
        .map_err(|e| ConfigError::unplaced(path, format!("cannot read the config file: {e}")))
}

/// What a credential's text is, to tell whether writing it out in the file gave it away.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A token, a password, a header value: all of it is the credential.
    Token,
    /// A URL: a credential when it carries a login or a query (API keys go there), or always when
    /// `token_in_path` (a chat service's incoming-hook URL is its token).
    Url { token_in_path: bool },
}

/// A value of the config that is, or may carry, a credential.
struct Credential<'a> {
    key: String,
    /// Read to classify it, never to show it.
    text: &'a str,
    /// Written out in the file rather than referenced (plain strings are never resolved).
    literal: bool,
    /// What the checks of the `${file:…}` files it was read from found.
    file_warnings: &'a [String],
    shape: Shape,
}

impl Credential<'_> {
    /// The parts of the value that are secret, as [`secrets_of`] says.
    fn values(&self) -> Vec<String> {
        match self.shape {
            Shape::Token => vec![self.text.to_owned()],
            Shape::Url { token_in_path } => {
                let Ok(url) = Url::parse(self.text) else { return Vec::new() };
                let mut values: Vec<String> = url.password().map(str::to_owned).into_iter().collect();
                values.extend(url.query().map(str::to_owned));
                values.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
                if token_in_path {
                    values.push(url.path().to_owned());
                }
                values
            }
        }
    }

    fn is_inline(&self) -> bool {
        self.literal
            && match self.shape {
                Shape::Token => !self.text.trim().is_empty(),
                Shape::Url { token_in_path } => {
                    token_in_path
                        || Url::parse(self.text)
                            .is_ok_and(|u| !u.username().is_empty() || u.password().is_some() || u.query().is_some())
                }
            }
    }
}

/// The keys of the credentials written out in the config file rather than referenced.
pub(super) fn inline_secrets(config: &Config) -> Vec<String> {
    credentials(config).into_iter().filter(Credential::is_inline).map(|c| c.key).collect()
}

/// What the checks of the `${file:…}` files behind the config's secrets found, each once.
pub(super) fn secret_file_warnings(config: &Config) -> Vec<String> {
    let mut warnings: Vec<String> = Vec::new();
    for credential in credentials(config) {
        for warning in credential.file_warnings {
            if !warnings.contains(warning) {
                warnings.push(warning.clone());
            }
        }
    }
    warnings
}

/// The values of one table that are or may carry a credential, as its kind names them
/// ([`super::Kind::credentials`]).
pub struct Credentials<'a> {
    /// Like `source[0]`: the key of the table.
    prefix: String,
    found: Vec<Credential<'a>>,
}

impl<'a> Credentials<'a> {
    /// A secret that is a token, a password or a header value: all of it is the credential.
    pub fn token(&mut self, field: &str, secret: &'a Secret) {
        self.secret(field, secret, Shape::Token);
    }

    /// A secret URL: a credential when it carries a login or a query, or always when
    /// `token_in_path` (a chat service's incoming-hook URL is its token).
    pub fn secret_url(&mut self, field: &str, secret: &'a Secret, token_in_path: bool) {
        self.secret(field, secret, Shape::Url { token_in_path });
    }

    /// A URL kept as a plain string: an API key in its login or query is written in the file.
    pub fn url(&mut self, field: &str, text: &'a str) {
        let key = format!("{}.{field}", self.prefix);
        self.found.push(Credential {
            key,
            text,
            literal: true,
            file_warnings: &[],
            shape: Shape::Url { token_in_path: false },
        });
    }

    /// The secret of an `auth = { type = … }` table.
    pub fn auth(&mut self, auth: &'a HttpAuth) {
        match auth {
            HttpAuth::None => {}
            HttpAuth::Bearer(token) => self.token("auth.token", token),
            HttpAuth::Basic { username: _, password } => self.token("auth.password", password),
            HttpAuth::Header { name: _, value } => self.token("auth.value", value),
        }
    }

    fn secret(&mut self, field: &str, secret: &'a Secret, shape: Shape) {
        let origin = secret.origin();
        // Unresolved means referenced: nothing of it is in the file.
        self.found.push(Credential {
            key: format!("{}.{field}", self.prefix),
            text: secret.expose().unwrap_or_default(),
            literal: origin.literal,
            file_warnings: &origin.warnings,
            shape,
        });
    }
}

/// The secret values a kind holds, to cut out of whatever an answer echoes back: a token whole; of a
/// URL, its password and its query (and its path, when the path is the token). Never shown.
pub fn secrets_of<R: Registry>(kind: &R) -> Vec<Secret> {
    secrets_listed(|found| kind.credentials(found))
}

/// [`secrets_of`] one kind's settings.
pub fn secrets_of_kind<K: super::Kind>(kind: &K) -> Vec<Secret> {
    secrets_listed(|found| kind.credentials(found))
}

fn secrets_listed<'a>(list: impl FnOnce(&mut Credentials<'a>)) -> Vec<Secret> {
    let mut found = Credentials { prefix: String::new(), found: Vec::new() };
    list(&mut found);
    found.found.iter().flat_map(Credential::values).filter(|v| !v.is_empty()).map(Secret::new).collect()
}

/// Every value of the config that is or may carry a credential, with its key.
fn credentials(config: &Config) -> Vec<Credential<'_>> {
    let mut all = Vec::new();
    for (i, source) in config.sources.iter().enumerate() {
        list(&mut all, format!("source[{i}]"), &source.kind);
    }
    for (i, notice) in config.notices.iter().enumerate() {
        list(&mut all, format!("notice[{i}]"), &notice.kind);
    }
    for (i, channel) in config.channels.iter().enumerate() {
        list(&mut all, format!("channel[{i}]"), &channel.kind);
    }
    all
}

/// What the kind of the table `prefix` names as its credentials.
fn list<'a, R: Registry>(all: &mut Vec<Credential<'a>>, prefix: String, kind: &'a R) {
    let mut found = Credentials { prefix, found: Vec::new() };
    kind.credentials(&mut found);
    all.append(&mut found.found);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn anyone_may_write_is_refused_others_may_read_a_secret_is_warned() {
        let path = Path::new("/etc/payguard/payguard.toml");
        let inline = ["source[0].access_url".to_owned()];
        let with_secret = Role::Config { inline_secrets: &inline };
        let without = Role::Config { inline_secrets: &[] };
        // (mode, role, expected verdict: 'f'ine, 'w'arn, 'r'efuse)
        let table = [
            (0o600, with_secret, 'f'),
            (0o400, with_secret, 'f'),
            (0o620, with_secret, 'f'), // group-writable: the group is trusted with the file
            (0o640, with_secret, 'w'),
            (0o604, with_secret, 'w'),
            (0o644, with_secret, 'w'),
            (0o644, without, 'f'),
            (0o666, without, 'r'),
            (0o602, without, 'r'),
            (0o100_646, with_secret, 'r'), // st_mode carries the file type too
            (0o600, Role::SecretFile, 'f'),
            (0o640, Role::SecretFile, 'w'),
            (0o444, Role::SecretFile, 'w'),
            (0o666, Role::SecretFile, 'r'),
        ];
        for (mode, role, expected) in table {
            let verdict = judge(path, mode, role);
            let got = match &verdict {
                Verdict::Fine => 'f',
                Verdict::Warn(_) => 'w',
                Verdict::Refuse(_) => 'r',
            };
            assert_eq!(got, expected, "{mode:o} as {role:?}: {verdict:?}");
            if let Verdict::Warn(text) | Verdict::Refuse(text) = verdict {
                let shown = format!("{:04o}", mode & 0o7777);
                assert!(text.contains(&shown) && text.contains("chmod 600 /etc/payguard/payguard.toml"), "{text}");
            }
        }
        let Verdict::Refuse(text) = judge(Path::new("/home/me/my payguard.toml"), 0o666, without) else {
            panic!("a refusal")
        };
        assert!(text.contains("`chmod 600 '/home/me/my payguard.toml'`"), "{text}");
        let Verdict::Warn(text) = judge(path, 0o644, with_secret) else { panic!("a warning") };
        assert!(text.contains("source[0].access_url") && text.contains("${credential:NAME}"), "{text}");
        assert!(text.contains("readable by its group and everyone"), "{text}");
    }

    const SOURCE: &str = "[[source]]\nname = \"bank\"\nkind = \"simplefin\"\nschedule = \"0 * * * *\"\n";

    fn config_file(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join("payguard.toml");
        std::fs::write(&path, text).expect("write the config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn load_refuses_a_world_writable_config_whatever_it_holds() {
        let dir = tempfile::tempdir().expect("temp dir");
        // Not even valid TOML: the mode is judged before anything in it is read.
        let path = config_file(dir.path(), "this is not = = toml", 0o666);
        let error = Config::load(&path).expect_err("refused");
        assert_eq!((error.line, error.key.as_str()), (0, ""));
        assert!(error.message.contains("writable by everyone (mode 0666)"), "{error}");
        assert!(error.to_string().starts_with(&format!("{}: ", path.display())), "{error}");
    }

    #[test]
    fn load_warns_of_a_readable_config_only_when_it_holds_a_credential() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inline = format!("{SOURCE}access_url = \"https://user:hunter2@bridge.example.com/simplefin\"\n");
        let secret = dir.path().join("simplefin-url");
        std::fs::write(&secret, "https://user:hunter2@bridge.example.com/simplefin\n").expect("write the secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let referenced = format!("{SOURCE}access_url = \"${{file:{}}}\"\n", secret.display());
        let config = Config::load(&config_file(dir.path(), &inline, 0o644)).expect("loads");
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(config.warnings[0].contains("source[0].access_url") && config.warnings[0].contains("mode 0644"));
        assert!(!config.warnings[0].contains("hunter2"));
        assert!(Config::load(&config_file(dir.path(), &inline, 0o600)).expect("loads").warnings.is_empty());
        // A reference is no credential in the file, and the file it names is its owner's alone.
        let config = Config::load(&config_file(dir.path(), &referenced, 0o644)).expect("loads");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        // The secret file readable by others is said too, once however often it is named.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let twice = format!(
            "{referenced}\n[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"${{file:{}}}\"\n",
            secret.display()
        );
        let config = Config::load(&config_file(dir.path(), &twice, 0o600)).expect("loads");
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(config.warnings[0].contains("secret file") && config.warnings[0].contains("mode 0640"));
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o606)).expect("chmod");
        let error = Config::load(&config_file(dir.path(), &referenced, 0o600)).expect_err("refused");
        assert_eq!((error.line, error.column, error.key.as_str()), (5, 14, "source[0].access_url"), "{error}");
        assert!(
            error.message.contains("writable by everyone (mode 0606)") && !error.message.contains("hunter2"),
            "{error}"
        );
    }

    #[test]
    fn inline_credentials_are_told_from_references_and_harmless_urls() {
        let text = r#"
[[source]]
name = "wallet"
kind = "http-json"
balance_url = "https://api.example/{account}"
transactions_url = "https://api.example/{account}/tx?key=k1"
schedule = "0 * * * *"
currency = "EUR"
auth = { type = "bearer", token = "tok-inline" }
[source.mapping]
balance = "/b"
posted = "/p"
amount = "/a"

[[notice]]
name = "status"
kind = "http-json"
url = "https://status.example/api"
schedule = "0 * * * *"
auth = { type = "header", name = "X-Key", value = "Bearer ${file:SECRET}" }
[notice.mapping]
title = "/t"

[[channel]]
name = "push"
kind = "webhook"
preset = "ntfy"
url = "https://ntfy.sh/topic"

[[channel]]
name = "slack"
kind = "webhook"
preset = "slack"
url = "https://hooks.slack.com/services/T0/B0/XXXX"

[[channel]]
name = "gateway"
kind = "sms"
provider = "http"
url = "https://sms.example/send?key=k123"
body = "{message}"
to = ["+10000000000"]
headers = { "X-Auth" = "hdr-inline" }
"#;
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("key");
        std::fs::write(&secret, "k").expect("write the secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let text = text.replace("SECRET", &secret.display().to_string());
        let config = Config::parse(&text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            inline_secrets(&config),
            [
                "source[0].transactions_url",
                "source[0].auth.token",
                "channel[1].url",
                "channel[2].url",
                "channel[2].headers.X-Auth"
            ]
        );
    }
}
