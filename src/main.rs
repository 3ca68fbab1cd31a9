//! The `shipdeck` binary: parses the command line and reports errors with their context.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = shipdeck::app::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(shipdeck::app::cli::main(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
