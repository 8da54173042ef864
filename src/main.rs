use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = payguard::cli::Cli::parse();
    payguard::cli::main(cli)
}
