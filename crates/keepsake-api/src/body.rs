//! Reading a request body whole, up to a limit: the agent and the web server both refuse bodies
//! larger than they are willing to hold, and must not read more than that to find out.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot read the request body: {0}")]
    Read(String),
}

/// Collects `body` into one buffer, stopping at the first chunk that would go past `limit`.
pub async fn collect_limited<B, E>(body: impl Stream<Item = Result<B, E>>, limit: usize) -> Result<Bytes, BodyError>
where
    B: Buf,
    E: std::fmt::Display,
{
    let mut out = BytesMut::new();
    futures_util::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if out.len() + chunk.remaining() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        while chunk.has_remaining() {
            let n = chunk.chunk().len();
            out.extend_from_slice(chunk.chunk());
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(chunks: &[&'static str]) -> impl Stream<Item = Result<Bytes, String>> + use<> {
        let v: Vec<Result<Bytes, String>> = chunks.iter().map(|c| Ok(Bytes::from_static(c.as_bytes()))).collect();
        futures_util::stream::iter(v)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The stream is ready at once, so one poll loop with a no-op waker is enough.
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn joins_chunks_up_to_the_limit_and_refuses_beyond() {
        assert_eq!(block_on(collect_limited(stream(&["ab", "cd"]), 4)).unwrap(), Bytes::from_static(b"abcd"));
        assert_eq!(block_on(collect_limited(stream(&["ab", "cde"]), 4)), Err(BodyError::TooLarge { limit: 4 }));
        assert_eq!(block_on(collect_limited(stream(&[]), 0)).unwrap(), Bytes::new());
    }

    #[test]
    fn reports_a_broken_stream() {
        let s = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"a")), Err("reset".to_owned())]);
        assert_eq!(block_on(collect_limited(s, 10)), Err(BodyError::Read("reset".into())));
    }
}
