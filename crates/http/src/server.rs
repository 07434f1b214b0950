//! `Server` (Go's `http.Server`): one task per connection, requests read
//! with `httparse`, answered in order, the connection kept alive per
//! RFC 9112 §9.
//!
//! # One connection's loop
//!
//! ```text
//!   wait for a request   read deadline = now + idle_timeout (the first
//!                        request: read_header_timeout); once a byte of it
//!                        has come, now + read_header_timeout
//!   parse the header     httparse on the buffer; too big → 431, target too
//!                        long → 414, bad version → 505, malformed, no Host
//!                        in HTTP/1.1, two Hosts, `*` but for OPTIONS → 400
//!                        (each then closes); `OPTIONS *` is answered 200
//!                        by the server itself (Go's globalOptionsHandler)
//!   frame the body       Transfer-Encoding: chunked or Content-Length; both,
//!                        or any other coding → 400; `Expect: 100-continue`
//!                        → "100 Continue" at the handler's first body read
//!                        (none if it answers first: then close after), any
//!                        other `Expect` → 417
//!   handle               write deadline = now + write_timeout; the handler
//!                        runs under catch_unwind: a panic is logged and
//!                        closes this connection only
//!   finish               end the body; read what the handler left of the
//!                        request body (up to 256 KiB, else close); log
//!   next                 bytes already buffered are the next (pipelined)
//!                        request; otherwise wait again
//! ```
//!
//! A slow or silent client costs one parked task until its deadline, and
//! nothing more.

#![forbid(unsafe_code)]

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::{TcpListener, TcpStream};
use percent_encoding::percent_decode_str;

use crate::conn::ConnReader;
use crate::headers::Headers;
use crate::request::{Body, ExpectContinue, Framing, Request};
use crate::response::{status_text, ResponseWriter};
use crate::shutdown::{ServerHandle, TrackedConn, Tracker};
use crate::Handler;

/// The longest request target accepted (longer: 414).
const MAX_TARGET: usize = 8 * 1024;

/// How much of a request body the server reads and drops after a handler
/// that left it unread, before it closes the connection instead (Go's
/// `maxPostHandlerReadBytes`).
const DISCARD_MAX: u64 = 256 * 1024;

/// Header fields accepted per request.
const MAX_FIELDS: usize = 100;

/// An HTTP/1.1 server (Go's `http.Server`) with Go's knobs.
///
/// Defaults, unlike Go's zero values, close a slow client's connection:
/// `read_header_timeout` 30 s, `idle_timeout` 120 s, `write_timeout`
/// none, `max_header_bytes` 1 MiB (Go's `DefaultMaxHeaderBytes`).
pub struct Server {
    /// What answers the requests; shared by every connection task.
    handler: Arc<dyn Handler>,
    /// From the first byte of a request to the end of its header.
    read_header_timeout: Option<Duration>,
    /// How long a kept-alive connection may wait for its next request.
    idle_timeout: Option<Duration>,
    /// From the end of a request's header to the end of its response.
    write_timeout: Option<Duration>,
    /// The most bytes a request line and header fields may take.
    max_header_bytes: usize,
    /// Its listeners and connections, for a graceful shutdown.
    tracker: Arc<Tracker>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("read_header_timeout", &self.read_header_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server for `handler`, with the defaults above.
    pub fn new(handler: impl Handler) -> Server {
        Server {
            handler: Arc::new(handler),
            read_header_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(120)),
            write_timeout: None,
            max_header_bytes: 1 << 20,
            tracker: Arc::default(),
        }
    }

    /// A handle that shuts this server down gracefully once it serves
    /// ([`ServerHandle::shutdown`], Go's `Server.Shutdown`).
    pub fn handle(&self) -> ServerHandle {
        ServerHandle(self.tracker.clone())
    }

    /// Go's `ReadHeaderTimeout`; `None` for no limit.
    pub fn read_header_timeout(mut self, d: Option<Duration>) -> Server {
        self.read_header_timeout = d;
        self
    }

    /// Go's `IdleTimeout`; `None` for no limit.
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Server {
        self.idle_timeout = d;
        self
    }

    /// Go's `WriteTimeout`; `None` for no limit.
    pub fn write_timeout(mut self, d: Option<Duration>) -> Server {
        self.write_timeout = d;
        self
    }

