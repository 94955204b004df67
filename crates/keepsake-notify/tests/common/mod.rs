//! Real servers for the integration tests: aiosmtpd (`smtp_server.py`) as a child process, a
//! throwaway certificate authority, and an HTTP receiver on loopback that records what it gets
//! and answers as told. Every server listens on a port the kernel picked; every child process is
//! killed when its handle drops (and exits by itself when its stdin closes).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use keepsake_api::Severity;
use keepsake_notify::{Link, Message, MessageKind, Section, Sender, SenderOptions};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tempfile::TempDir;

/// A message with every part set, and values that must be escaped.
pub fn message(key: &str) -> Message {
    Message {
        key: key.to_owned(),
        kind: MessageKind::Firing,
        severity: Severity::Critical,
        title: "Pool tank has checksum errors".to_owned(),
        what_happened: "The drive WD-1234 returned damaged data 3 times.\n\nZFS repaired it from the other copy."
            .to_owned(),
        what_it_means: "Your photos are safe for now, but the drive may be failing.".to_owned(),
        what_to_do: "Order a replacement drive & keep the box on.".to_owned(),
        link: Some(Link {
            label: "How to replace a drive".to_owned(),
            url: "https://keepsake.local/help/replace-drive?from=alert&id=7".to_owned(),
        }),
        facts: vec![
            ("Pool".to_owned(), "tank".to_owned()),
            ("Device".to_owned(), "ata-WDC <sda> \"quoted\"".to_owned()),
            ("Errors".to_owned(), "3".to_owned()),
        ],
        sections: vec![Section { heading: "Drives".to_owned(), lines: vec!["sda: 3 errors".to_owned()] }],
        rule: "zfs.checksum_errors".to_owned(),
        subject: "tank".to_owned(),
        at: Utc.with_ymd_and_hms(2026, 12, 3, 15, 4, 5).single().expect("date"),
    }
}

pub fn sender(timeout: Duration) -> Sender {
    Sender::new(SenderOptions { timeout, user_agent: "Keepsake-test/1".to_owned() }).expect("sender")
}

/// A throwaway CA and a server certificate it signed (by default for localhost and 127.0.0.1).
pub struct TestCa {
    pub ca_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    _dir: TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        TestCa::for_names(&["localhost", "127.0.0.1"])
    }

    pub fn for_names(names: &[&str]) -> TestCa {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let ca_name = format!("Keepsake test CA {}", NEXT.fetch_add(1, Ordering::Relaxed));
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = params.signed_by(&key, &issuer).expect("cert");

        let cert_path = dir.path().join("server.pem");
        let key_path = dir.path().join("server.key");
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        TestCa { ca_pem: ca_cert.pem(), cert_path, key_path, _dir: dir }
    }
}

const PYTHON: &str = "/usr/bin/python3";

/// aiosmtpd in a child process.
pub struct SmtpServer {
    pub port: u16,
    pub dir: TempDir,
    child: Child,
    stdin: Option<ChildStdin>,
}

pub struct SmtpMode<'a> {
    pub security: &'a str,
    pub ca: Option<&'a TestCa>,
    pub auth: Option<&'a str>,
    pub reject_rcpt: Option<&'a str>,
    pub reject_data: Option<&'a str>,
}

impl Default for SmtpMode<'_> {
    fn default() -> Self {
        SmtpMode { security: "plain", ca: None, auth: None, reject_rcpt: None, reject_data: None }
    }
}

impl SmtpServer {
    pub fn start(mode: SmtpMode<'_>) -> SmtpServer {
        let check = Command::new(PYTHON).args(["-c", "import aiosmtpd"]).output();
        match check {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "{PYTHON} cannot import aiosmtpd: the SMTP tests need Debian's python3-aiosmtpd. Run \
                 tests/install-deps.sh (or apt-get install python3-aiosmtpd)."
            ),
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut command = Command::new(PYTHON);
        command.arg(&script).arg("--dir").arg(dir.path()).args(["--security", mode.security]);
        if let Some(ca) = mode.ca {
            command.arg("--cert").arg(&ca.cert_path).arg("--key").arg(&ca.key_path);
        }
        if let Some(auth) = mode.auth {
            command.args(["--auth", auth]);
        }
        if let Some(reply) = mode.reject_rcpt {
            command.args(["--reject-rcpt", reply]);
        }
        if let Some(reply) = mode.reject_data {
            command.args(["--reject-data", reply]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp_server.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read port");
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp_server.py did not start (said {line:?}); see its stderr above"));
        SmtpServer { port, dir, child, stdin }
    }

    /// The messages received so far: the raw message and its metadata, oldest first.
    pub fn messages(&self) -> Vec<(String, serde_json::Value)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let raw = std::fs::read_to_string(&eml).expect("read eml");
                let meta = std::fs::read_to_string(eml.with_extension("json")).expect("read json");
                (raw, serde_json::from_str(&meta).expect("meta json"))
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// What the HTTP receiver answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: String::new() }
    }

    pub fn with_body(status: u16, body: &str) -> Reply {
        Reply { status, headers: vec![("content-type", "application/json".to_owned())], body: body.to_owned() }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and answers each with `reply`.
pub struct Receiver {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(reply: Reply) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let recorded = Arc::clone(&requests);
        let connections: Arc<AtomicUsize> = Arc::default();
        let accepted = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let recorded = Arc::clone(&recorded);
                let reply = reply.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let recorded = Arc::clone(&recorded);
                        let reply = reply.clone();
                        async move {
                            let method = req.method().to_string();
                            let path = req.uri().to_string();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())
                                })
                                .collect();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let body = String::from_utf8_lossy(&body).into_owned();
                            recorded.lock().expect("lock").push(Recorded { method, path, headers, body });
                            let mut response = Response::builder().status(reply.status);
                            for (name, value) in &reply.headers {
                                response = response.header(*name, value);
                            }
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(Bytes::from(reply.body.clone()))).expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { base, requests, connections, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The only request received.
    pub fn only(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:#?}");
        requests.into_iter().next().expect("one")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port that accepts connections (the kernel completes them) but never says anything.
pub fn silent_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}
