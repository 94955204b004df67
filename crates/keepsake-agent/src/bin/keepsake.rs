//! `keepsake`: the root console command. Glue only; see `keepsake_agent::cli`.

use clap::Parser;

fn main() {
    let cli = keepsake_agent::cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keepsake: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    match rt.block_on(keepsake_agent::cli::run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("keepsake: {e:#}");
            std::process::exit(2);
        }
    }
}
