use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = overcast::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("overcast: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(overcast::cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("overcast: {error:#}");
            ExitCode::FAILURE
        }
    }
}
