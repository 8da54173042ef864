//! Secrets: values that are resolved from the environment, files or systemd credentials, and never shown.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::permissions::{self, Verdict};

/// A credential or a URL that carries one. `Debug` and `Display` print `[redacted]`; only
/// [`Secret::expose`] gives the value, and only code that sends it over the wire should call it.
#[derive(Clone)]
pub struct Secret {
    value: String,
    /// How the config file wrote it, for the permission checks; empty for secrets built in code.
    origin: Origin,
}

/// Where a secret read from the config came from.
#[derive(Clone, Default)]
pub(super) struct Origin {
    /// Written out in the config file itself, without a `${…}` reference.
    pub(super) literal: bool,
    /// What is wrong with the permissions of the `${file:…}` files it was read from.
    pub(super) warnings: Vec<String>,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self { value: value.into(), origin: Origin::default() }
    }

    pub fn expose(&self) -> &str {
        &self.value
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
        let mut warnings = Vec::new();
        let value = resolve_noting(&text, &SystemLookup, &mut warnings).map_err(serde::de::Error::custom)?;
        let literal = !text.is_empty() && !text.contains("${");
        Ok(Secret { value, origin: Origin { literal, warnings } })
    }
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
}
