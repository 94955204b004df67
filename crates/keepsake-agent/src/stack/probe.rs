//! Asking Immich's server itself whether it is up and which version it is: `GET
//! /api/server/ping` (`{"res":"pong"}`) and `GET /api/server/version` (`{major,minor,patch,
//! prerelease}`), both public, on the loopback port it is published on. A container that is
//! "healthy" to the engine may still be another version, or not yet answering through its port.

use std::time::Duration;

use keepsake_stack::ImmichVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(5);
/// Answers bigger than this are not Immich's.
const MAX_ANSWER: u64 = 64 * 1024;

/// One plain HTTP/1.1 GET on 127.0.0.1; the status and the body.
async fn get(port: u16, path: &str) -> Result<(u16, Vec<u8>), String> {
    let talk = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.take(MAX_ANSWER).read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(buf)
    };
    let buf = tokio::time::timeout(TIMEOUT, talk).await.map_err(|_| "no answer within 5 s".to_owned())??;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("not an HTTP answer")?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("not an HTTP answer")?;
    let mut body = buf[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = unchunk(&body).ok_or("a damaged chunked answer")?;
    }
    Ok((status, body))
}

fn unchunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line]).ok()?.split(';').next()?.trim(), 16).ok()?;
        b = &b[line + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// The version the server on `port` says it is, once it answers its ping; why not otherwise.
pub async fn version(port: u16) -> Result<ImmichVersion, String> {
    let (status, body) = get(port, "/api/server/ping").await?;
    let pong: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status != 200 || pong.as_ref().and_then(|v| v.get("res")).and_then(|r| r.as_str()) != Some("pong") {
        return Err(format!("/api/server/ping answered {status}"));
    }
    let (status, body) = get(port, "/api/server/version").await?;
    if status != 200 {
        return Err(format!("/api/server/version answered {status}"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "/api/server/version is not JSON".to_owned())?;
    ImmichVersion::from_server_version(&v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::unchunk;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(unchunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n").as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(unchunk(b"zz\r\n"), None);
    }
}
