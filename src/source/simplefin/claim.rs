//! `payguard simplefin-claim TOKEN --out FILE`: exchanges a SimpleFIN setup token for the access URL
//! and keeps it in a file only its owner can read.
//!
//! The token is the base64 of a claim URL; one POST to it answers the access URL, once, and spends
//! the token. So everything that can fail is checked before that POST: the claim URL, and that FILE
//! can be made. Neither the token, the claim URL nor the access URL is ever printed: messages name
//! the bridge's host only. No config is read, since this runs before one exists. This is a command
//! (its errors are for the person at the terminal), which the command line only dispatches.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;

use crate::config::HttpLimits;
use crate::source::{SourceError, check_url, host_of, post};

/// An access URL is a line of text; anything near 64 KiB is not one.
const LIMITS: HttpLimits = HttpLimits {
    connect_timeout: Duration::from_secs(10),
    timeout: Duration::from_secs(30),
    max_body: 64 * 1024,
    allow_insecure_http: false,
};

/// Owner read and write only: the access URL is a password to the person's accounts.
const MODE: u32 = 0o600;

pub async fn run(token: &str, out: &Path, force: bool) -> anyhow::Result<()> {
    claim(token, out, force).await?;
    println!("wrote the access URL to {} (mode 0600)", out.display());
    println!("next: in the [[source]] with kind = \"simplefin\" of your config, set");
    println!("  access_url = {}", file_reference(out));
    Ok(())
}

/// `"${file:/absolute/path}"`: the access URL file as a config value, quoted for TOML.
pub fn file_reference(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let quoted = absolute.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"${{file:{quoted}}}\"")
}

/// Claims `token` and writes the access URL to `out` (mode 0600), saying nothing on success.
pub async fn claim(token: &str, out: &Path, force: bool) -> anyhow::Result<()> {
    let claim_url = claim_url(token)?;
    let host = host_of(&claim_url);
    let target = Target::reserve(out, force)?;
    // From here the token may be spent, so every failure says what to do about the token.
    let body = post(&claim_url, &LIMITS).await.map_err(claim_failed)?;
    let access_url = access_url(&body, &host)?;
    target.commit(access_url.as_bytes()).with_context(|| {
        format!(
            "{host} gave the access URL, but it could not be written to {}; the token is now spent: \
             disable this access at your SimpleFIN bridge and create a new token",
            out.display()
        )
    })?;
    Ok(())
}

/// The claim URL inside a setup token, checked as safe to send the token to.
fn claim_url(token: &str) -> anyhow::Result<Url> {
    let token = token.trim();
    if token.starts_with("https://") || token.starts_with("http://") {
        bail!(
            "that is a URL, not a setup token: a setup token is the base64 text your SimpleFIN bridge shows; \
             if you already have an access URL (https://user:password@…), save it in a file yourself and skip this step"
        );
    }
    let bytes = decode_token(token)
        .map_err(|e| anyhow!("the setup token is not base64 ({e}): copy the whole token from your SimpleFIN bridge"))?;
    // The decoded text is not shown in any message: it is the claim URL, as secret as the token.
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow!("the setup token does not hold a claim URL (it decodes to binary data): copy the whole token again")
    })?;
    let url =
        check_url(text.trim(), false).map_err(|e| anyhow!("the setup token does not hold a usable claim URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "the setup token's claim URL carries a user name or password, which a SimpleFIN claim URL never does: \
             is it an access URL encoded by hand?"
        );
    }
    Ok(url)
}

/// Standard (RFC 4648 §4) or URL-safe (§5) base64, padded or not, as people paste a token; a
/// stray character, a misplaced `=` or an impossible length is an error, never skipped. The
/// error names a position, never the text: the text is the token.
fn decode_token(token: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    let token = token.trim();
    let engine = if token.contains(['-', '_']) { &URL_SAFE } else { &STANDARD };
    engine.decode(token).map_err(|e| match e {
        base64::DecodeError::InvalidByte(_, b'=') => "`=` padding may only end the text".to_owned(),
        base64::DecodeError::InvalidByte(offset, _) | base64::DecodeError::InvalidLastSymbol { offset, .. } => {
            format!("character {} is not in the base64 alphabet", offset + 1)
        }
        base64::DecodeError::InvalidLength(_) => {
            "its length is impossible for base64: a character is missing or extra".to_owned()
        }
        base64::DecodeError::InvalidPadding => "its `=` padding does not fit its length".to_owned(),
    })
}

fn claim_failed(error: SourceError) -> anyhow::Error {
    match error {
        SourceError::Auth { host, status } => anyhow!(
            "{host} refused the setup token (HTTP {status}): it was already claimed, or it is not valid. \
             If you did not claim it yourself, someone else may have: disable it at your SimpleFIN bridge \
             and create a new one"
        ),
        SourceError::Timeout { host, seconds } => anyhow!(
            "{host} did not answer the claim within {seconds}s; it may have spent the token anyway: \
             if trying again answers 403, disable the token at your SimpleFIN bridge and create a new one"
        ),
        // The body of an error answer is left out: a bridge may echo the claim URL, which is the token.
        SourceError::Status { host, status, .. } => anyhow!("{host} answered the claim with HTTP {status}"),
        SourceError::TooLarge { host, limit } => anyhow!(
            "{host} answered the claim with more than {limit} bytes, which is not an access URL: \
             is the token from a SimpleFIN bridge?"
        ),
        other => anyhow!(other).context("the claim failed"),
    }
}

