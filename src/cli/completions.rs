//! `payguard completions SHELL`: the shell completion script for every subcommand and option,
//! generated from the same clap definition that parses the command line, so it cannot drift from
//! it. Needs no config. The scripts shipped in `completions/` are this command's output.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

use super::{Cli, exit};

pub fn run(shell: Shell) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "payguard", &mut script);
    std::io::stdout().lock().write_all(&script).context("cannot write to stdout")?;
    Ok(exit::OK)
}
