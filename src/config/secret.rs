//! Secrets: values that are resolved from the environment, files or systemd credentials, and never shown.
//!
//! A config is loaded in one of three [`Secrets`] modes. The daemon resolves every reference and
//! fails on any it cannot; `check` does too, except for `${credential:…}` outside the systemd unit,
//! which it notes; the commands that only ask the daemon or read the store resolve none. A secret
//! left unresolved cannot be used by mistake: [`Secret::expose`] is then an [`Unresolved`] error.

use std::cell::Cell;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::permissions::{self, Verdict};

/// How the `${…}` references of a config are treated when it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Every reference is resolved; one that cannot be is a config error. For what sends requests:
    /// `run`, `once`, `notify-test`.
    Resolve,
    /// As `Resolve`, except that a `${credential:…}` without `$CREDENTIALS_DIRECTORY` (a shell,
    /// not the systemd unit that loads the credentials) is left unresolved and becomes a warning.
    Check,
    /// Nothing is looked up and nothing read: for commands that ask the daemon or read the store,
    /// which an admin runs from a shell that has none of the daemon's secrets.
    Skip,
}

thread_local! {
    /// The mode of the config being deserialised on this thread: serde's `Deserialize` takes no
    /// context, and a secret must know it where it is read, so its errors keep their place.
    static MODE: Cell<Secrets> = const { Cell::new(Secrets::Resolve) };
}

/// Runs `parse` with `mode` applying to every [`Secret`] it deserialises.
pub(super) fn in_mode<T>(mode: Secrets, parse: impl FnOnce() -> T) -> T {
    struct Restore(Secrets);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODE.set(self.0);
        }
    }
    let _restore = Restore(MODE.replace(mode));
    parse()
}

/// The mode of the config being deserialised on this thread, for keys that read files themselves.
pub(super) fn mode() -> Secrets {
    MODE.get()
}

/// A credential or a URL that carries one. `Debug` and `Display` print `[redacted]`; only
/// [`Secret::expose`] gives the value, and only code that sends it over the wire should call it.
#[derive(Clone)]
pub struct Secret {
    value: Value,
    /// How the config file wrote it, for the permission checks; empty for secrets built in code.
    origin: Origin,
}

#[derive(Clone, PartialEq, Eq)]
enum Value {
    Known(String),
    /// Not looked up (see [`Secrets`]): the reference as written, which is no secret.
    /// Only its `${…}` references: a literal part written beside them may be a credential.
    Unresolved {
        reference: String,
    },
}

/// Using a secret that the config was loaded without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference} was not resolved: this command loaded the config without its secrets")]
pub struct Unresolved {
    reference: String,
}

impl Unresolved {
    /// The reference as the config wrote it, like `${credential:simplefin-url}`: no secret.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// Where a secret read from the config came from.
#[derive(Clone, Default)]
pub(super) struct Origin {
    /// Written out in the config file itself, without a `${…}` reference.
    pub(super) literal: bool,
    /// What is wrong with the permissions of the `${file:…}` files it was read from, or why it was
    /// left unresolved where that deserves a word.
    pub(super) warnings: Vec<String>,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self { value: Value::Known(value.into()), origin: Origin::default() }
    }

    /// The value, for the code that sends it; an error if the config was loaded without it.
    pub fn expose(&self) -> Result<&str, Unresolved> {
        match &self.value {
            Value::Known(value) => Ok(value),
            Value::Unresolved { reference } => Err(Unresolved { reference: reference.clone() }),
        }
    }

    pub(super) fn origin(&self) -> &Origin {
        &self.origin
    }
}

/// Two secrets are equal when their values are, however they were written.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let literal = !text.is_empty() && !text.contains("${");
        let mode = MODE.get();
        if mode == Secrets::Skip && !literal {
            let value = Value::Unresolved { reference: references(&text) };
            return Ok(Secret { value, origin: Origin { literal, warnings: vec![] } });
        }
        let mut warnings = Vec::new();
        let lookup = SystemLookup;
        if mode == Secrets::Check
            && lookup.credentials_dir().is_none()
            && let Some(name) = credential_named(&text)
        {
            // What can be checked here still is: the file and environment references beside it.
            let others = text.replace(&format!("${{credential:{name}}}"), "");
            resolve_noting(&others, &lookup, &mut warnings).map_err(serde::de::Error::custom)?;
            warnings.push(format!(
                "`${{credential:{name}}}` is not checked here: $CREDENTIALS_DIRECTORY is set only inside the systemd unit that loads the credential (LoadCredential=); the service resolves it when it starts"
            ));
            let value = Value::Unresolved { reference: references(&text) };
            return Ok(Secret { value, origin: Origin { literal, warnings } });
        }
        let value = resolve_noting(&text, &lookup, &mut warnings).map_err(serde::de::Error::custom)?;
        Ok(Secret { value: Value::Known(value), origin: Origin { literal, warnings } })
    }
}

