//! The command line: `lookout [serve]`, `migrate`, `user add`, `token add`, `demo`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::{Overrides, Settings};
use crate::domain::audit::Actor;
use crate::error::AppError;
use crate::services::{demo, tokens, users};
use crate::startup::{Application, StartupError, open_state};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(name = "lookout", version, about = "Incident and on-call management", long_about = None)]
pub struct Cli {
    /// Settings file (default: ./lookout.toml when it exists)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// sqlite://PATH or postgres://... (overrides DATABASE_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web app, API and webhooks (the default)
    Serve {
        /// Listen address (overrides LOOKOUT_BIND)
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Public URL for links (overrides LOOKOUT_BASE_URL)
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Manage users
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Fill an empty database with a realistic demo team
    Demo,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (one line)
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, manager, responder or viewer
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a new API token for a user (shown once, stored hashed)
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        label: String,
    },
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        let (bind, base_url) = match &self.command {
            Some(Command::Serve { bind, base_url }) => (bind.clone(), base_url.clone()),
            _ => (None, None),
        };
        Overrides {
            bind,
            database_url: self.database_url.clone(),
            base_url,
            config: self.config.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{}", describe(.0))]
    App(#[from] AppError),
    #[error("{0}")]
    Usage(String),
    #[error("server stopped with an error: {0}")]
    Serve(std::io::Error),
}

fn describe(e: &AppError) -> String {
    match e {
        AppError::Invalid(fields) => fields.summary(),
        AppError::Db(db) => db.to_string(),
        other => other.to_string(),
    }
}

async fn state(settings: Settings) -> Result<AppState, CliError> {
    let base_url = settings.effective_base_url(settings.bind);
    Ok(open_state(settings, Arc::new(SystemClock), base_url).await?)
}

pub async fn run(cli: Cli, settings: Settings) -> Result<(), CliError> {
    match cli.command {
        None | Some(Command::Serve { .. }) => {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            app.run_until_stopped().await.map_err(CliError::Serve)
        }
        Some(Command::Migrate) => {
            let st = state(settings).await?;
            eprintln!(
                "migrations applied; {} database is up to date",
                st.db.backend().name()
            );
            Ok(())
        }
        Some(Command::User {
            command: UserCommand::Add { email, name, role },
        }) => {
            let password = read_password()?;
            let st = state(settings).await?;
            let input = users::NewUserInput {
                email,
                name,
                role,
                password: Some(password),
                time_zone: None,
            };
            let created = users::create(&st, &Actor::cli(), &input).await?;
            eprintln!(
                "created {} <{}> as {}",
                created.user.name, created.user.email, created.user.role
            );
            Ok(())
        }
        Some(Command::Token {
            command: TokenCommand::Add { email, label },
        }) => {
            let st = state(settings).await?;
            let user = users::find_by_email(&st, &email)
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| CliError::Usage(format!("no active user with e-mail {email}")))?;
            let issued = tokens::create(&st, &Actor::cli(), &user, &label).await?;
            eprintln!(
                "token '{}' for {}; it is shown only now:",
                issued.token.label, user.email
            );
            println!("{}", issued.secret);
            Ok(())
        }
        Some(Command::Demo) => {
            let st = state(settings).await?;
            let summary = demo::fill(&st).await?;
            println!("{summary}");
            Ok(())
        }
    }
}

/// One line from standard input; a terminal gets a prompt without echo.
fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ")
            .map_err(|e| CliError::Usage(format!("could not read the password: {e}")));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::Usage(format!(
            "could not read the password from standard input: {e}"
        ))
    })?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(CliError::Usage(
            "no password on standard input; pipe one line, e.g. `echo \"$PW\" | lookout user add ...`".into(),
        ));
    }
    Ok(password)
}
