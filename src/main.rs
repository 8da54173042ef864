use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = payguard::cli::Cli::from_args();
    payguard::cli::main(cli)
}