    /// Go's `MaxHeaderBytes`.
    pub fn max_header_bytes(mut self, n: usize) -> Server {
        self.max_header_bytes = n.max(256);
        self
    }

    /// Accepts connections on `ln` and serves each on its own task until
    /// the listener is closed (Go's `Server.Serve`). Must run in a task.
    /// Returns `Ok` after a [`ServerHandle::shutdown`], once that is done
    /// (its connections have ended, or its timeout passed), so a program
    /// whose root task serves does not end under the connections still
    /// answering.
    ///
    /// # Errors
    ///
    /// The accept error that ended it (closed: `NotConnected`).
    pub fn serve(self, ln: TcpListener) -> io::Result<()> {
        let server = Arc::new(self);
        let ln = Arc::new(ln);
        let Some(_tracked) = server.tracker.add_listener(&ln) else {
            return Ok(());
        };
        loop {
            let (conn, peer) = match ln.accept() {
                Ok(c) => c,
                Err(_) if server.tracker.closing() => {
                    server.tracker.wait_shutdown();
                    return Ok(());
                }
                Err(e) if netpark_net::is_closed(&e) || netpark_net::is_cancelled(&e) => {
                    return Err(e)
                }
                Err(e) => {
                    // A resource error: accept has backed off already.
                    log::warn!(target: "netpark::http", "{e}");
                    continue;
                }
            };
            let s = server.clone();
            let spawned = netpark_runtime::task::Builder::new()
                .name(format!("http {peer}"))
                .spawn(move || s.serve_conn(conn));
            if let Err(e) = spawned {
                log::warn!(target: "netpark::http", "cannot start a task for {peer}: {e}");
            }
        }
    }

    /// Listens on `addr` and serves (Go's `Server.ListenAndServe`); outside
    /// a runtime it starts one (a worker per core) first.
    ///
    /// # Errors
    ///
    /// The listen error, or the accept error that ended it.
    pub fn listen_and_serve(self, addr: &str) -> io::Result<()> {
        let addr = addr.to_string();
        let run = move || {
            let ln = netpark_net::listen_tcp("tcp", &addr)?;
            self.serve(ln)
        };
        if netpark_runtime::Handle::try_current().is_some() {
            run()
        } else {
            netpark_runtime::run(run)
        }
    }

    fn serve_conn(&self, conn: TcpStream) {
        let conn = Arc::new(conn);
        let Some(tracked) = self.tracker.add_conn(&conn) else {
            return; // shutting down: dropped, so closed
        };
        let mut reader = ConnReader::new(&conn, self.max_header_bytes + 4096);
        let mut first = true;
        loop {
            match self.serve_one(&conn, &mut reader, first, &tracked) {
                Ok(true) => first = false,
                Ok(false) => break,
                Err(e) => {
                    log::debug!(target: "netpark::http", "connection ends: {e}");
                    break;
                }
            }
        }
        let _ = conn.shutdown(std::net::Shutdown::Write);
    }

    fn deadline(d: Option<Duration>) -> Option<Instant> {
        d.map(netpark_runtime::time::deadline_after)
    }

