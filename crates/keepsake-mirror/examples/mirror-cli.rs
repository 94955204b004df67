//! mirror-cli: drives the keepsake-mirror library from the command line, for benchmarks, manual tests
//! and the kill test. Prints a one-line JSON summary of the report on stdout; exit 0 on success, 1 on
//! error with the message on stderr.
//!
//! ```text
//! mirror-cli mirror <drive> <name>=<dir>... [--keep-deleted-days N] [--threads N] [--verify]
//!                   [--reserve BYTES] [--written-by NAME] [--now RFC3339]
//! mirror-cli verify <drive> [--sample PCT] [--seed N]
//! mirror-cli restore <drive> <dest> [paths...] [--overwrite]
//! mirror-cli list <drive> [dir]
//! mirror-cli summary <drive>
//! ```
//! Set MIRROR_CLI_PROGRESS=1 to print progress lines (JSON) on stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use keepsake_mirror::{
    MirrorOptions, NoProgress, Progress, ProgressSink, RestoreOptions, Selection, Source, VerifyScope,
};

struct StderrProgress;

impl ProgressSink for StderrProgress {
    fn progress(&self, p: &Progress) {
        if let Ok(s) = serde_json::to_string(p) {
            eprintln!("{s}");
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mirror-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

fn value<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<T, String> {
    let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: invalid value {v:?}"))
}

fn run() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().ok_or("usage: mirror-cli mirror|verify|restore|list|summary <drive> ...")?;
    let drive = PathBuf::from(args.next().ok_or("missing <drive>")?);
    let cancel = AtomicBool::new(false);
    let sink: &dyn ProgressSink =
        if std::env::var_os("MIRROR_CLI_PROGRESS").is_some() { &StderrProgress } else { &NoProgress };
    let json = |r: &dyn erased::Json| r.json();
    match cmd.as_str() {
        "mirror" => {
            let mut opts = MirrorOptions { written_by: "mirror-cli".into(), ..MirrorOptions::default() };
            let mut sources = Vec::new();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--keep-deleted-days" => opts.keep_deleted_days = value(&mut args, &a)?,
                    "--threads" => opts.threads = value(&mut args, &a)?,
                    "--verify" => opts.verify_written = true,
                    "--reserve" => opts.reserve_bytes = value(&mut args, &a)?,
                    "--written-by" => opts.written_by = value(&mut args, &a)?,
                    "--now" => {
                        let s: String = value(&mut args, &a)?;
                        opts.now = chrono::DateTime::parse_from_rfc3339(&s)
                            .map_err(|e| format!("--now {s:?}: {e}"))?
                            .with_timezone(&chrono::Utc);
                    }
                    _ => {
                        let (name, dir) =
                            a.split_once('=').ok_or_else(|| format!("expected <name>=<dir>, got {a:?}"))?;
                        sources.push(Source { name: name.into(), root: dir.into() });
                    }
                }
            }
            let r = keepsake_mirror::mirror(&drive, &sources, &opts, sink, &cancel).map_err(|e| e.to_string())?;
            Ok(json(&r))
        }
        "verify" => {
            let mut scope = VerifyScope::Full;
            let mut seed = 0u64;
            let mut pct = None;
            while let Some(a) = args.next() {
                match a.as_str() {
                    "--sample" => pct = Some(value::<u8>(&mut args, &a)?),
                    "--seed" => seed = value(&mut args, &a)?,
                    _ => return Err(format!("unknown argument {a:?}")),
                }
            }
            if let Some(percent) = pct {
                scope = VerifyScope::Sample { percent, seed };
            }
            let r = keepsake_mirror::verify(&drive, scope, sink, &cancel).map_err(|e| e.to_string())?;
            if r.problem_count > 0 {
                return Err(format!("{} problem(s): {}", r.problem_count, json(&r)));
            }
            Ok(json(&r))
        }
        "restore" => {
            let dest = PathBuf::from(args.next().ok_or("missing <dest>")?);
            let mut opts = RestoreOptions::default();
            let mut paths = Vec::new();
            for a in args {
                if a == "--overwrite" {
                    opts.overwrite = true;
                } else {
                    paths.push(a);
                }
            }
            let sel = if paths.is_empty() { Selection::All } else { Selection::Paths(paths) };
            let r = keepsake_mirror::restore(&drive, &sel, &dest, &opts, sink, &cancel).map_err(|e| e.to_string())?;
            Ok(json(&r))
        }
        "list" => {
            let dir = args.next().unwrap_or_default();
            let r = keepsake_mirror::list(&drive, &dir).map_err(|e| e.to_string())?;
            serde_json::to_string(&r).map_err(|e| e.to_string())
        }
        "summary" => {
            let r = keepsake_mirror::summary(&drive).map_err(|e| e.to_string())?;
            serde_json::to_string(&r).map_err(|e| e.to_string())
        }
        _ => Err(format!("unknown command {cmd:?}")),
    }
}

mod erased {
    /// Lets one closure serialise any report type.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        }
    }
}
