//! The sysexits(3) codes payguard exits with, so service managers and scripts can tell failures
//! apart. They live with the control socket because its replies carry them: a command exits with
//! the same code whether the daemon answered it or the command did.

use crate::config::ConfigError;
use crate::store::StoreError;

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
/// EX_DATAERR: `verify` found the store behind its audit anchor: recorded writes were lost.
pub const ROLLED_BACK: u8 = 65;
/// EX_IOERR: the store could not be read or written.
pub const IO: u8 = 74;
/// EX_TEMPFAIL: a source failed, or the store is busy; trying later may work.
pub const TEMPFAIL: u8 = 75;
/// EX_CONFIG: the configuration is wrong.
pub const CONFIG: u8 = 78;

/// The sysexits code of a failed command, here and in the daemon's answers to the command line.
pub fn code(error: &anyhow::Error) -> u8 {
    let setup = |e: &(dyn std::error::Error + 'static)| {
        e.is::<ConfigError>() || e.is::<super::time::BadTime>() || e.is::<crate::tls_roots::NoCaCertificates>()
    };
    if error.chain().any(setup) {
        return CONFIG;
    }
    match error.chain().find_map(|e| e.downcast_ref::<StoreError>()) {
        Some(StoreError::Locked { .. }) => TEMPFAIL,
        Some(_) => IO,
        None => FAILURE,
    }
}
