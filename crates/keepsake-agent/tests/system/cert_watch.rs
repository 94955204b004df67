//! The certificate watcher against a real Caddy (Debian's 2.6) serving `tls internal`, as the
//! appliance's Caddy does for immich.local: the leaf certificate its local authority issues is
//! published once with its real dates, and not again while it is unchanged. A closed port
//! publishes nothing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use keepsake_agent::events::{Consumer, Event, Events};
use keepsake_agent::host::cert_watch::{self, CertTarget, Checker, Validity};
use keepsake_agent::store::Store;

const CADDY: &str = "/usr/bin/caddy";
const HOST: &str = "immich.test";

/// A port on loopback that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Caddy serving `https://immich.test:<port>` on 127.0.0.1 with its internal authority, all its
/// state in a temporary folder; killed when dropped.
struct Caddy {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Caddy {
    fn start() -> Caddy {
        assert!(
            Path::new(CADDY).exists(),
            "{CADDY} is missing: run tests/install-deps.sh (it installs the lab's Debian package caddy)"
        );
        let dir = tempfile::Builder::new().prefix("keepsake-caddy-").tempdir().unwrap();
        let port = free_port();
        // Checked with `caddy validate` on Caddy 2.6.2: no admin endpoint (nothing to clash with
        // a parallel test), no :80 listener for redirects, no attempt to install the root into
        // the system trust store, and the certificates kept in the temporary folder. Caddy 2.6
        // knows no `persist_config`: its autosave goes to XDG_CONFIG_HOME, set below.
        let caddyfile = dir.path().join("Caddyfile");
        std::fs::write(
            &caddyfile,
            format!(
                "{{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n\tstorage file_system {data}\n}}\n\n\
                 https://{HOST}:{port} {{\n\tbind 127.0.0.1\n\ttls internal\n\trespond \"ok\" 200\n}}\n",
                data = dir.path().join("data").display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
        let child = Command::new(CADDY)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&caddyfile)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start caddy");
        Caddy { child, dir, port }
    }

    fn target(&self) -> CertTarget {
        CertTarget { server_name: HOST.into(), address: format!("127.0.0.1:{}", self.port) }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }

    /// Where Caddy stored the leaf certificate it issued.
    fn stored_certificate(&self) -> PathBuf {
        self.dir.path().join(format!("data/certificates/local/{HOST}/{HOST}.crt"))
    }

    /// Waits until Caddy completes TLS handshakes for the site (it obtains the certificate from
    /// its own authority after it starts listening), and returns what it served.
    async fn ready(&mut self) -> Validity {
        let checker = Checker::new(Duration::from_secs(5)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let err = match checker.read(&self.target()).await {
                Ok(v) => return v,
                Err(e) => e,
            };
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("caddy exited with {status}; log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "caddy did not serve TLS within 30 s ({err}); log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every event in the outbox now, acknowledged.
fn drain(consumer: &mut Consumer) -> Vec<Event> {
    let delivered = consumer.pending(100).unwrap();
    for d in &delivered {
        consumer.ack(d.seq).unwrap();
    }
    delivered.into_iter().map(|d| d.event).collect()
}

/// The first events to reach the outbox within 30 s.
async fn first_events(consumer: &mut Consumer) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = drain(consumer);
        if !got.is_empty() {
            return got;
        }
        assert!(Instant::now() < deadline, "the watcher published nothing within 30 s");
        let _ = tokio::time::timeout(Duration::from_millis(500), consumer.wait()).await;
    }
}

#[tokio::test]
async fn caddys_internal_certificate_is_published_once_with_its_real_dates() {
    let mut caddy = Caddy::start();
    let served = caddy.ready().await;

    let dir = tempfile::tempdir().unwrap();
    let events = Events::new(Arc::new(Store::open(dir.path()).unwrap()));
    let mut consumer = events.consumer("test.cert_watch").unwrap();
    let period = Duration::from_millis(300);
    let watcher = tokio::spawn(cert_watch::run(events.clone(), vec![caddy.target()], period, Duration::from_secs(10)));

    let got = first_events(&mut consumer).await;
    let [Event::CertificateExpiry { host, not_before, not_after }] = &got[..] else {
        panic!("expected one CertificateExpiry: {got:#?}")
    };
    assert_eq!(host, HOST);
    assert_eq!(Validity { not_before: *not_before, not_after: *not_after }, served);
    // Caddy's internal authority issues leaves for 12 hours; allow for another default.
    let lifetime = *not_after - *not_before;
    assert!(lifetime >= TimeDelta::hours(1) && lifetime <= TimeDelta::days(7), "lifetime {lifetime}: {got:?}");
    let now = Utc::now();
    assert!(*not_before <= now && now < *not_after, "now ({now}) is outside the validity: {got:?}");
    // The very certificate Caddy issued and stored, not some other.
    let pem = std::fs::read(caddy.stored_certificate()).unwrap();
    let (_, stored) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    assert_eq!(cert_watch::validity(&stored.contents).unwrap(), served);
    let issuer = stored.parse_x509().unwrap().issuer().to_string();
    assert!(issuer.contains("Caddy Local Authority"), "issued by {issuer}");

    // Several more periods: the same certificate, nothing new.
    tokio::time::sleep(period * 5).await;
    let more = drain(&mut consumer);
    assert!(more.is_empty(), "unchanged dates were published again: {more:#?}");
    assert!(!watcher.is_finished(), "the watcher stopped");
    watcher.abort();
}

#[tokio::test]
async fn a_closed_port_publishes_nothing_and_the_watcher_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let events = Events::new(Arc::new(Store::open(dir.path()).unwrap()));
    let mut consumer = events.consumer("test.cert_watch").unwrap();
    let closed = CertTarget { server_name: HOST.into(), address: format!("127.0.0.1:{}", free_port()) };
    let watcher =
        tokio::spawn(cert_watch::run(events.clone(), vec![closed], Duration::from_millis(100), Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!watcher.is_finished(), "the watcher stopped (or panicked)");
    let got = drain(&mut consumer);
    assert!(got.is_empty(), "published for a closed port: {got:#?}");
    watcher.abort();
}
