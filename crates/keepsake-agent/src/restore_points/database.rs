//! PostgreSQL through `docker exec` into Immich's database container, never with a TTY (a TTY
//! corrupts a piped dump): dumps streamed into `keepsake-dump`'s compressor, dumps loaded into a
//! fresh database in one transaction with `ON_ERROR_STOP`, row counts, and the swap that puts a
//! restored database in place of the live one atomically.
//!
//! A restore never drops the live database first: it loads into `keepsake_restore_<job>`, checks
//! it, and then renames both in one transaction. If anything fails before the swap, the live
//! database is untouched; the old one is dropped only after the swap committed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use keepsake_api::TableRows;
use keepsake_dump::{PartInfo, WriteOptions};
use tokio::io::{AsyncRead, AsyncWriteExt};

use super::copy_count::CopyCounter;
use super::stack::DatabaseTarget;

/// Prefix of every database Keepsake creates for itself (restores in progress, drills, the old
/// database right after a swap); anything so named and left behind is Keepsake's to drop.
pub const SCRATCH_PREFIX: &str = "keepsake_";

/// At most this much of a command's stderr is kept for an error message.
const STDERR_KEEP: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot talk to the database container {container}: {why}")]
    Docker { container: String, why: String },
    #[error("`{command}` in the database container failed (exit {code}): {stderr}")]
    Command { command: String, code: i64, stderr: String },
    #[error("the dump could not be written: {0}")]
    Dump(#[from] keepsake_dump::DumpError),
    #[error(
        "the restored database does not match the dump: {0}. Nothing was replaced; the dump may be damaged, try an older point"
    )]
    Mismatch(String),
}

/// What a command in the container printed and how it ended.
pub struct ExecOutput {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

fn docker_err(db: &DatabaseTarget, e: impl std::fmt::Display) -> DbError {
    DbError::Docker { container: db.container.clone(), why: e.to_string() }
}

async fn start(
    docker: &Docker,
    db: &DatabaseTarget,
    cmd: &[&str],
    stdin: bool,
) -> Result<(String, StartExecResults), DbError> {
    let opts = CreateExecOptions {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(stdin),
        tty: Some(false),
        ..Default::default()
    };
    let created = docker.create_exec(&db.container, opts).await.map_err(|e| docker_err(db, e))?;
    let started = docker
        .start_exec(&created.id, Some(StartExecOptions { detach: false, tty: false, output_capacity: Some(1 << 20) }))
        .await
        .map_err(|e| docker_err(db, e))?;
    Ok((created.id, started))
}

async fn exit_code(docker: &Docker, db: &DatabaseTarget, id: &str) -> Result<i64, DbError> {
    // The exec's output ends a moment before the engine records its exit code.
    for _ in 0..50 {
        let i = docker.inspect_exec(id).await.map_err(|e| docker_err(db, e))?;
        if i.running != Some(true)
            && let Some(code) = i.exit_code
        {
            return Ok(code);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(docker_err(db, "the command's exit code never became known"))
}

fn keep_stderr(buf: &Mutex<String>, bytes: &[u8]) {
    let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
    let room = STDERR_KEEP.saturating_sub(b.len());
    if room > 0 {
        b.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(room)]));
    }
}

