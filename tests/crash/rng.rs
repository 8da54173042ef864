//! The crash suite's randomness: one seeded SplitMix64 drawing the story, the receiver's answers and
//! every kill moment, so a failing run names a seed that replays the same plan.
//!
//! The seed comes from `PAYGUARD_CRASH_SEED` when set (decimal, or hex with `0x`), else from the
//! clock. A replay repeats every choice the seed makes; the daemon's own timing still varies, so a
//! rare interleaving may need a few replays.

/// SplitMix64 (Steele, Lea and Flood): tiny, fast and good enough to spread test choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is irrelevant at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An independent stream for one concern, so adding a draw to one does not shift the others.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

/// `PAYGUARD_CRASH_SEED` when set, else a fresh one from the clock and the process id.
pub fn seed() -> u64 {
    if let Ok(text) = std::env::var("PAYGUARD_CRASH_SEED") {
        let text = text.trim();
        let parsed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        };
        return parsed.unwrap_or_else(|_| panic!("PAYGUARD_CRASH_SEED={text:?} is not a number"));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    // One round of mixing, so seeds taken a moment apart do not look alike.
    Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32)).next_u64()
}
