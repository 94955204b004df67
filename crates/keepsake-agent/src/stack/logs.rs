//! A service's log: a page of lines (since, until, tail, streams, a text filter) and the live
//! follow behind the SSE route. Times go to the engine in whole seconds, widened to cover the
//! asked window, and the lines are then cut to it exactly, so a page boundary inside one second
//! neither repeats nor loses lines.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use keepsake_api::{ContainerLogLine, ContainerLogQuery, ContainerLogs, LogStreams, StackService};

use super::engine::{EngineError, LogRequest};
use super::{Inner, StackError, spec_role, state};

const DEFAULT_TAIL: u32 = 200;
const MAX_TAIL: u32 = 5000;
/// A page holds at most this much text: 5000 lines of 16 KiB would be 80 MB. The newest lines are
/// kept, and `oldest` moves with them, so "older" continues where the page really starts.
const MAX_PAGE_BYTES: usize = 2 << 20;

fn request(q: &ContainerLogQuery, follow: bool) -> LogRequest {
    let streams = q.stream.unwrap_or_default();
    LogRequest {
        since: q.since.map_or(0, |t| t.timestamp()),
        // The engine's `until` is a whole second; one more covers the fraction.
        until: q.until.map_or(0, |t| t.timestamp() + 1),
        // A follow starts now, or at `since` (a client that reconnects asks for what it missed).
        tail: match (follow, q.since) {
            (true, None) => Some(0),
            (true, Some(_)) => None,
            (false, _) => Some(q.tail.unwrap_or(DEFAULT_TAIL).clamp(1, MAX_TAIL)),
        },
        follow,
        stdout: streams != LogStreams::Stderr,
        stderr: streams != LogStreams::Stdout,
    }
}

/// Whether a line is inside the asked window and matches the filter (`needle` lowercased).
fn wanted(q: &ContainerLogQuery, needle: &Option<String>, l: &ContainerLogLine) -> bool {
    q.since.is_none_or(|s| l.time >= s)
        && q.until.is_none_or(|u| l.time < u)
        && needle.as_ref().is_none_or(|n| l.text.to_lowercase().contains(n.as_str()))
}

fn container(inner: &Inner, service: StackService) -> Result<String, StackError> {
    let st = state::load(&inner.store)?;
    if !st.installed {
        return Err(StackError::NotInstalled);
    }
    let spec = inner.spec(&st)?;
    spec.service(spec_role(service))
        .map(|s| s.container.clone())
        .ok_or_else(|| StackError::Refused(format!("{} is not part of this stack", service.label())))
}

pub async fn page(inner: &Inner, service: StackService, q: &ContainerLogQuery) -> Result<ContainerLogs, StackError> {
    let name = container(inner, service)?;
    let needle = q.filter.as_ref().filter(|f| !f.is_empty()).map(|f| f.to_lowercase());
    let mut stream = inner.engine.logs(&name, request(q, false)).await?;
    let mut lines = std::collections::VecDeque::new();
    let (mut oldest, mut bytes) = (None, 0usize);
    while let Some(l) = stream.next().await {
        let l = l?;
        if q.until.is_some_and(|u| l.time >= u) || q.since.is_some_and(|s| l.time < s) {
            continue;
        }
        oldest = Some(oldest.map_or(l.time, |o: chrono::DateTime<chrono::Utc>| o.min(l.time)));
        if wanted(q, &needle, &l) {
            bytes += l.text.len();
            lines.push_back(l);
            while bytes > MAX_PAGE_BYTES
                && let Some(dropped) = lines.pop_front()
            {
                bytes -= dropped.text.len();
                oldest = lines.front().map(|f: &ContainerLogLine| f.time);
            }
        }
    }
    Ok(ContainerLogs { service, lines: lines.into(), oldest })
}

/// What the container writes from now on, filtered; ends when it stops.
pub async fn follow(
    inner: &Inner,
    service: StackService,
    q: ContainerLogQuery,
) -> Result<BoxStream<'static, Result<ContainerLogLine, EngineError>>, StackError> {
    let name = container(inner, service)?;
    let needle = q.filter.as_ref().filter(|f| !f.is_empty()).map(|f| f.to_lowercase());
    let stream = inner.engine.logs(&name, request(&q, true)).await?;
    Ok(stream.filter(move |l| std::future::ready(l.as_ref().map_or(true, |l| wanted(&q, &needle, l)))).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use keepsake_api::LogStream;

    fn line(secs: i64, nanos: u32, text: &str) -> ContainerLogLine {
        ContainerLogLine { time: Utc.timestamp_opt(secs, nanos).unwrap(), stream: LogStream::Stdout, text: text.into() }
    }

    #[test]
    fn the_engine_window_covers_the_asked_one_and_lines_are_cut_to_it_exactly() {
        let q = ContainerLogQuery {
            since: Some(Utc.timestamp_opt(100, 500).unwrap()),
            until: Some(Utc.timestamp_opt(200, 500).unwrap()),
            filter: Some("GET".into()),
            ..Default::default()
        };
        let r = request(&q, false);
        assert_eq!((r.since, r.until, r.tail), (100, 201, Some(DEFAULT_TAIL)));
        let needle = Some("get".to_owned());
        assert!(!wanted(&q, &needle, &line(100, 499, "GET /")));
        assert!(wanted(&q, &needle, &line(100, 500, "get /api")));
        assert!(!wanted(&q, &needle, &line(150, 0, "POST /")));
        assert!(!wanted(&q, &needle, &line(200, 500, "GET /")));
    }

    #[test]
    fn streams_and_tail_are_passed_on() {
        let q = ContainerLogQuery { stream: Some(LogStreams::Stderr), tail: Some(9999), ..Default::default() };
        let r = request(&q, false);
        assert!(!r.stdout && r.stderr);
        assert_eq!(r.tail, Some(MAX_TAIL));
        let f = request(&q, true);
        assert!(f.follow && f.tail == Some(0));
        let since = ContainerLogQuery { since: Some(Utc.timestamp_opt(100, 0).unwrap()), ..Default::default() };
        let f = request(&since, true);
        assert!(f.follow && f.tail.is_none() && f.since == 100, "a reconnect gets what it missed");
    }
}
