//! `keepsake`, the root console command: a client of the agent's API, like the dashboard.
//!
//! It knows the socket, the wire types of `keepsake-api` and how to present them on a terminal,
//! and nothing else. It must not know SQL, the state database, Docker, D-Bus, ZFS, job scheduling
//! or how the agent checks a permission; Cargo enforces this, because the crate does not depend on
//! `keepsake-agent`. Everything it does goes through the socket, so the console and the dashboard
//! can never disagree about what happened.
//!
//! This file is glue: parse the command line, start a small runtime, run the command, map the
//! outcome to an exit code (0 done, 1 the answer is "no" or a check failed, 2 an error).

mod args;
mod audit;
mod drive_args;
mod drive_view;
mod drives;
mod jobs;
mod restore_points;
mod restore_view;
mod stack;
mod status;
mod term;
mod users;

use args::{Cli, Command};
use clap::Parser;
use keepsake_api::Client;

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keepsake: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("keepsake: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Runs the command; the result is the process exit code.
async fn run(cli: Cli) -> anyhow::Result<i32> {
    let client = Client::new(&cli.socket);
    let json = cli.json;
    match cli.command {
        Command::Health => status::health(&client, json).await,
        Command::Status => status::status(&client, json).await,
        Command::SelfCheck { no_wait } => jobs::self_check(&client, no_wait, json).await,
        Command::Jobs(cmd) => jobs::run(&client, cmd, json).await,
        Command::User(cmd) => users::run(&client, cmd, json).await,
        Command::Audit(cmd) => audit::run(&client, cmd, json).await,
        Command::RestorePoint(cmd) => restore_points::run(&client, cmd, json).await,
        Command::Drive(cmd) => drives::run(&client, cmd, json).await,
        Command::Stack(cmd) => stack::run(&client, cmd, json).await,
        Command::ResetImmich { undo, confirm, no_wait } => {
            restore_points::reset_immich(&client, undo, confirm, no_wait, json).await
        }
    }
}

#[cfg(test)]
mod tests {
    /// Cargo enforces the boundary only while nobody adds the dependency; this says why not to.
    #[test]
    fn the_cli_does_not_depend_on_the_agent() {
        let manifest = include_str!("../Cargo.toml");
        let deps = manifest.lines().map(str::trim_start).filter(|l| !l.starts_with('#'));
        let bad: Vec<&str> = deps.filter(|l| l.starts_with("keepsake-agent")).collect();
        assert!(bad.is_empty(), "keepsake-cli must be only a client of the socket (keepsake-api), not link {bad:?}");
    }
}