/// The `${…}` references in `text`, without what is written around them.
fn references(text: &str) -> String {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').map_or(rest.len(), |end| start + end + 1);
        found.push(&rest[start..end]);
        rest = &rest[end..];
    }
    found.join(" ")
}

/// The name of the first `${credential:NAME}` in `text`.
fn credential_named(text: &str) -> Option<&str> {
    let start = text.find("${credential:")? + "${credential:".len();
    let rest = &text[start..];
    rest.find('}').map(|end| &rest[..end])
}

/// Where `${…}` references are looked up; a seam so tests need not change the process environment.
pub trait Lookup {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &Path) -> std::io::Result<SecretFile>;
    fn credentials_dir(&self) -> Option<String>;
}

/// What a secret file holds, and its permission bits where the platform has them.
pub struct SecretFile {
    pub text: String,
    pub mode: Option<u32>,
}

struct SystemLookup;

impl Lookup for SystemLookup {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &Path) -> std::io::Result<SecretFile> {
        // The mode is read from the file that is read, not from its name a moment earlier.
        let (text, mode) = super::file::read(path, super::file::SECRET)?;
        Ok(SecretFile { text, mode: Some(mode) })
    }
    fn credentials_dir(&self) -> Option<String> {
        std::env::var("CREDENTIALS_DIRECTORY").ok()
    }
}

/// Replaces every `${env:NAME}`, `${file:PATH}` and `${credential:NAME}` in `text`.
///
/// File contents lose one trailing newline (editors add it; no secret ends in one). Error messages
/// name the reference, never what it resolved to. A `${file:…}` file anyone may write is refused
/// (see `permissions`).
pub fn resolve(text: &str, lookup: &dyn Lookup) -> Result<String, String> {
    resolve_noting(text, lookup, &mut Vec::new())
}

