//! Server-sent event streams of job changes.
//!
//! Each stream is fed by a small task that forwards broadcast events into a channel; the task ends
//! when the client goes away (the channel closes) or, for one job, after its terminal state.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use keepsake_api::{Job, LogLine, event};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use warp::Reply;
use warp::reply::Response;
use warp::sse::Event;

use crate::jobs::JobEvent;
use crate::store::Store;

fn job_event(job: &Job) -> Event {
    Event::default().event(event::JOB).id(job.id.to_string()).json_data(job).unwrap_or_else(|_| Event::default())
}

fn log_event(line: &LogLine) -> Event {
    Event::default().event(event::LOG).json_data(line).unwrap_or_else(|_| Event::default())
}

fn reply(rx: mpsc::Receiver<Result<Event, Infallible>>) -> Response {
    let stream = warp::sse::keep_alive().interval(Duration::from_secs(15)).stream(ReceiverStream::new(rx));
    let mut resp = warp::sse::reply(stream).into_response();
    // Proxies (Caddy, keepsake-web) must pass events through as they come.
    resp.headers_mut().insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    resp
}

/// A container's live log: a `line` event per line, until the container stops or the client goes.
pub fn container_log_stream(
    mut lines: futures_util::stream::BoxStream<
        'static,
        Result<keepsake_api::ContainerLogLine, crate::stack::EngineError>,
    >,
) -> Response {
    use futures_util::StreamExt;
    let (tx, out) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                l = lines.next() => l,
                _ = tx.closed() => return,
            };
            let Some(Ok(line)) = next else { return };
            let ev =
                Event::default().event(keepsake_api::event::LINE).json_data(&line).unwrap_or_else(|_| Event::default());
            if tx.send(Ok(ev)).await.is_err() {
                return;
            }
        }
    });
    reply(out)
}

/// One job: its snapshot and log so far, then every change, ending after the terminal state.
pub fn job_stream(store: Arc<Store>, mut rx: broadcast::Receiver<JobEvent>, job: Job, log: Vec<LogLine>) -> Response {
    let (tx, out) = mpsc::channel(64);
    tokio::spawn(async move {
        let id = job.id;
        let mut last_seq = log.last().map(|l| l.seq).unwrap_or(0);
        let mut items = vec![job_event(&job)];
        items.extend(log.iter().map(log_event));
        for e in items {
            if tx.send(Ok(e)).await.is_err() {
                return;
            }
        }
        if job.state.is_terminal() {
            return;
        }
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = tx.closed() => return,
            };
            let mut out_events = Vec::new();
            let mut done = false;
            match ev {
                Ok(JobEvent::Updated(j)) if j.id == id => {
                    done = j.state.is_terminal();
                    out_events.push(job_event(&j));
                }
                Ok(JobEvent::Log(l)) if l.job_id == id && l.seq > last_seq => {
                    last_seq = l.seq;
                    out_events.push(log_event(&l));
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // We missed events: catch up from the database, which has them all.
                    if let Ok(lines) = store.job_log(id) {
                        let newer: Vec<LogLine> = lines.into_iter().filter(|l| l.seq > last_seq).collect();
                        for l in newer {
                            last_seq = l.seq;
                            out_events.push(log_event(&l));
                        }
                    }
                    if let Ok(Some(j)) = store.job(id) {
                        done = j.state.is_terminal();
                        out_events.push(job_event(&j));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
            for e in out_events {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    });
    reply(out)
}

/// Every job: the active ones first, then every change of any job.
pub fn all_jobs_stream(mut rx: broadcast::Receiver<JobEvent>, active: Vec<Job>) -> Response {
    let (tx, out) = mpsc::channel(64);
    tokio::spawn(async move {
        for j in &active {
            if tx.send(Ok(job_event(j))).await.is_err() {
                return;
            }
        }
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = tx.closed() => return,
            };
            match ev {
                Ok(JobEvent::Updated(j)) => {
                    if tx.send(Ok(job_event(&j))).await.is_err() {
                        return;
                    }
                }
                Ok(JobEvent::Log(_)) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    reply(out)
}
