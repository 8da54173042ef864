//! The store is a record of someone's money: only the user payguard runs as may read it, however
//! payguard was started. systemd's `StateDirectoryMode=0700` and `UMask=0077` say so for the
//! service; [`make_private`] says so everywhere else. sled creates files for as long as the store
//! is open (snapshots, blobs), so a mode set once after opening would not cover them: the process
//! umask is narrowed instead, and what an older payguard left readable is narrowed on open.

use std::fs::{DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

use rustix::fs::Mode;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// What [`make_private`] did to a store that was open to others.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Narrowed {
    /// `path mode → mode` for each directory or file whose mode was narrowed.
    pub changed: Vec<String>,
    /// `path: error` for each that could not be narrowed (owned by someone else, say).
    pub failed: Vec<String>,
}

/// Narrows the process umask to at least 077, creates `dir` 0700 when it is missing, and narrows
/// the modes of `dir` and everything in it to 0700 (directories) and 0600 (files). Symbolic links
/// inside it are left alone: their targets are not the store's.
pub(super) fn make_private(dir: &Path) -> io::Result<Narrowed> {
    // umask can only be read by setting it: set the strictest, then the caller's made stricter.
    let before = rustix::process::umask(Mode::from_bits_truncate(0o077));
    rustix::process::umask(before | Mode::from_bits_truncate(0o077));
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    let mut narrowed = Narrowed::default();
    // `dir` itself may be a link (systemd's DynamicUser= makes /var/lib/NAME one): it is the
    // store's all the same, so it is followed; links inside it are not.
    narrow(dir, std::fs::metadata(dir)?, &mut narrowed)?;
    Ok(narrowed)
}

fn narrow(path: &Path, metadata: std::fs::Metadata, narrowed: &mut Narrowed) -> io::Result<()> {
    let wanted = if metadata.is_dir() {
        DIR_MODE
    } else if metadata.is_file() {
        FILE_MODE
    } else {
        return Ok(());
    };
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let now = mode & wanted;
        match std::fs::set_permissions(path, Permissions::from_mode(now)) {
            Ok(()) => narrowed.changed.push(format!("{} {mode:04o} → {now:04o}", path.display())),
            Err(e) => narrowed.failed.push(format!("{}: {e}", path.display())),
        }
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let path = entry?.path();
            narrow(&path, std::fs::symlink_metadata(&path)?, narrowed)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn a_store_open_to_others_is_narrowed_and_says_what_changed() {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("state");
        std::fs::create_dir_all(dir.join("blobs")).expect("mkdir");
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.join("db"), "x").expect("write");
        std::fs::set_permissions(dir.join("db"), Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(dir.join("conf"), "x").expect("write");
        std::fs::set_permissions(dir.join("conf"), Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link")).expect("symlink");

        let narrowed = make_private(&dir).expect("narrowed");
        assert!(narrowed.failed.is_empty(), "{narrowed:?}");
        let changed = narrowed.changed.join("; ");
        assert!(changed.contains("state 0755 → 0700") && changed.contains("db 0644 → 0600"), "{changed}");
        assert!(!changed.contains("conf") && !changed.contains("link"), "{changed}");
        assert_eq!((mode(&dir), mode(&dir.join("db")), mode(&dir.join("conf"))), (0o700, 0o600, 0o600));
        // A second open finds nothing to say.
        assert_eq!(make_private(&dir).expect("narrowed"), Narrowed::default());
        // Named through a link, as under DynamicUser=, the store is still narrowed.
        std::fs::set_permissions(dir.join("db"), Permissions::from_mode(0o644)).expect("chmod");
        let link = root.path().join("state-link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let narrowed = make_private(&link).expect("narrowed");
        assert!(narrowed.changed.join("; ").contains("db 0644 → 0600"), "{narrowed:?}");
    }
}