/// [`resolve`], adding to `warnings` what is risky but allowed about the files it reads.
fn resolve_noting(text: &str, lookup: &dyn Lookup, warnings: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            "unclosed `${` in a secret reference: expected `${env:NAME}`, `${file:PATH}` or `${credential:NAME}`"
                .to_owned()
        })?;
        out.push_str(&resolve_one(&after[..end], lookup, warnings)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_one(reference: &str, lookup: &dyn Lookup, warnings: &mut Vec<String>) -> Result<String, String> {
    let (kind, arg) = reference.split_once(':').ok_or_else(|| {
        format!("`${{{reference}}}` is not a secret reference: expected `${{env:NAME}}`, `${{file:PATH}}` or `${{credential:NAME}}`")
    })?;
    match kind {
        "env" => {
            lookup.env(arg).ok_or_else(|| format!("environment variable {arg} (from `${{env:{arg}}}`) is not set"))
        }
        "file" => {
            let path = Path::new(arg);
            let file = lookup.file(path).map_err(|e| format!("cannot read secret file {arg}: {e}"))?;
            let role = permissions::Role::SecretFile;
            match file.mode.map_or(Verdict::Fine, |mode| permissions::judge(path, mode, role)) {
                Verdict::Refuse(message) => return Err(message),
                Verdict::Warn(message) => warnings.push(message),
                Verdict::Fine => {}
            }
            Ok(without_newline(file.text))
        }
        "credential" => {
            if arg.contains('/') || arg == ".." {
                return Err(format!("credential name {arg:?} must be a plain file name"));
            }
            let dir = lookup.credentials_dir().ok_or_else(|| {
                format!("`${{credential:{arg}}}` needs $CREDENTIALS_DIRECTORY, which systemd sets for units with LoadCredential=")
            })?;
            // systemd hands credentials over in a private, read-only place: no mode to judge.
            lookup
                .file(&Path::new(&dir).join(arg))
                .map(|file| without_newline(file.text))
                .map_err(|e| format!("cannot read credential {arg} from $CREDENTIALS_DIRECTORY: {e}"))
        }
        other => {
            Err(format!("unknown secret source `{other}` in `${{{reference}}}`: expected env, file or credential"))
        }
    }
}

fn without_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake {
        env: HashMap<&'static str, &'static str>,
        files: HashMap<&'static str, (&'static str, u32)>,
        creds: Option<&'static str>,
    }

    impl Lookup for Fake {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).map(|v| v.to_string())
        }
        fn file(&self, path: &Path) -> std::io::Result<SecretFile> {
            let key = path.to_string_lossy();
            self.files
                .get(key.as_ref())
                .map(|(text, mode)| SecretFile { text: text.to_string(), mode: Some(*mode) })
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
        }
        fn credentials_dir(&self) -> Option<String> {
            self.creds.map(str::to_owned)
        }
    }

    fn fake() -> Fake {
        Fake {
            env: HashMap::from([("TOKEN", "hunter2")]),
            files: HashMap::from([
                ("/run/s", ("abc\n", 0o600)),
                ("/creds/smtp", ("pw\r\n", 0o444)),
                ("/run/shared", ("def", 0o644)),
                ("/tmp/anyone", ("ghi", 0o666)),
            ]),
            creds: Some("/creds"),
        }
    }

    #[test]
    fn references_resolve_inside_text() {
        let f = fake();
        assert_eq!(resolve("Bearer ${env:TOKEN}", &f).as_deref(), Ok("Bearer hunter2"));
        assert_eq!(resolve("${file:/run/s}", &f).as_deref(), Ok("abc"));
        assert_eq!(resolve("${credential:smtp}", &f).as_deref(), Ok("pw"));
        assert_eq!(resolve("plain", &f).as_deref(), Ok("plain"));
    }

    #[test]
    fn failures_name_the_reference_not_a_value() {
        let f = fake();
        for (text, needle) in [
            ("${env:MISSING}", "MISSING"),
            ("${file:/nope}", "/nope"),
            ("${credential:../x}", "plain file name"),
            ("${vault:x}", "unknown secret source"),
            ("${env:TOKEN", "unclosed"),
        ] {
            let err = resolve(text, &f).err().unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("hunter2"));
        }
    }

    #[test]
    fn secret_files_anyone_may_change_are_refused_and_readable_ones_noted() {
        let f = fake();
        let mut warnings = Vec::new();
        assert_eq!(resolve_noting("${file:/run/s}", &f, &mut warnings).as_deref(), Ok("abc"));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(resolve_noting("${file:/run/shared}", &f, &mut warnings).as_deref(), Ok("def"));
        assert!(
            warnings.len() == 1 && warnings[0].contains("/run/shared") && warnings[0].contains("0644"),
            "{warnings:?}"
        );
        let refused = resolve("${file:/tmp/anyone}", &f).err().unwrap_or_default();
        assert!(refused.contains("writable by everyone") && refused.contains("chmod 600 /tmp/anyone"), "{refused}");
        assert!(!refused.contains("ghi"));
        // systemd's credentials are its business: a 0444 one is read without a word.
        assert_eq!(resolve_noting("${credential:smtp}", &f, &mut warnings).as_deref(), Ok("pw"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }

    fn in_toml(mode: Secrets, value: &str) -> Result<Secret, String> {
        #[derive(Deserialize)]
        struct One {
            secret: Secret,
        }
        let text = format!("secret = {value:?}");
        in_mode(mode, || toml::from_str::<One>(&text)).map(|one| one.secret).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_skipped_secret_is_not_read_and_cannot_be_exposed() {
        // A file that does not exist is not even looked for.
        let skipped = in_toml(Secrets::Skip, "${file:/nonexistent/secret}").unwrap_or_else(|e| panic!("{e}"));
        let error = skipped.expose().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("${file:/nonexistent/secret} was not resolved"), "{error}");
        // Only the reference is kept: a credential written beside it is not.
        let mixed = in_toml(Secrets::Skip, "https://u:hunter2@${env:HOST}/x").unwrap_or_else(|e| panic!("{e}"));
        let error = mixed.expose().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("${env:HOST} was not resolved") && !error.contains("hunter2"), "{error}");
        // Written in the file, a value needs no lookup.
        let literal = in_toml(Secrets::Skip, "hunter2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(literal.expose(), Ok("hunter2"));
        let error = in_toml(Secrets::Resolve, "${file:/nonexistent/secret}").err().unwrap_or_default();
        assert!(error.contains("cannot read secret file /nonexistent/secret"), "{error}");
        // The mode ends with the parse it was given to.
        assert_eq!(MODE.get(), Secrets::Resolve);
    }
}
