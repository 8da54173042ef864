//! Secrets: values that are resolved from the environment, files or systemd credentials, and never shown.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

/// A credential or a URL that carries one. `Debug` and `Display` print `[redacted]`; only
/// [`Secret::expose`] gives the value, and only code that sends it over the wire should call it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

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
        resolve(&text, &SystemLookup).map(Secret).map_err(serde::de::Error::custom)
    }
}

/// Where `${…}` references are looked up; a seam so tests need not change the process environment.
pub trait Lookup {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &Path) -> std::io::Result<String>;
    fn credentials_dir(&self) -> Option<String>;
}

struct SystemLookup;

impl Lookup for SystemLookup {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn credentials_dir(&self) -> Option<String> {
        std::env::var("CREDENTIALS_DIRECTORY").ok()
    }
}

/// Replaces every `${env:NAME}`, `${file:PATH}` and `${credential:NAME}` in `text`.
///
/// File contents lose one trailing newline (editors add it; no secret ends in one). Error messages
/// name the reference, never what it resolved to.
pub fn resolve(text: &str, lookup: &dyn Lookup) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            "unclosed `${` in a secret reference: expected `${env:NAME}`, `${file:PATH}` or `${credential:NAME}`"
                .to_owned()
        })?;
        out.push_str(&resolve_one(&after[..end], lookup)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_one(reference: &str, lookup: &dyn Lookup) -> Result<String, String> {
    let (kind, arg) = reference.split_once(':').ok_or_else(|| {
        format!("`${{{reference}}}` is not a secret reference: expected `${{env:NAME}}`, `${{file:PATH}}` or `${{credential:NAME}}`")
    })?;
    match kind {
        "env" => {
            lookup.env(arg).ok_or_else(|| format!("environment variable {arg} (from `${{env:{arg}}}`) is not set"))
        }
        "file" => read_secret_file(Path::new(arg), lookup).map_err(|e| format!("cannot read secret file {arg}: {e}")),
        "credential" => {
            if arg.contains('/') || arg == ".." {
                return Err(format!("credential name {arg:?} must be a plain file name"));
            }
            let dir = lookup.credentials_dir().ok_or_else(|| {
                format!("`${{credential:{arg}}}` needs $CREDENTIALS_DIRECTORY, which systemd sets for units with LoadCredential=")
            })?;
            read_secret_file(&Path::new(&dir).join(arg), lookup)
                .map_err(|e| format!("cannot read credential {arg} from $CREDENTIALS_DIRECTORY: {e}"))
        }
        other => {
            Err(format!("unknown secret source `{other}` in `${{{reference}}}`: expected env, file or credential"))
        }
    }
}

fn read_secret_file(path: &Path, lookup: &dyn Lookup) -> std::io::Result<String> {
    let mut text = lookup.file(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake {
        env: HashMap<&'static str, &'static str>,
        files: HashMap<&'static str, &'static str>,
        creds: Option<&'static str>,
    }

    impl Lookup for Fake {
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).map(|v| v.to_string())
        }
        fn file(&self, path: &Path) -> std::io::Result<String> {
            let key = path.to_string_lossy();
            self.files
                .get(key.as_ref())
                .map(|v| v.to_string())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
        }
        fn credentials_dir(&self) -> Option<String> {
            self.creds.map(str::to_owned)
        }
    }

    fn fake() -> Fake {
        Fake {
            env: HashMap::from([("TOKEN", "hunter2")]),
            files: HashMap::from([("/run/s", "abc\n"), ("/creds/smtp", "pw\r\n")]),
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
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
