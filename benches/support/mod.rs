//! What the benchmarks share: the process's own memory and CPU figures.
#![allow(dead_code)] // each benchmark uses a different part of it

/// A field of `/proc/self/status` in KiB, e.g. `VmRSS` (resident now) or `VmHWM` (its peak).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0)
}

/// The CPU time this process (all its threads) has used so far, in milliseconds, at the kernel's
/// 10 ms resolution (`utime` and `stime` of `/proc/self/stat`, in USER_HZ = 100 ticks a second).
pub fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which may hold spaces, start at the state (field 3).
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(14) + ticks(15)) * 10
}
