//! Against the real PostgreSQL 15 of the test lab: pg_dump's output through `write_compressed`,
//! `verify`, then `restore_stream` into `psql --single-transaction --set ON_ERROR_STOP=on` in a
//! fresh database, row for row; and the failures: a corrupt file stops at `verify`, a bad SQL line
//! fails the restore and leaves the target as it was.
//!
//! Needs `tests/lab/lab.sh start postgres`; fails (never skips) and names it otherwise. Other
//! sessions share that server: every database here has a unique name and is dropped afterwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::Utc;
use keepsake_dump::{
    Compression, DumpError, DumpName, PartInfo, SEARCH_PATH_FIXED, SEARCH_PATH_LINE, WriteOptions, restore_stream,
    verify, write_compressed,
};
use tokio::io::AsyncWriteExt;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The lab server's URL, from the environment or `tests/.lab/env`, or a failure saying what to run.
fn lab_url() -> String {
    const VAR: &str = "KEEPSAKE_LAB_PG_URL";
    if let Ok(v) = std::env::var(VAR) {
        return v;
    }
    if let Ok(text) = std::fs::read_to_string(repo().join("tests/.lab/env")) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(&format!("export {VAR}=")) {
                return rest.trim_matches('\'').trim_matches('"').to_owned();
            }
        }
    }
    panic!("lab component `postgres` is not started ({VAR} is not set): run `tests/lab/lab.sh start postgres`");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A database of its own on the lab server, dropped when this is dropped.
struct Db {
    name: String,
    url: String,
    admin: String,
}

impl Db {
    fn create(tag: &str) -> Db {
        let admin = lab_url();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("keepsake_dump_{tag}_{}_{nanos}", std::process::id());
        let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
        let db = Db { url: format!("{base}/{name}"), name, admin };
        psql(&db.admin, &format!("CREATE DATABASE {}", db.name));
        db
    }

    fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }

    /// Every table's rows in a stable order, as COPY text: what must survive a restore exactly.
    fn contents(&self) -> String {
        let tables =
            self.sql("SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'");
        let mut out = String::new();
        for t in tables.split_whitespace() {
            out += &format!("== {t}\n");
            out += &self.sql(&format!("COPY (SELECT * FROM {t} ORDER BY {t}::text) TO STDOUT"));
        }
        out
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = Command::new(format!("{PG_BIN}/psql"))
            .args(["-X", "-q", "-d", &self.admin, "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

fn psql(url: &str, sql: &str) -> String {
    run(Command::new(format!("{PG_BIN}/psql")).args([
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        url,
        "-c",
        sql,
    ]))
}

/// Immich-like tables, with what a dump must carry intact: every byte value in a bytea, text with
/// newlines, tabs and backslashes, the search_path line inside a string and as a whole row of a
/// one-column table, and an index on a function that only finds its table through search_path
/// (as Immich's do), so a restore without the fix fails.
const SCHEMA: &str = r#"
CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL UNIQUE, avatar bytea);
CREATE TABLE assets (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    original_path text NOT NULL,
    file_created_at timestamptz NOT NULL,
    checksum bytea NOT NULL,
    exif jsonb,
    description text
);
CREATE TABLE notes (body text);
CREATE FUNCTION owner_email(u uuid) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT email FROM users WHERE id = u $$;
CREATE INDEX assets_owner_email ON assets (owner_email(owner_id));
CREATE INDEX assets_created ON assets (file_created_at);
INSERT INTO users VALUES
    ('00000000-0000-0000-0000-000000000001', 'alice@example.org',
     (SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), ''), 'hex') FROM generate_series(0, 255) i)),
    ('00000000-0000-0000-0000-000000000002', 'bob@example.org', NULL);
INSERT INTO assets
SELECT md5('asset' || i)::uuid,
       ('00000000-0000-0000-0000-00000000000' || (1 + i % 2))::uuid,
       '/data/library/admin/2025/' || i || '/IMG_' || i || '.jpg',
       timestamptz '2025-01-01 00:00:00+00' + i * interval '37 minutes',
       sha256(int4send(i)),
       jsonb_build_object('make', 'Canon', 'iso', 100 + i % 3200, 'fNumber', 2.8, 'city', 'Zürich'),
       CASE WHEN i % 10 = 0 THEN E'line one\nSELECT pg_catalog.set_config(''search_path'', '''', false);\n\ttab\\backslash' END
FROM generate_series(1, 2000) i;
INSERT INTO notes VALUES
    ('SELECT pg_catalog.set_config(''search_path'', '''', false);'),
    (E'\\.'), ('COPY x FROM stdin;'), (''), (NULL);
"#;

