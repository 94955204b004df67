//! Starting and stopping the real binaries, and reaching the lab's components.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keepsake_api::{Client, Job, JobState};

/// The value of a lab component's environment variable, or a failure naming the component.
pub fn lab(var: &str, component: &str) -> String {
    if let Ok(v) = std::env::var(var) {
        return v;
    }
    // Fall back to the file lab.sh writes, so a developer can run `cargo test` after `lab.sh start`.
    let env_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/.lab/env");
    if let Ok(text) = std::fs::read_to_string(&env_file) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(&format!("export {var}=")) {
                return rest.trim_matches('\'').trim_matches('"').to_owned();
            }
        }
    }
    panic!("lab component `{component}` is not started ({var} is not set): run `tests/lab/lab.sh start {component}`");
}

pub fn bin(name: &str) -> PathBuf {
    let agent = PathBuf::from(env!("CARGO_BIN_EXE_keepsake-agent"));
    let p = agent.parent().expect("binary has a folder").join(name);
    assert!(p.exists(), "{} is not built: run `cargo build --workspace --bins` first", p.display());
    p
}

/// A temporary folder others can traverse (the socket test runs clients as other uids).
pub fn open_tempdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("keepsake-sys-").tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

#[derive(Clone, Debug)]
pub struct AgentOpts {
    pub web_uid: u32,
    pub socket_gid: u32,
    pub docker_host: String,
    pub systemd_bus: String,
    pub probe_timeout_secs: u64,
    /// More arguments for the agent (e.g. `--notify-retry-secs 1`).
    pub extra_args: Vec<String>,
    /// More environment variables for the agent.
    pub env: Vec<(String, String)>,
}

