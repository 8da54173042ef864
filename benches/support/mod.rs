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

/// Starts the peak (`VmHWM`) afresh at the resident memory now, so the peak after a step is that
/// step's own, not what came before it (Linux: `clear_refs` mode 5).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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

/// The heap the process holds, counted at every allocation, with its peak: what payguard holds,
/// apart from what the allocator keeps of memory already freed (which resident memory counts too).
/// A benchmark that wants it installs it: `#[global_allocator] static HEAP: Counting = Counting;`.
pub struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Counting {
    /// Bytes allocated and not yet freed.
    pub fn live() -> usize {
        LIVE.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The most [`Counting::live`] was since the last reset.
    pub fn peak() -> usize {
        PEAK.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn reset_peak() {
        PEAK.store(Self::live(), std::sync::atomic::Ordering::Relaxed);
    }

    fn grew(by: usize) {
        let now = LIVE.fetch_add(by, std::sync::atomic::Ordering::Relaxed) + by;
        PEAK.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        let pointer = unsafe { std::alloc::System.alloc(layout) };
        if !pointer.is_null() {
            Self::grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as for `alloc`.
        unsafe { std::alloc::System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let moved = unsafe { std::alloc::System.realloc(pointer, layout, size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
            Self::grew(size);
        }
        moved
    }
}
