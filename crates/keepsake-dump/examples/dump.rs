//! A command-line face on the crate, for the benchmark (`bench/dump/run.sh`) and for trying it by
//! hand:
//!
//! ```text
//! pg_dump --clean --if-exists DB | dump --out FILE [--level N] [--workers N]
//! dump --verify FILE SIZE BLAKE3
//! dump --restore FILE | psql --single-transaction --set ON_ERROR_STOP=on DB
//! ```
//!
//! `--out` prints `size=… uncompressed_size=… blake3=… level=… workers=…` on stdout when the file
//! is complete.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use keepsake_dump::{WriteOptions, restore_stream, verify, write_compressed};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

const USAGE: &str = "usage: dump --out FILE [--level N] [--workers N] < SQL\n       \
                     dump --verify FILE SIZE BLAKE3\n       dump --restore FILE > SQL";

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let mut opts = WriteOptions::default();
    let mut it = args.iter().map(String::as_str);
    let mut mode = None;
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        match arg {
            "--out" | "--restore" => mode = Some((arg, PathBuf::from(value()?), Vec::new())),
            "--verify" => {
                let path = PathBuf::from(value()?);
                let rest = vec![value()?.to_owned(), value()?.to_owned()];
                mode = Some((arg, path, rest));
            }
            "--level" => opts.level = value()?.parse().map_err(|e| format!("--level: {e}"))?,
            "--workers" => opts.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?,
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    match mode {
        Some(("--out", path, _)) => {
            if std::io::stdin().is_terminal() {
                return Err("stdin is a terminal: pipe pg_dump's output in".into());
            }
            let info = write_compressed(stdin()?, &path, opts).await.map_err(|e| e.to_string())?;
            println!(
                "size={} uncompressed_size={} blake3={} level={} workers={}",
                info.size, info.uncompressed_size, info.blake3_hex, opts.level, opts.workers
            );
            Ok(())
        }
        Some(("--verify", path, rest)) => {
            let size = rest[0].parse().map_err(|e| format!("SIZE: {e}"))?;
            verify(&path, size, &rest[1]).await.map_err(|e| e.to_string())
        }
        Some(("--restore", path, _)) => {
            let mut sql = restore_stream(&path).await.map_err(|e| e.to_string())?;
            let mut out = stdout()?;
            tokio::io::copy(&mut sql, &mut out).await.map_err(|e| e.to_string())?;
            out.shutdown().await.map_err(|e| e.to_string())
        }
        _ => Err(USAGE.into()),
    }
}

/// Stdin as a real non-blocking pipe when it is one (tokio's `stdin()` goes through the blocking
/// pool one small read at a time), like a child process's stdout in the agent.
fn stdin() -> Result<Box<dyn AsyncRead + Unpin>, String> {
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdin()).try_clone_to_owned().map_err(|e| e.to_string())?;
    match tokio::net::unix::pipe::Receiver::from_file(std::fs::File::from(fd)) {
        Ok(pipe) => Ok(Box::new(pipe)),
        Err(_) => Ok(Box::new(tokio::io::stdin())),
    }
}

fn stdout() -> Result<Box<dyn AsyncWrite + Unpin>, String> {
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdout()).try_clone_to_owned().map_err(|e| e.to_string())?;
    match tokio::net::unix::pipe::Sender::from_file(std::fs::File::from(fd)) {
        Ok(pipe) => Ok(Box::new(pipe)),
        Err(_) => Ok(Box::new(tokio::io::stdout())),
    }
}