    /// Reads and answers one request; whether the connection goes on.
    fn serve_one(
        &self,
        conn: &TcpStream,
        reader: &mut ConnReader<'_>,
        first: bool,
        tracked: &TrackedConn<'_>,
    ) -> io::Result<bool> {
        // Wait for the request's first byte (idle meanwhile, so a shutdown
        // may close the connection), then its whole header.
        if reader.buffered().is_empty() {
            if !tracked.idle() {
                return Ok(false);
            }
            let wait = if first {
                self.read_header_timeout
            } else {
                self.idle_timeout
            };
            conn.set_read_deadline(Self::deadline(wait))?;
            if reader.fill()? == 0 {
                return Ok(false);
            }
        }
        if !tracked.active() {
            return Ok(false);
        }
        let start = Instant::now();
        conn.set_read_deadline(Self::deadline(self.read_header_timeout))?;
        let head = loop {
            match parse_head(reader.buffered()) {
                Parsed::Done(h) => break h,
                Parsed::Reject(code) => {
                    reject(conn, code);
                    return Ok(false);
                }
                Parsed::Partial => {}
            }
            let buffered = reader.buffered();
            let line_end = buffered.windows(2).position(|w| w == b"\r\n");
            if line_end.is_none() && buffered.len() > MAX_TARGET + 32 {
                reject(conn, 414);
                return Ok(false);
            }
            if buffered.len() > self.max_header_bytes {
                reject(conn, 431);
                return Ok(false);
            }
            match reader.fill() {
                Ok(0) => {
                    reject(conn, 400);
                    return Ok(false);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                    reject(conn, 431);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        };
        reader.consume(head.len);
        conn.set_read_deadline(None)?;
        conn.set_write_deadline(Self::deadline(self.write_timeout))?;

        let keep_alive = if head.version >= 1 {
            !head.headers.has_token("Connection", "close")
        } else {
            head.headers.has_token("Connection", "keep-alive")
        };
        // Go's rules: `100-continue` from an HTTP/1.1 client is honoured
        // (request.rs, `ExpectContinue`), any other expectation is a 417.
        let wants_continue = match head.headers.get("Expect") {
            None => false,
            Some(e) if e.trim().eq_ignore_ascii_case("100-continue") => head.version >= 1,
            Some(_) => {
                reject(conn, 417);
                return Ok(false);
            }
        };
        let expect = ExpectContinue::new(conn);
        let is_head = head.method == "HEAD";
        let method = head.method.clone();
        let target = head.target.clone();
        let mut w = ResponseWriter::new(conn, is_head, head.version, keep_alive);
        w.tracked(&self.tracker);
        let mut body = Body::new(reader, head.framing);
        if wants_continue && !body.is_done() {
            body = body.expecting(&expect);
            w.expecting(&expect);
        }
        let mut req = Request {
            method: head.method,
            target: head.target,
            path: head.path,
            query: head.query,
            version: head.version,
            headers: head.headers,
            body,
        };
        let handled = panic::catch_unwind(AssertUnwindSafe(|| {
            if req.method == "OPTIONS" && req.target == "*" {
                // The server's own answer (Go's globalOptionsHandler).
                w.headers_mut().set("Content-Length", "0");
                w.write_header(200);
            } else {
                self.handler.serve(&mut w, &mut req);
            }
        }));
        if let Err(p) = handled {
            if netpark_runtime::shutdown_unwinding() {
                // The runtime is going away under the handler: not the
                // handler's panic; let the task unwind.
                panic::resume_unwind(p);
            }
            log::error!(
                target: "netpark::http",
                "panic serving {method} {target}; closing the connection"
            );
            if !w.committed() {
                crate::response::error(&mut w, "500 Internal Server Error", 500);
                let _ = w.finish();
            }
            return Ok(false);
        }
        let finished = w.finish();
        log::info!(
            target: "netpark::http",
            "{method} {target} {} {} {:?}",
            w.status(),
            w.body_bytes(),
            start.elapsed()
        );
        finished?;
        if !w.keep_alive() {
            return Ok(false);
        }
        // What the handler left of the body is read and dropped, so the
        // next request starts where it should.
        if !req.body.discard(DISCARD_MAX)? {
            return Ok(false);
        }
        conn.set_write_deadline(None)?;
        Ok(true)
    }
}

/// A request header, parsed and checked.
struct Head {
    /// Bytes the request line and fields took, CRLF CRLF included.
    len: usize,
    method: String,
    target: String,
    path: String,
    query: String,
    version: u8,
    headers: Headers,
    framing: Framing,
}

enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A request header.
    Done(Head),
    /// Answer with this status and close.
    Reject(u16),
}

fn parse_head(buf: &[u8]) -> Parsed {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::Version) => return Parsed::Reject(505),
        Err(httparse::Error::TooManyHeaders) => return Parsed::Reject(431),
        Err(_) => return Parsed::Reject(400),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Reject(400);
    };
    if target.len() > MAX_TARGET {
        return Parsed::Reject(414);
    }
    let mut headers = Headers::new();
    for f in req.headers.iter() {
        headers.add(f.name, f.value);
    }
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host (Go:
    // "missing required Host header", "too many Host headers").
    let hosts = headers.get_all("Host").count();
    if (version == 1 && hosts == 0) || hosts > 1 {
        return Parsed::Reject(400);
    }
    // The asterisk form is OPTIONS's alone (RFC 9112 §3.2.4).
    if target == "*" && method != "OPTIONS" {
        return Parsed::Reject(400);
    }
    let framing = match framing(&headers) {
        Some(f) => f,
        None => return Parsed::Reject(400),
    };
    let Some((path, query)) = split_target(target) else {
        return Parsed::Reject(400);
    };
    Parsed::Done(Head {
        len,
        method: method.to_string(),
        target: target.to_string(),
        path,
        query,
        version,
        headers,
        framing,
    })
}

