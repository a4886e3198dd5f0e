//! `lookout`: parse the command line, load settings, start logging, run the command.

use clap::Parser;
use lookout::cli::{self, Cli};
use lookout::config::Settings;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lookout: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    lookout::telemetry::init(&settings.log);
    match cli::run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lookout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
