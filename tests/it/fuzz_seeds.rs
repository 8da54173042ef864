//! The fuzz targets' inputs as plain tests: every seed in `fuzz/seeds/TARGET/` must pass the
//! target's checks, and every open finding in `fuzz/findings/TARGET/` must still fail them (so it
//! reproduces until it is fixed, and then says to move it to the seeds). The checks are the fuzz
//! crate's own (`fuzz/checks.rs`), so `cargo test` and `cargo fuzz` judge an input alike.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

type Check = fn(&[u8]);

const TARGETS: &[(&str, Check)] = &[
    ("simplefin", checks::simplefin),
    ("http_json", checks::http_json),
    ("statuspage", checks::statuspage),
    ("feed", checks::feed),
    ("config", checks::config),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files in `fuzz/KIND/TARGET/`, sorted; none when the directory does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("a directory entry").path()).collect();
    files.sort();
    files
}

/// Runs `check` on the file at `path`: `Err` with the panic's message when an invariant fails.
fn run(check: Check, path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    catch_unwind(AssertUnwindSafe(|| check(&data))).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

fn seeds_pass(target: &str) {
    checks::setup();
    let check = TARGETS.iter().find(|(name, _)| *name == target).map(|(_, check)| *check).expect("a target");
    let seeds = inputs("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ has no seeds");
    let failures: Vec<String> = seeds
        .iter()
        .filter_map(|path| run(check, path).err().map(|why| format!("{}: {why}", path.display())))
        .collect();
    assert!(failures.is_empty(), "seeds failing the {target} checks:\n{}", failures.join("\n"));
}

#[test]
fn simplefin_seeds_hold() {
    seeds_pass("simplefin");
}

#[test]
fn http_json_seeds_hold() {
    seeds_pass("http_json");
}

#[test]
fn statuspage_seeds_hold() {
    seeds_pass("statuspage");
}

#[test]
fn feed_seeds_hold() {
    seeds_pass("feed");
}

#[test]
fn config_seeds_hold() {
    seeds_pass("config");
}

/// A finding is a minimised input that broke an invariant. Until src/ is fixed it must still break
/// it (else the finding is stale); once it passes, it belongs with the seeds as a regression input.
#[test]
fn open_findings_still_reproduce() {
    checks::setup();
    for (target, check) in TARGETS {
        for path in inputs("findings", target) {
            assert!(
                run(*check, &path).is_err(),
                "{} passes the {target} checks now: the bug is fixed, so move it to fuzz/seeds/{target}/ \
                 and take it out of FUZZING.md's open findings",
                path.display()
            );
        }
    }
}

/// Seed corpora stay small and hand-written: at most ten files of at most 4 KiB per target.
#[test]
fn seed_corpora_stay_small() {
    for (target, _) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(seeds.len() <= 10, "fuzz/seeds/{target}/ has {} files (at most 10)", seeds.len());
        for path in seeds {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(u64::MAX);
            assert!(size <= 4096, "{} is {size} bytes (at most 4096)", path.display());
        }
    }
}
