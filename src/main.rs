//! The `acronis-watch` binary: parse the command line, run the command, exit with
//! its status. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = acronis_watch::cli::Cli::parse();
    acronis_watch::logging::init(cli.log_format, cli.verbose as i8 - cli.quiet as i8);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let exit = runtime.block_on(acronis_watch::commands::execute(cli));
    std::process::ExitCode::from(exit as u8)
}