/// pg_dump of `db` (as Immich runs it) into `dir` through `write_compressed`.
async fn dump(db: &Db, dir: &Path) -> (PathBuf, PartInfo) {
    let pg = db.sql("SHOW server_version");
    let name = DumpName::new(Utc::now(), Some("2.5.0"), pg.trim()).unwrap();
    assert_eq!(name.compression(), Compression::Zstd);
    let path = dir.join(name.as_str());
    let mut child = tokio::process::Command::new(format!("{PG_BIN}/pg_dump"))
        .args(["--clean", "--if-exists", "--dbname", &db.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("pg_dump");
    let stdout = child.stdout.take().unwrap();
    let info = write_compressed(stdout, &path, WriteOptions::default()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    (path, info)
}

/// Copies `sql` into `psql --single-transaction --set ON_ERROR_STOP=on` on `db`; psql's exit and stderr.
async fn restore_into(db: &Db, mut sql: impl tokio::io::AsyncRead + Unpin) -> (bool, String) {
    let mut child = tokio::process::Command::new(format!("{PG_BIN}/psql"))
        .args(["-X", "-q", "--single-transaction", "--set", "ON_ERROR_STOP=on", "--dbname", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("psql");
    let mut stdin = child.stdin.take().unwrap();
    // psql stops reading at the first error with ON_ERROR_STOP: a broken pipe is then expected.
    let copied = tokio::io::copy(&mut sql, &mut stdin).await;
    let _ = stdin.shutdown().await;
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    if out.status.success() {
        copied.expect("copying the dump into psql");
    }
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn pg_dump_round_trip_through_zstd_and_the_search_path_fix() {
    let src = Db::create("src");
    src.sql(SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let (path, info) = dump(&src, dir.path()).await;
    assert_eq!(info.size, std::fs::metadata(&path).unwrap().len());
    assert!(info.size * 3 < info.uncompressed_size, "{info:?}");
    verify(&path, info.size, &info.blake3_hex).await.unwrap();

    let dst = Db::create("dst");
    let stream = restore_stream(&path).await.unwrap();
    assert_eq!(stream.compression(), Compression::Zstd);
    let progress = stream.progress();
    let (ok, stderr) = restore_into(&dst, stream).await;
    assert!(ok, "restore failed: {stderr}");
    assert_eq!(dst.contents(), src.contents());
    assert!(src.contents().contains(SEARCH_PATH_LINE), "the line inside the data is kept");
    assert!(!dst.contents().contains(SEARCH_PATH_FIXED), "no data was rewritten");
    assert_eq!(dst.sql("SELECT owner_email('00000000-0000-0000-0000-000000000001')").trim(), "alice@example.org");
    let idx = dst.sql("SELECT count(*) FROM pg_indexes WHERE indexname IN ('assets_owner_email', 'assets_created')");
    assert_eq!(idx.trim(), "2");
    // Everything was read; the SQL grew by the rewritten line(s) only.
    assert_eq!(progress.file_bytes(), info.size);
    let grew = progress.sql_bytes() - info.uncompressed_size;
    let per_line = (SEARCH_PATH_FIXED.len() - SEARCH_PATH_LINE.len()) as u64;
    assert!(grew > 0 && grew % per_line == 0, "grew by {grew}");

    // The same SQL without the fix: the function-based index cannot find its table.
    let raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    let bare = Db::create("bare");
    let (ok, stderr) = restore_into(&bare, &raw[..]).await;
    assert!(!ok && stderr.contains("relation \"users\" does not exist"), "without the fix: {ok} {stderr}");
}

#[tokio::test]
async fn corrupt_files_fail_verify_and_bad_sql_leaves_the_target_unchanged() {
    let src = Db::create("src");
    src.sql(SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let (path, info) = dump(&src, dir.path()).await;

    // A flipped byte is caught by verify, before any restore starts.
    let flipped = dir.path().join("flipped.sql.zst");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&flipped, &bytes).unwrap();
    let err = verify(&flipped, info.size, &info.blake3_hex).await.unwrap_err();
    assert!(matches!(err, DumpError::Corrupt { .. }), "{err:?}");

    // A valid file whose SQL breaks near the end, after the tables were dropped and refilled.
    let mut sql = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    let end = String::from_utf8_lossy(&sql).rfind("-- PostgreSQL database dump complete").unwrap();
    sql.splice(end..end, b"THIS IS NOT SQL;\n".iter().copied());
    let bad = dir.path().join("bad.sql.zst");
    let bad_info = write_compressed(&sql[..], &bad, WriteOptions::default()).await.unwrap();
    verify(&bad, bad_info.size, &bad_info.blake3_hex).await.unwrap();

    // The target holds other rows in the same tables, plus a table of its own.
    let dst = Db::create("dst");
    dst.sql(SCHEMA);
    dst.sql("DELETE FROM assets; DELETE FROM notes; UPDATE users SET email = 'old-' || email; CREATE TABLE mine (a int, b text); INSERT INTO mine VALUES (1, 'kept')");
    let before = dst.contents();
    let (ok, stderr) = restore_into(&dst, restore_stream(&bad).await.unwrap()).await;
    assert!(!ok, "the bad line must fail the restore");
    assert!(stderr.contains("syntax error"), "{stderr}");
    assert_eq!(dst.contents(), before, "the target changed");
}
