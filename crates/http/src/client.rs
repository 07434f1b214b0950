//! A small client: `post` streams a body with chunked transfer coding
//! (Go's `http.Post`), `get` fetches (Go's `http.Get`). One request per
//! connection (`Connection: close`); `http://` only.

#![forbid(unsafe_code)]

use std::io::{self, Read};

use netpark_net::TcpStream;

use crate::conn::ConnReader;
use crate::headers::Headers;
use crate::request::{Body, Framing};

/// A response as the client read it (Go's `http.Response`, with the body
/// read in full).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Splits `http://host:port/path` into the address to dial, the `Host`
/// header and the request target.
fn parse_url(url: &str) -> io::Result<(String, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("unsupported URL {url:?}: only http:// is")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid(format!("no host in URL {url:?}")));
    }
    let addr = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

/// Posts `body` to `url`, streaming it as it is read with chunked transfer
/// coding, and reads the response (Go's `http.Post`).
///
/// # Errors
///
/// A bad URL (`InvalidInput`), the dial error, the body's read error, a
/// write error, or a malformed response (`InvalidData`).
pub fn post(url: &str, content_type: &str, mut body: impl Read) -> io::Result<Response> {
    let (addr, host, path) = parse_url(url)?;
    let conn = netpark_net::Dialer::new().dial("tcp", &addr)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nUser-Agent: netpark-http\r\n\r\n"
    );
    conn.write_all(head.as_bytes())?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut chunk = Vec::with_capacity(buf.len() + 16);
    loop {
        // A count past the buffer is an error, not a slicing panic.
        let n = match netpark_net::io::read_checked(&mut body, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted && !netpark_net::is_cancelled(&e) => {
                continue
            }
            Err(e) => return Err(e),
        };
        chunk.clear();
        chunk.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        chunk.extend_from_slice(&buf[..n]);
        chunk.extend_from_slice(b"\r\n");
        conn.write_all(&chunk)?;
    }
    conn.write_all(b"0\r\n\r\n")?;
    read_response(&conn, false)
}

/// Fetches `url` (Go's `http.Get`).
///
/// # Errors
///
/// As [`post`].
pub fn get(url: &str) -> io::Result<Response> {
    let (addr, host, path) = parse_url(url)?;
    let conn = netpark_net::Dialer::new().dial("tcp", &addr)?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: netpark-http\r\n\r\n"
    );
    conn.write_all(head.as_bytes())?;
    read_response(&conn, false)
}

fn read_response(conn: &TcpStream, head_request: bool) -> io::Result<Response> {
    let mut reader = ConnReader::new(conn, 1 << 20);
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let (len, status, headers) = loop {
        let mut fields = [httparse::EMPTY_HEADER; 100];
        let mut resp = httparse::Response::new(&mut fields);
        match resp.parse(reader.buffered()) {
            Ok(httparse::Status::Complete(n)) => {
                let mut h = Headers::new();
                for f in resp.headers.iter() {
                    h.add(f.name, f.value);
                }
                break (n, resp.code.unwrap_or(0), h);
            }
            Ok(httparse::Status::Partial) => {
                if reader.fill()? == 0 {
                    return Err(bad("connection closed before the response header"));
                }
            }
            Err(e) => return Err(bad(&format!("malformed response: {e}"))),
        }
    };
    reader.consume(len);
    let mut body = Vec::new();
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    if !no_body {
        if headers.has_token("Transfer-Encoding", "chunked") {
            Body::new(&mut reader, Framing::Chunked).read_to_end(&mut body)?;
        } else if let Some(n) = headers.get("Content-Length") {
            let n: u64 = n.trim().parse().map_err(|_| bad("bad Content-Length"))?;
            Body::new(&mut reader, Framing::Length(n)).read_to_end(&mut body)?;
        } else {
            reader.read_to_end(&mut body)?;
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_host_and_target() {
        assert_eq!(
            parse_url("http://127.0.0.1:8000/a?b").unwrap(),
            (
                "127.0.0.1:8000".into(),
                "127.0.0.1:8000".into(),
                "/a?b".into()
            )
        );
        assert_eq!(parse_url("http://example").unwrap().0, "example:80");
        assert!(parse_url("https://x/").is_err());
        assert!(parse_url("http:///x").is_err());
    }
}