/// Runs `cmd` in the database container, optionally feeding `stdin`, and collects what it prints.
pub async fn exec_capture(
    docker: &Docker,
    db: &DatabaseTarget,
    cmd: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<ExecOutput, DbError> {
    let (id, started) = start(docker, db, cmd, stdin.is_some()).await?;
    let StartExecResults::Attached { mut output, mut input } = started else {
        return Err(docker_err(db, "the engine detached the command"));
    };
    if let Some(data) = stdin {
        input.write_all(&data).await.map_err(|e| docker_err(db, e))?;
        input.shutdown().await.map_err(|e| docker_err(db, e))?;
    }
    drop(input);
    let (mut stdout, stderr) = (Vec::new(), Mutex::new(String::new()));
    while let Some(chunk) = output.next().await {
        match chunk.map_err(|e| docker_err(db, e))? {
            LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
            LogOutput::StdErr { message } => keep_stderr(&stderr, &message),
            _ => {}
        }
    }
    let code = exit_code(docker, db, &id).await?;
    Ok(ExecOutput { code, stdout, stderr: stderr.into_inner().unwrap_or_default() })
}

/// Runs one SQL statement with psql against `database` and returns its unaligned output.
pub async fn psql(docker: &Docker, db: &DatabaseTarget, database: &str, sql: &str) -> Result<String, DbError> {
    let cmd = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", &db.user, "-d", database, "-c", sql];
    let out = exec_capture(docker, db, &cmd, None).await?;
    if out.code != 0 {
        return Err(DbError::Command { command: format!("psql -c {sql:?}"), code: out.code, stderr: out.stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// PostgreSQL's `server_version` (`15.14 (Debian 15.14-0+deb12u1)`).
pub async fn server_version(docker: &Docker, db: &DatabaseTarget) -> Result<String, DbError> {
    psql(docker, db, &db.database, "SHOW server_version").await
}

/// Dumps Immich's database (`pg_dump --clean --if-exists`, as Immich does) into `dest`, zstd
/// compressed and hashed as it is written. `progress` gets the SQL bytes read so far.
pub async fn dump(
    docker: &Docker,
    db: &DatabaseTarget,
    dest: &Path,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<PartInfo, DbError> {
    let dbname = format!("--dbname={}", db.database);
    let user = format!("--username={}", db.user);
    let cmd = ["pg_dump", "--clean", "--if-exists", &dbname, &user];
    let (id, started) = start(docker, db, &cmd, false).await?;
    let StartExecResults::Attached { output, .. } = started else {
        return Err(docker_err(db, "the engine detached pg_dump"));
    };
    let stderr = Arc::new(Mutex::new(String::new()));
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (e, s) = (stderr.clone(), seen.clone());
    let slow = test_fault("slow_dump");
    let output = output.then(move |chunk| async move {
        if slow {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        chunk
    });
    let bytes = output.filter_map(move |chunk| {
        let out = match chunk {
            Ok(LogOutput::StdOut { message }) => {
                let total = s.fetch_add(message.len() as u64, std::sync::atomic::Ordering::Relaxed);
                progress(total + message.len() as u64);
                Some(Ok(message))
            }
            Ok(LogOutput::StdErr { message }) => {
                keep_stderr(&e, &message);
                None
            }
            Ok(_) => None,
            Err(err) => Some(Err(std::io::Error::other(err))),
        };
        std::future::ready(out)
    });
    let reader = tokio_util::io::StreamReader::new(Box::pin(bytes));
    let written = keepsake_dump::write_compressed(reader, dest, WriteOptions::default()).await;
    let code = exit_code(docker, db, &id).await?;
    let stderr = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if code != 0 {
        // A file written from a failed pg_dump is not a dump.
        let _ = tokio::fs::remove_file(dest).await;
        return Err(DbError::Command { command: "pg_dump".into(), code, stderr });
    }
    Ok(written?)
}

/// Debug builds only: `KEEPSAKE_TEST_FAULT=slow_dump` (or `slow_restore`) slows a dump (or a
/// restore's load) down with a pause per piece, so a system test can kill the agent in the middle
/// of one, deterministically. Release builds ignore it.
fn test_fault(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("KEEPSAKE_TEST_FAULT").is_ok_and(|v| v == name)
}

/// Creates an empty database owned by Immich's role.
pub async fn create_database(docker: &Docker, db: &DatabaseTarget, name: &str) -> Result<(), DbError> {
    let sql = format!("CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'", ident(name), ident(&db.user));
    psql(docker, db, "postgres", &sql).await.map(drop)
}

/// Drops a database, ending its connections first; one that does not exist is fine.
pub async fn drop_database(docker: &Docker, db: &DatabaseTarget, name: &str) -> Result<(), DbError> {
    psql(docker, db, "postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(name))).await.map(drop)
}

/// Names of every database.
pub async fn databases(docker: &Docker, db: &DatabaseTarget) -> Result<Vec<String>, DbError> {
    let out = psql(docker, db, "postgres", "SELECT datname FROM pg_database ORDER BY datname").await?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Loads a dump into `target` (which must exist and be empty) in one transaction that stops at
/// the first error, with Immich's search_path fix; returns the rows each table's COPY carried.
pub async fn load(
    docker: &Docker,
    db: &DatabaseTarget,
    target: &str,
    dump: &Path,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<BTreeMap<String, u64>, DbError> {
    let stream = keepsake_dump::restore_stream(dump).await?;
    let file_progress = stream.progress();
    let counter = CopyCounter::new(stream);
    let counts = counter.counts();
    let cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-U", &db.user, "-d", target];
    let (id, started) = start(docker, db, &cmd, true).await?;
    let StartExecResults::Attached { mut output, mut input } = started else {
        return Err(docker_err(db, "the engine detached psql"));
    };
    // Read psql's output while feeding it, or a chatty psql would block on a full pipe.
    let stderr = Arc::new(Mutex::new(String::new()));
    let e = stderr.clone();
    let drain = tokio::spawn(async move {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(LogOutput::StdErr { message }) => keep_stderr(&e, &message),
                Ok(_) => {}
                Err(err) => {
                    keep_stderr(&e, err.to_string().as_bytes());
                    break;
                }
            }
        }
    });
    let ticker = {
        let p = file_progress.clone();
        tokio::spawn(async move {
            loop {
                progress(p.file_bytes());
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    };
    let fed = feed(counter, &mut input).await;
    let _ = input.shutdown().await;
    drop(input);
    let _ = drain.await;
    ticker.abort();
    let code = exit_code(docker, db, &id).await?;
    let stderr = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Err(e) = fed {
        // The stream failed (a damaged file); psql saw a cut-off script and rolled back.
        return Err(match keepsake_dump::DumpError::from_io(&e) {
            Some(_) => DbError::Mismatch(format!("the dump could not be read to its end: {e}")),
            None => docker_err(db, format!("feeding psql failed: {e}; psql said: {stderr}")),
        });
    }
    if code != 0 {
        return Err(DbError::Command { command: "psql --single-transaction (the restore)".into(), code, stderr });
    }
    let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(counts)
}

/// Copies the dump into psql's stdin (slowly, under the `slow_restore` test fault).
async fn feed(mut from: impl AsyncRead + Unpin, to: &mut (impl tokio::io::AsyncWrite + Unpin)) -> std::io::Result<u64> {
    tokio::io::copy(&mut from, to).await
}

/// Counts the rows of `tables` in `database`.
pub async fn count_rows(
    docker: &Docker,
    db: &DatabaseTarget,
    database: &str,
    tables: &[String],
) -> Result<Vec<TableRows>, DbError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    // One statement for all tables: `SELECT 'name', count(*) FROM t UNION ALL ...`. The names come
    // from the dump's own COPY lines, already quoted as PostgreSQL needs.
    let sql = tables
        .iter()
        .map(|t| format!("SELECT {}, count(*) FROM {t}", literal(t)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let out = psql(docker, db, database, &sql).await?;
    Ok(out
        .lines()
        .filter_map(|l| l.rsplit_once('|'))
        .map(|(t, n)| TableRows { table: t.to_owned(), rows: n.parse().unwrap_or(0) })
        .collect())
}

/// Loads and checks: every table's row count must equal the rows its COPY carried.
pub fn check_counts(expected: &BTreeMap<String, u64>, found: &[TableRows]) -> Result<(), DbError> {
    let found: BTreeMap<&str, u64> = found.iter().map(|t| (t.table.as_str(), t.rows)).collect();
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(t, n)| found.get(t.as_str()) != Some(n))
        .map(|(t, n)| format!("{t} has {} rows, the dump has {n}", found.get(t.as_str()).copied().unwrap_or(0)))
        .collect();
    if wrong.is_empty() { Ok(()) } else { Err(DbError::Mismatch(wrong.join("; "))) }
}

/// Puts `restored` in place of the live database in one transaction (renames are transactional
/// in PostgreSQL); the live one becomes `old`. Connections to both are ended first: Immich's
/// server is stopped, but a stray client must not block the rename.
pub async fn swap(docker: &Docker, db: &DatabaseTarget, restored: &str, old: &str) -> Result<(), DbError> {
    let live = &db.database;
    let sql = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ({}, {}) AND pid <> pg_backend_pid(); \
         BEGIN; ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} RENAME TO {}; COMMIT;",
        literal(live),
        literal(restored),
        ident(live),
        ident(old),
        ident(restored),
        ident(live)
    );
    let cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", &db.user, "-d", "postgres"];
    let out = exec_capture(docker, db, &cmd, Some(sql.into_bytes())).await?;
    if out.code != 0 {
        return Err(DbError::Command { command: "the database swap".into(), code: out.code, stderr: out.stderr });
    }
    Ok(())
}

/// A PostgreSQL identifier, quoted.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A PostgreSQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_count_checks() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        let expected = BTreeMap::from([("public.asset".to_owned(), 3), ("public.\"user\"".to_owned(), 1)]);
        let found = vec![
            TableRows { table: "public.asset".into(), rows: 3 },
            TableRows { table: "public.\"user\"".into(), rows: 1 },
        ];
        check_counts(&expected, &found).unwrap();
        let short = vec![TableRows { table: "public.asset".into(), rows: 2 }];
        let err = check_counts(&expected, &short).unwrap_err().to_string();
        assert!(err.contains("public.asset has 2 rows, the dump has 3") && err.contains("\"user\" has 0"), "{err}");
    }
}
