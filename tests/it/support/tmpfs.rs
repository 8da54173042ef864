//! A real full disk for tests: a small tmpfs mounted over a directory, filled to the last byte and
//! freed again on demand, and unmounted when the guard drops, on every path out of the test.
//! Mounting needs root, which CI has; elsewhere [`Tmpfs::mount`] says why it cannot run.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const FILLER: &str = "filler";

/// A mounted tmpfs; unmounted on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as mount(8) reads it: "16m") over `path`, made if missing. `None`
    /// when this process is not root, after saying so on stderr.
    pub fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        // /proc/self belongs to the process's effective user.
        if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX) != 0 {
            eprintln!("NOT RUN: mounting a tmpfs to fill needs root (CI runs the tests as root)");
            return None;
        }
        std::fs::create_dir_all(path).expect("the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs over {}", path.display());
        Some(Tmpfs { path: path.to_owned() })
    }

    /// Fills the file system: one file grown until the device says it is full (ENOSPC).
    pub fn fill(&self) {
        let mut file = std::fs::File::create(self.path.join(FILLER)).expect("create the filler");
        let block = vec![0u8; 64 << 10];
        let error = loop {
            if let Err(e) = file.write_all(&block).and_then(|()| file.flush()) {
                break e;
            }
        };
        assert_eq!(error.raw_os_error(), Some(28), "filled until ENOSPC: {error}");
    }

    /// Frees what [`Tmpfs::fill`] took.
    pub fn free(&self) {
        std::fs::remove_file(self.path.join(FILLER)).expect("remove the filler");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds a file there: detach it now, the kernel frees it after.
            let _ = Command::new("umount").arg("--lazy").arg(&self.path).status();
        }
    }
}

/// A child process killed (and reaped) when the guard drops, so a failing test leaves no daemon
/// holding a mount.
pub struct Reaped(pub Option<std::process::Child>);

impl Reaped {
    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is still ours")
    }

    pub fn take(&mut self) -> std::process::Child {
        self.0.take().expect("the child is still ours")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