/// The body framing of a request (RFC 9112 §6.3), or `None` for one to
/// reject: a coding other than chunked, or both a coding and a length
/// (a request-smuggling shape), or lengths that disagree.
fn framing(h: &Headers) -> Option<Framing> {
    if h.contains("Transfer-Encoding") {
        if h.contains("Content-Length") {
            return None;
        }
        let codings: Vec<&[u8]> = h.get_all("Transfer-Encoding").collect();
        let only_chunked =
            codings.len() == 1 && codings[0].trim_ascii().eq_ignore_ascii_case(b"chunked");
        return only_chunked.then_some(Framing::Chunked);
    }
    let mut len = None;
    for v in h.get_all("Content-Length") {
        let v = std::str::from_utf8(v).ok()?.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = v.parse().ok()?;
        if len.is_some_and(|l| l != n) {
            return None;
        }
        len = Some(n);
    }
    Some(Framing::Length(len.unwrap_or(0)))
}

/// Splits a request target into its path, percent-decoded once, and its
/// query; `None` for a target no server should take (not origin-form or
/// absolute-form, a NUL byte, a path that is not UTF-8 once decoded).
fn split_target(target: &str) -> Option<(String, String)> {
    let rest = if let Some(abs) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        match abs.find('/') {
            Some(i) => &abs[i..],
            None => "/",
        }
    } else if target == "*" {
        return Some(("*".into(), String::new()));
    } else {
        target
    };
    if !rest.starts_with('/') {
        return None;
    }
    let (raw_path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    };
    // Go's url.PathUnescape refuses a '%' not followed by two hex digits
    // ("invalid URL escape", a 400); percent_decode_str would keep it as is.
    let escapes_valid = raw_path
        .split('%')
        .skip(1)
        .all(|after| after.len() >= 2 && after.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !escapes_valid {
        return None;
    }
    let path = percent_decode_str(raw_path).decode_utf8().ok()?;
    if path.contains('\0') {
        return None;
    }
    Some((path.into_owned(), query.to_string()))
}

/// Answers a request the server could not take, and closes.
fn reject(conn: &TcpStream, code: u16) {
    let text = format!("{code} {}", status_text(code));
    let msg = format!(
        "HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{text}",
        text.len()
    );
    log::info!(target: "netpark::http", "rejected a request: {text}");
    let _ = conn.write_all(msg.as_bytes());
}

/// Listens on `addr` and serves `handler` (Go's `http.ListenAndServe`),
/// with [`Server`]'s defaults; outside a runtime it starts one first.
///
/// ```no_run
/// use netpark_http as http;
/// let files = http::strip_prefix("/static/", http::FileServer::new("./output"));
/// http::listen_and_serve("127.0.0.1:8000", files).unwrap();
/// ```
///
/// # Errors
///
/// As [`Server::listen_and_serve`].
pub fn listen_and_serve(addr: &str, handler: impl Handler) -> io::Result<()> {
    Server::new(handler).listen_and_serve(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_decoded_once() {
        assert_eq!(
            split_target("/a%20b/%2e%2e/c?x=%20"),
            Some(("/a b/../c".into(), "x=%20".into()))
        );
        assert_eq!(split_target("/%252e"), Some(("/%2e".into(), String::new())));
        assert_eq!(split_target("/a%00b"), None);
        assert_eq!(split_target("a/b"), None);
        assert_eq!(
            split_target("http://example.com/x"),
            Some(("/x".into(), String::new()))
        );
    }

    #[test]
    fn framing_rejects_smuggling_shapes() {
        let mut h = Headers::new();
        h.add("Content-Length", "5");
        assert_eq!(framing(&h), Some(Framing::Length(5)));
        h.add("Content-Length", "6");
        assert_eq!(framing(&h), None);
        let mut h = Headers::new();
        h.add("Transfer-Encoding", "chunked");
        assert_eq!(framing(&h), Some(Framing::Chunked));
        h.add("Content-Length", "5");
        assert_eq!(framing(&h), None);
        let mut h = Headers::new();
        h.add("Transfer-Encoding", "gzip, chunked");
        assert_eq!(framing(&h), None);
        let mut h = Headers::new();
        h.add("Content-Length", "-1");
        assert_eq!(framing(&h), None);
    }
}
