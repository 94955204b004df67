//! Accepting connections: how many, from whom, and for how long a silent client is waited for.
//!
//! warp's own server has no timeouts and no limits, so a handful of slow-loris clients (a header
//! line every few seconds) could hold connections for ever. This loop serves the same warp filter
//! through hyper with:
//! - a header-read timeout: a request's head must arrive in full within it. hyper starts the same
//!   clock whenever a kept-alive connection waits for its next request, so it is the idle
//!   timeout too. It never runs while a response streams, so server-sent events live on;
//! - a cap per client address: a client already holding its share gets further connections closed
//!   at once. Waiting would let one client fill the queue ahead of everyone else; closing costs
//!   nothing and a browser needs far fewer (six per site, plus one per event stream);
//! - a cap on all connections: at the cap no more are accepted, and new clients wait in the
//!   kernel's listen queue. Waiting is right here because only many clients together reach this
//!   cap; the header timeout reaps idle and slow ones, so the wait is bounded by it, and nothing
//!   unaccepted reaches the agent, which keeps its work (argon2 sign-ins) bounded too.
//!
//! Trusted reverse proxies (Caddy) carry every browser's requests on their own connections, so the
//! per-client cap does not apply to them; Caddy limits its own clients.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use warp::Filter;

/// What warp's filters cannot tell about a request, put into it for `warp::ext`: the connection's
/// peer (warp's own `addr::remote()` only works with warp's server) and the authority of an
/// absolute request target (`GET http://name/ HTTP/1.1`), which names the host as `Host` does.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub target_authority: Option<http::uri::Authority>,
}

/// Connection limits; see the module documentation.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// How long to let open requests finish at shutdown before they are cut.
    pub shutdown_grace: Duration,
}

/// Serves `filter` on `listener` until `shutdown` resolves.
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: Limits,
    trusted_proxies: Vec<IpAddr>,
    shutdown: impl std::future::Future<Output = ()>,
) where
    F: Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(Mutex::new(HashMap::new()));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, most likely: pause rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let slot = if trusted_proxies.contains(&peer.ip().to_canonical()) {
            None
        } else {
            match ClientSlot::take(&clients, peer.ip(), limits.max_connections_per_client) {
                Some(s) => Some(s),
                None => {
                    tracing::debug!(%peer, "closed a connection: this client already holds its share");
                    continue;
                }
            }
        };
        let inner = TowerToHyperService::new(warp::service(filter.clone()));
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let target_authority = req.uri().authority().cloned();
            req.extensions_mut().insert(ConnInfo { peer, target_authority });
            inner.call(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(limits.shutdown_grace) => {
            // Event streams never end by themselves, and slow clients may be mid-request.
            tracing::info!("closed the connections still open {} s after shutdown began", limits.shutdown_grace.as_secs());
        }
    }
}

/// One of a client's connections, counted while it lives.
struct ClientSlot {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl ClientSlot {
    fn take(clients: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut map = clients.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(ClientSlot { clients: Arc::clone(clients), key })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Who counts as one client: an IPv4 address, or an IPv6 /64 (one network hands its hosts a whole
/// /64, so counting single IPv6 addresses would let one client take thousands of shares).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_capped_and_released() {
        let clients = Arc::new(Mutex::new(HashMap::new()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = ClientSlot::take(&clients, a, 2).unwrap();
        let _second = ClientSlot::take(&clients, a, 2).unwrap();
        assert!(ClientSlot::take(&clients, a, 2).is_none(), "a third is refused");
        assert!(ClientSlot::take(&clients, b, 2).is_some(), "another client is not affected");
        drop(first);
        assert!(ClientSlot::take(&clients, a, 2).is_some(), "a closed connection frees its share");
    }

    #[test]
    fn one_ipv6_network_is_one_client_and_mapped_ipv4_is_ipv4() {
        let x = client_key("2001:db8:1:2::1".parse().unwrap());
        assert_eq!(x, client_key("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_ne!(x, client_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