impl Default for AgentOpts {
    fn default() -> Self {
        AgentOpts {
            web_uid: 4243,
            socket_gid: 4242,
            docker_host: "unix:///nonexistent/docker.sock".into(),
            systemd_bus: "unix:path=/nonexistent/bus".into(),
            probe_timeout_secs: 10,
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

impl AgentOpts {
    /// Options that point at the lab's real Docker engine and systemd.
    pub fn with_lab() -> AgentOpts {
        AgentOpts {
            docker_host: lab("KEEPSAKE_LAB_DOCKER_HOST", "docker"),
            systemd_bus: lab("KEEPSAKE_LAB_SYSTEMD_BUS", "systemd"),
            ..AgentOpts::default()
        }
    }
}

/// A running agent process; killed when dropped.
pub struct Agent {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
    pub opts: AgentOpts,
    child: Option<Child>,
}

impl Agent {
    /// Starts an agent with its state in `dir` and waits until it answers.
    pub async fn start(dir: &Path, opts: AgentOpts) -> Agent {
        let socket = dir.join("agent.sock");
        let state_dir = dir.join("state");
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut a = Agent { dir: dir.to_owned(), socket, state_dir, data_dir, opts, child: None };
        a.spawn().await;
        a
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("agent.log")).unwrap();
        let child = Command::new(bin("keepsake-agent"))
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--web-user", &self.opts.web_uid.to_string()])
            .args(["--socket-group", &self.opts.socket_gid.to_string()])
            .args(["--docker-host", &self.opts.docker_host])
            .args(["--systemd-bus", &self.opts.systemd_bus])
            .args(["--probe-timeout", &self.opts.probe_timeout_secs.to_string()])
            // Whatever listens on this machine's port 443 is not the test's business.
            .args(["--certificate-check", "none"])
            .args(&self.opts.extra_args)
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .env("KEEPSAKE_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start keepsake-agent");
        self.child = Some(child);
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client.health().await.is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("keepsake-agent exited with {status} before answering; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "keepsake-agent did not answer within 30 s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.socket)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: the agent gets no chance to clean up, as in a crash or power cut.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill").args(["-TERM", &c.id().to_string()]).status().unwrap();
        c.wait().unwrap()
    }

    /// Waits for the agent to exit on its own (a fault injected by the test); returns its status.
    pub async fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.as_mut().expect("running").try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit within {secs} s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the agent first");
        self.spawn().await;
    }

    /// Runs the `keepsake` CLI against this agent, optionally as another uid/gid (via setpriv).
    pub fn cli(&self, as_ids: Option<(u32, u32, &[u32])>, args: &[&str]) -> std::process::Output {
        let keepsake = bin("keepsake");
        let mut cmd = match as_ids {
            None => Command::new(&keepsake),
            Some((uid, gid, groups)) => {
                let mut c = Command::new("setpriv");
                let groups = groups.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                c.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}"));
                if groups.is_empty() {
                    c.arg("--clear-groups");
                } else {
                    c.arg(format!("--groups={groups}"));
                }
                c.arg(&keepsake);
                c
            }
        };
        cmd.arg("--socket").arg(&self.socket).args(args).stdin(Stdio::null()).output().expect("run keepsake")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Unix socket that accepts connections and never answers: a hung Docker engine.
pub struct StalledSocket {
    pub path: PathBuf,
    _listener: std::os::unix::net::UnixListener,
    _keep: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
}

impl StalledSocket {
    pub fn new(dir: &Path) -> StalledSocket {
        let path = dir.join("stalled-docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let keep = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l2 = listener.try_clone().unwrap();
        let k2 = keep.clone();
        std::thread::spawn(move || {
            for s in l2.incoming().flatten() {
                k2.lock().unwrap().push(s);
            }
        });
        StalledSocket { path, _listener: listener, _keep: keep }
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

/// Polls a job until `pred` holds, or fails after `secs`.
pub async fn wait_job(client: &Client, id: i64, secs: u64, what: &str, pred: impl Fn(&Job) -> bool) -> Job {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let j = client.job(id).await.expect("read job");
        if pred(&j) {
            return j;
        }
        assert!(Instant::now() < deadline, "job {id} did not become {what} within {secs} s: {j:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_state(client: &Client, id: i64, secs: u64, state: JobState) -> Job {
    wait_job(client, id, secs, state.as_str(), |j| j.state == state).await
}

/// A running web server; killed when dropped.
pub struct Web {
    pub addr: std::net::SocketAddr,
    child: Child,
    pub log_path: PathBuf,
}

impl Web {
    /// Starts keepsake-web for `agent`, optionally as another uid/gid via setpriv.
    pub async fn start(dir: &Path, socket: &Path, as_ids: Option<(u32, u32, u32)>) -> Web {
        Web::start_with(dir, socket, as_ids, &[]).await
    }

    /// [`Web::start`] with further command-line arguments (timeouts, limits, allowed names).
    pub async fn start_with(dir: &Path, socket: &Path, as_ids: Option<(u32, u32, u32)>, extra: &[&str]) -> Web {
        let port = free_port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log_path = dir.join(format!("web-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let web = bin("keepsake-web");
        let mut cmd = match as_ids {
            None => Command::new(&web),
            Some((uid, gid, group)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg(format!("--groups={group}"))
                    .arg("--inh-caps=-all")
                    .arg("--bounding-set=-all")
                    .arg("--no-new-privs")
                    .arg(&web);
                c
            }
        };
        let child = cmd
            .args(["--listen", &addr.to_string()])
            .arg("--agent-socket")
            .arg(socket)
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start keepsake-web");
        let mut w = Web { addr, child, log_path };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(addr).is_ok() {
                return w;
            }
            if let Some(s) = w.child.try_wait().unwrap() {
                panic!(
                    "keepsake-web exited with {s}; log:\n{}",
                    std::fs::read_to_string(&w.log_path).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "keepsake-web did not listen within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 client over TCP, for talking to keepsake-web as a browser would.
pub mod http {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;

    pub type Resp = (u16, Vec<(String, String)>, Bytes);

    pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut req = ::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = client.request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap()).await.expect("request");
        let status = resp.status().as_u16();
        let hs =
            resp.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, hs, body)
    }

    pub async fn get(url: &str) -> Resp {
        request("GET", url, &[], "").await
    }

    pub fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
        r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The `keepsake_session=…` pair from a response's Set-Cookie, for the next requests.
    pub fn session_cookie(r: &Resp) -> Option<String> {
        r.1.iter()
            .filter(|(k, _)| k == "set-cookie")
            .find_map(|(_, v)| v.split(';').next().filter(|p| p.starts_with("keepsake_session=") && p.len() > 17))
            .map(str::to_owned)
    }

    pub fn json(r: &Resp) -> serde_json::Value {
        serde_json::from_slice(&r.2).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.2)))
    }
}

/// A browser-like client of keepsake-web: same-origin headers and a session cookie.
pub struct Browser {
    pub base: String,
    pub host: String,
    pub cookie: Option<String>,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl Browser {
    pub fn new(web: &Web) -> Browser {
        Browser { base: format!("http://{}", web.addr), host: web.addr.to_string(), cookie: None }
    }

    pub async fn call(&mut self, method: &str, path: &str, body: Option<serde_json::Value>) -> http::Resp {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.call_raw(method, path, &body).await
    }

    /// Like `call`, with the body sent exactly as given (for malformed input).
    pub async fn call_raw(&mut self, method: &str, path: &str, body: &str) -> http::Resp {
        let origin = self.base.clone();
        let cookie = self.cookie.clone().unwrap_or_default();
        let mut headers: Vec<(&str, &str)> =
            vec![("host", &self.host), ("origin", &origin), ("content-type", "application/json")];
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        let r = http::request(method, &format!("{}{path}", self.base), &headers, body).await;
        if let Some(c) = http::session_cookie(&r) {
            self.cookie = Some(c);
        }
        r
    }

    /// First-run setup of the owner `name`; leaves this browser signed in.
    pub async fn setup_owner(&mut self, name: &str) -> serde_json::Value {
        let r = self
            .call("POST", "/api/v1/auth/setup", Some(serde_json::json!({"name": name, "password": PASSWORD})))
            .await;
        assert_eq!(r.0, 201, "setup failed: {}", String::from_utf8_lossy(&r.2));
        assert!(self.cookie.is_some(), "setup set no session cookie");
        http::json(&r)
    }

    pub async fn login(&mut self, name: &str, password: &str) -> http::Resp {
        self.call("POST", "/api/v1/auth/login", Some(serde_json::json!({"name": name, "password": password}))).await
    }
}

/// An agent (run as if the web server were root, as `install.sh --local` does) and a web server in
/// front of it, in a fresh folder: the stack a browser talks to.
pub async fn stack() -> (tempfile::TempDir, Agent, Web) {
    let dir = open_tempdir();
    let opts = AgentOpts { web_uid: 0, socket_gid: 0, ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts).await;
    let web = Web::start(dir.path(), &agent.socket, None).await;
    (dir, agent, web)
}

impl Browser {
    /// Creates an account as this (signed-in) browser; returns its `UserInfo` as JSON.
    pub async fn create_user(&mut self, name: &str, role: &str) -> serde_json::Value {
        let r = self
            .call("POST", "/api/v1/users", Some(serde_json::json!({"name": name, "password": PASSWORD, "role": role})))
            .await;
        assert_eq!(r.0, 201, "creating {name}: {}", String::from_utf8_lossy(&r.2));
        http::json(&r)
    }
}

/// Runs `sql` on the database with the sqlite3 command (a second, independent reader).
pub fn sqlite(db: &Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 is installed (tests/install-deps.sh)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The newest audit row: (action, outcome, actor).
pub fn last_audit(agent: &Agent) -> (String, String, String) {
    let row = sqlite(
        &agent.state_dir.join("keepsake.db"),
        "SELECT action, outcome, actor FROM audit_log ORDER BY id DESC LIMIT 1",
    );
    let mut f = row.trim_end().splitn(3, '|').map(str::to_owned);
    (f.next().unwrap_or_default(), f.next().unwrap_or_default(), f.next().unwrap_or_default())
}

/// A real SMTP server (Debian's aiosmtpd, through the lab's `smtp_sink.py`) on a loopback port of
/// its own, which the test can stop and start again: every message lands in `dir` as a `.eml` file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl SmtpSink {
    pub fn new(dir: &Path) -> SmtpSink {
        let dir = dir.join("mail");
        std::fs::create_dir_all(&dir).unwrap();
        SmtpSink { port: free_port(), dir, child: None }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lab/smtp_sink.py");
        let child = Command::new("/usr/bin/python3")
            .arg(script)
            .args(["--listen", &format!("127.0.0.1:{}", self.port), "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start /usr/bin/python3 tests/lab/smtp_sink.py");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                let _ = self.child.take().unwrap().stderr.unwrap().read_to_string(&mut err);
                panic!(
                    "the SMTP sink exited with {status} (is python3-aiosmtpd installed? run tests/install-deps.sh): {err}"
                );
            }
            assert!(Instant::now() < deadline, "the SMTP sink did not listen on port {} within 20 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The messages received so far, oldest first, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, secs: u64, what: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(Instant::now() < deadline, "{what}: {} of {n} messages arrived within {secs} s", m.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One header of a raw message as sent (unfolded), if present.
pub fn header(message: &str, name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(message.as_bytes())?;
    m.header_raw(name).map(|v| v.replace("\r\n", "").trim().to_owned())
}

/// A webhook receiver on loopback: records every request (method, path, headers, body) and
/// answers 200.
pub struct WebhookSink {
    pub port: u16,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl WebhookSink {
    pub async fn start() -> WebhookSink {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let record = std::sync::Arc::clone(&record);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let record = std::sync::Arc::clone(&record);
                        async move {
                            let (parts, body) = req.into_parts();
                            let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            record.lock().unwrap().push(Recorded {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                                    .collect(),
                                body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
                            });
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from_static(b"{}"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        WebhookSink { port, seen, task }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
