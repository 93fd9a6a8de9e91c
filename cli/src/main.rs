//! `dream-photo`: run the whole backend on one machine, and the operator's commands.

mod cluster;
mod init_data;
mod local;
mod ops;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dream-photo",
    version,
    about = "Dream Photo backend: run locally, migrate, set the webhook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole backend on this machine: Postgres (a private cluster under .data/ when
    /// DATABASE_URL is unset), all four functions on one port, an in-process training queue.
    Serve(local::ServeArgs),
    /// Apply the database migrations to DATABASE_URL.
    Migrate,
    /// Register the bot's webhook with Telegram (secret token and update types included).
    SetWebhook(ops::SetWebhookArgs),
    /// Add a few demo styles (for trying generation locally).
    SeedStyles,
    /// Print an `Authorization: tma <initData>` value for the REST API, signed with
    /// TELEGRAM_BOT_TOKEN (for local testing).
    InitData(init_data::InitDataArgs),
}

fn main() -> ExitCode {
    shared::config::load_dotenv();
    shared::telemetry::init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => local::serve(args).await,
            Command::Migrate => ops::migrate().await,
            Command::SetWebhook(args) => ops::set_webhook(args).await,
            Command::SeedStyles => ops::seed_styles().await,
            Command::InitData(args) => init_data::print(args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