/// The access URL in a claim's answer: one http(s) URL with a user name and password.
fn access_url(body: &[u8], host: &str) -> anyhow::Result<String> {
    let not_one = |why: &str| {
        anyhow!(
            "{host} accepted the token, but its answer is not an access URL ({why}); the token is now spent: \
             create a new one at your SimpleFIN bridge"
        )
    };
    let text = std::str::from_utf8(body).map_err(|_| not_one("it is not text"))?.trim();
    // URL parsing drops tabs and newlines inside, so a multi-line answer would pass as one URL
    // while the file kept the lines.
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(not_one("it is not a single line"));
    }
    let url = check_url(text, false).map_err(|e| not_one(&e))?;
    if url.username().is_empty() || url.password().is_none() {
        return Err(not_one("it carries no user name and password"));
    }
    Ok(text.to_owned())
}

/// Where the access URL will go, made before the claim so that a token is never spent on a file that
/// cannot be written. Without `--force` that is FILE itself (create_new); with it, a sibling that is
/// renamed over FILE, so an existing FILE with wider permissions never holds the URL. Both are
/// created with mode 0600, never readable by others even for a moment. Dropped without `commit`,
/// it removes what it made.
pub(crate) struct Target {
    file: Option<File>,
    made: PathBuf,
    out: PathBuf,
}

impl Target {
    pub(crate) fn reserve(out: &Path, force: bool) -> anyhow::Result<Target> {
        let shown = out.display();
        let name = out.file_name().with_context(|| format!("{shown} does not name a file"))?;
        if std::fs::metadata(out).is_ok_and(|m| m.is_dir()) {
            bail!("{shown} is a directory: --out must name a file");
        }
        let made = if force {
            let mut temporary = std::ffi::OsString::from(".");
            temporary.push(name);
            temporary.push(format!(".claim-{}", std::process::id()));
            out.with_file_name(temporary)
        } else {
            out.to_path_buf()
        };
        let file = OpenOptions::new().write(true).create_new(true).mode(MODE).open(&made).map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists && !force {
                anyhow!("{shown} already exists: payguard does not overwrite it; use --force to replace it")
            } else {
                anyhow!("cannot create {}: {e}", made.display())
            }
        })?;
        Ok(Target { file: Some(file), made, out: out.to_path_buf() })
    }

    pub(crate) fn commit(mut self, contents: &[u8]) -> std::io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Err(std::io::Error::other("the file was already written"));
        };
        // The umask may have narrowed the mode at creation; say exactly what the message promises.
        file.set_permissions(Permissions::from_mode(MODE))?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        if self.made != self.out {
            std::fs::rename(&self.made, &self.out)?;
        }
        // Written and in place: nothing is left to clean up.
        self.made = PathBuf::new();
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if !self.made.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.made);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_decode_as_pasted() {
        // RFC 4648 §10, padded and not.
        let vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in vectors {
            assert_eq!(decode_token(encoded).as_deref(), Ok(plain.as_bytes()), "{encoded:?}");
            let bare = encoded.trim_end_matches('=');
            assert_eq!(decode_token(bare).as_deref(), Ok(plain.as_bytes()), "{bare:?}");
        }
        assert_eq!(decode_token("  ZGVtbzpkZW1v\n").as_deref(), Ok(&b"demo:demo"[..]));
        assert_eq!(decode_token("Zg=").as_deref(), Ok(&b"f"[..]), "padding cut short in the paste");
        // 0xfb 0xff 0xbf is `+/+/` in the standard alphabet and `-_-_` in the URL-safe one.
        assert_eq!(decode_token("-_-_").as_deref(), Ok(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(decode_token("+/+/").as_deref(), Ok(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn a_bad_token_is_refused_by_position_never_shown() {
        let alphabet = |n: usize| Err(format!("character {n} is not in the base64 alphabet"));
        let length = Err("its length is impossible for base64: a character is missing or extra".to_owned());
        let padding = Err("`=` padding may only end the text".to_owned());
        let cases = [
            ("Zm9*", alphabet(4)),
            ("Zm 9", alphabet(3)),
            ("not base64!", alphabet(4)),
            ("+/-_", alphabet(1)),
            ("Zg=a", padding.clone()),
            ("Zm9vY", length.clone()),
        ];
        for (token, refusal) in cases {
            assert_eq!(decode_token(token), refusal, "{token:?}");
        }
        for token in ["*", "Zg===", "Z==="] {
            let refusal = decode_token(token).err().unwrap_or_default();
            assert!(!refusal.is_empty() && !refusal.contains(token), "{token:?}: {refusal}");
        }
    }
}
