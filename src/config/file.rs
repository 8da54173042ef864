//! The one way payguard reads the files a config names or is: regular files only, up to a limit.
//! `--config` pointing at `/dev/zero` (or a secret `${file:/dev/zero}`) would otherwise read
//! forever and grow memory without bound, and a FIFO would block a reload; both are refused before
//! anything is read, with the file's kind and the limit in the message.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// What a file is to payguard, and how much of it may be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    what: &'static str,
    max: u64,
    shown: &'static str,
}

/// A config file: real ones are a few KiB.
pub(crate) const CONFIG: Limit = Limit { what: "a config file", max: 1 << 20, shown: "1 MiB" };
/// A `${file:…}` secret or a systemd credential: a token, a password or a URL.
pub(crate) const SECRET: Limit = Limit { what: "a secret", max: 64 << 10, shown: "64 KiB" };

/// The text of the regular file at `path` (symlinks followed) and its permission bits. Anything
/// else, or more than `limit` bytes, or not UTF-8, is an error that says so; the caller names the
/// file.
pub(crate) fn read(path: &Path, limit: Limit) -> io::Result<(String, u32)> {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one. It changes nothing
    // for a regular file, and anything else is refused before a byte is read.
    let file = OpenOptions::new().read(true).custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32).open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file: {} must be a regular file of at most {}",
                kind(&metadata.file_type()),
                limit.what,
                limit.shown
            ),
        ));
    }
    let mut bytes = Vec::new();
    File::take(file, limit.max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {}, the most {} may be: is it the right file?", limit.shown, limit.what),
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{} must be UTF-8 text", limit.what)))?;
    Ok((text, metadata.permissions().mode()))
}

fn kind(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a plain file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(path: &Path, limit: Limit) -> String {
        read(path, limit).err().map(|e| e.to_string()).unwrap_or_else(|| format!("{} was read", path.display()))
    }

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "abc").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        assert_eq!(read(&link, SECRET).map(|(text, _)| text).ok().as_deref(), Some("abc"));

        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let error = refusal(&zero, CONFIG);
        assert!(error.contains("a character device") && error.contains("at most 1 MiB"), "{error}");
        let error = refusal(dir.path(), SECRET);
        assert!(error.contains("a directory") && error.contains("at most 64 KiB"), "{error}");
        // A FIFO nobody writes to: refused at once instead of waiting for a writer.
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(status.success());
        assert!(refusal(&fifo, SECRET).contains("a named pipe"));

        std::fs::write(&file, vec![b'a'; 64 << 10]).expect("write");
        assert!(read(&file, SECRET).is_ok(), "exactly the limit is fine");
        std::fs::write(&file, vec![b'a'; (64 << 10) + 1]).expect("write");
        let error = refusal(&file, SECRET);
        assert!(error.contains("larger than 64 KiB"), "{error}");
        std::fs::write(&file, [0xff, 0xfe]).expect("write");
        assert!(refusal(&file, SECRET).contains("UTF-8"));
    }
}
