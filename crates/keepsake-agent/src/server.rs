//! The agent's only door: an HTTP server on a Unix socket that checks who is knocking.
//!
//! The socket is created with mode 0660 and the configured group, atomically (bound under a
//! temporary name, permissions set, then renamed into place) so it is never reachable with looser
//! permissions. Each connection's peer credentials (SO_PEERCRED) are read by the kernel, not claimed
//! by the client; the dispatcher serves only root and the web server's user. Anyone else gets a 403 saying so
//! (and, for a mutating request, an audit row naming the uid).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tower_service::Service;
use warp::Filter;

use crate::Agent;
use crate::api::{Peer, Request, Router};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("another keepsake-agent is already listening on {0}; stop it first")]
    InUse(PathBuf),
    #[error("cannot create the agent socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
}

/// Creates the listening socket at `path`, mode 0660, group `gid` (if given).
pub fn bind(path: &Path, gid: Option<u32>) -> Result<UnixListener, ServerError> {
    let err = |source| ServerError::Bind { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::InUse(path.to_owned()));
        }
        // A socket left by an agent that died: nobody answers on it.
        std::fs::remove_file(path).map_err(err)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(err)?;
    let finish = || -> io::Result<()> {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o660))?;
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&tmp, None, Some(gid))?;
        }
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(listener)
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(listener: UnixListener, agent: Arc<Agent>, shutdown: impl std::future::Future<Output = ()>) {
    let router = Arc::new(Router::new());
    let filter = {
        let agent = Arc::clone(&agent);
        warp::method()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::ext::get::<Peer>())
            .and(warp::body::stream())
            .then(
                move |method, path: warp::path::FullPath, query: String, headers: http::HeaderMap, peer: Peer, body| {
                    let agent = Arc::clone(&agent);
                    let router = Arc::clone(&router);
                    async move {
                        // Read (bounded) before dispatch, but let the dispatcher answer a failed
                        // read, so that it is audited like any other refusal.
                        let body = keepsake_api::body::collect_limited(body, crate::api::MAX_BODY).await;
                        let req = Request { method, path: path.as_str(), query: &query, headers: &headers, peer, body };
                        router.dispatch(agent, req).await
                    }
                },
            )
    };
    let service = warp::service(filter);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let peer = match stream.peer_cred() {
            Ok(c) => Peer { uid: c.uid(), gid: c.gid(), pid: c.pid() },
            Err(e) => {
                tracing::warn!(error = %e, "cannot read peer credentials; closing connection");
                continue;
            }
        };
        // Every peer reaches the dispatcher, which refuses (and audits) the ones not allowed.
        let svc = service.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let handler = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                req.extensions_mut().insert(peer);
                svc.clone().call(req)
            });
            if let Err(e) = http1::Builder::new().serve_connection(io, handler).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
