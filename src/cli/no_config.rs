//! What every command says when there is no config file where it looked: which of `--config`,
//! `$PAYGUARD_CONFIG` and the default chose that path, and where a first config comes from. A
//! newcomer's first command otherwise ends in a bare "No such file or directory".

use std::path::Path;

use clap::parser::ValueSource;

use crate::config::{ConfigError, DEFAULT_PATH};

/// Where the package puts the example config (`[package.metadata.deb]` assets in Cargo.toml).
pub const INSTALLED_EXAMPLE: &str = "/usr/share/doc/payguard/payguard.example.toml";

/// What chose the config path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    #[default]
    Default,
}

impl Origin {
    pub fn of(source: Option<ValueSource>) -> Origin {
        match source {
            Some(ValueSource::CommandLine) => Origin::Flag,
            Some(ValueSource::EnvVariable) => Origin::Env,
            _ => Origin::Default,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Origin::Flag => "named by --config",
            Origin::Env => "named by $PAYGUARD_CONFIG, as no --config was given",
            Origin::Default => "the default, as neither --config nor $PAYGUARD_CONFIG was given",
        }
    }
}

/// The whole message when `error` is that the config at `path` does not exist; `None` for any
/// other failure, which keeps its own words.
pub fn explain(error: &anyhow::Error, path: &Path, origin: Origin) -> Option<String> {
    let unread = error.chain().filter_map(|e| e.downcast_ref::<ConfigError>()).any(|e| e.path == path && e.line == 0);
    if !unread || path.try_exists().unwrap_or(true) {
        return None;
    }
    Some(format!(
        "no config file at {} ({}). Start from config/payguard.example.toml in payguard's source, \
         installed by the package as {INSTALLED_EXAMPLE}: copy it to {DEFAULT_PATH} (or anywhere, \
         and name it with --config or $PAYGUARD_CONFIG), fill it in, and run `payguard check`; \
         or let `payguard init` write a first one there (with --simplefin TOKEN for a SimpleFIN bridge)",
        path.display(),
        origin.words()
    ))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;
    use crate::cli::Cli;

    fn origin(args: &[&str]) -> Origin {
        let matches = Cli::command().try_get_matches_from(args).expect("a valid command line");
        Cli::from_matches(&matches).expect("parsed").config_origin
    }

    #[test]
    fn the_origin_of_the_config_path_is_told_apart() {
        assert_eq!(origin(&["payguard", "--config", "a.toml", "check"]), Origin::Flag);
        assert_eq!(origin(&["payguard", "check", "--config", "a.toml"]), Origin::Flag, "after the subcommand too");
        // $PAYGUARD_CONFIG is not set for the unit tests (the binary's tests cover it in a child).
        if std::env::var_os("PAYGUARD_CONFIG").is_none() {
            assert_eq!(origin(&["payguard", "check"]), Origin::Default);
        }
    }

    #[test]
    fn only_a_config_that_is_not_there_is_explained() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("payguard.toml");
        let unread = |path: &Path| anyhow::Error::new(ConfigError::unplaced(path, "cannot read the config file"));
        let said = explain(&unread(&missing), &missing, Origin::Env).expect("explained");
        assert!(said.starts_with(&format!("no config file at {} (named by $PAYGUARD_CONFIG", missing.display())));
        assert!(said.contains("config/payguard.example.toml") && said.contains(INSTALLED_EXAMPLE), "{said}");
        assert_eq!(explain(&unread(dir.path()), dir.path(), Origin::Flag), None, "a directory is there: its own error");
        let other = dir.path().join("other.toml");
        assert_eq!(explain(&unread(&other), &missing, Origin::Flag), None, "another file's error");
    }
}
