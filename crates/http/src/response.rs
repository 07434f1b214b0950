//! `ResponseWriter` (Go's `http.ResponseWriter`): status, headers, and the
//! body as `Write`, or a file region sent by `sendfile`.
//!
//! # Framing, decided when the header is sent
//!
//! ```text
//!   HEAD request, 1xx, 204, 304     no body (a HEAD keeps the Content-Length
//!                                   the handler set)
//!   Content-Length set by handler   exactly that many bytes (more is an error;
//!                                   fewer closes the connection)
//!   handler done, body ≤ 4 KiB      Content-Length of what it wrote, one write
//!   HTTP/1.1, body still coming     Transfer-Encoding: chunked
//!   HTTP/1.0, body still coming     until the connection closes
//! ```
//!
//! The first 4 KiB of body are held back (Go's response buffer is 2 KiB)
//! so a small response goes out as one write with its length.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::time::SystemTime;

use netpark_net::TcpStream;

use crate::headers::Headers;
use crate::request::ExpectContinue;
use crate::shutdown::Tracker;

/// Body bytes held before the header is committed.
const HOLD: usize = 4096;

/// Bytes of a file body written with the header, before `sendfile`.
const PREFIX: usize = 512;

/// How the body is being framed once the header is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Header not sent yet.
    Pending,
    /// `Content-Length`: bytes still owed.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (HTTP/1.0 without a length).
    Close,
    /// No body may be sent (HEAD, 1xx, 204, 304).
    NoBody,
}

/// The response to one request (Go's `http.ResponseWriter`).
///
/// Set headers with [`headers_mut`](Self::headers_mut), the status with
/// [`write_header`](Self::write_header) (200 if never called), then write
/// the body through `Write`, or hand it a file with
/// [`send_file`](Self::send_file). Headers changed after the first body
/// byte left are ignored, as in Go.
pub struct ResponseWriter<'c> {
    /// The connection; written only by this writer while the handler runs.
    conn: &'c TcpStream,
    /// The status code; fixed once the header is out.
    status: u16,
    /// The header fields to send.
    headers: Headers,
    /// Whether the status was set by `write_header` (Go's `wroteHeader`).
    status_set: bool,
    /// The request was a HEAD: the body is counted, never sent.
    head: bool,
    /// The request's minor version.
    version: u8,
    /// Whether the connection stays open after this response.
    keep_alive: bool,
    /// Framing; see the module docs.
    mode: Mode,
    /// Body bytes held until the header is committed.
    held: Vec<u8>,
    /// Body bytes accepted (sent, or counted for a HEAD).
    body_bytes: u64,
    /// The request's `Expect: 100-continue`, if it sent one: the header
    /// going out ends the chance of a 100.
    expect: Option<&'c ExpectContinue<'c>>,
    /// The server's shutdown state: a header that goes out once a
    /// shutdown has begun says `Connection: close` (Go's `shuttingDown`
    /// check in `writeHeader`).
    tracker: Option<&'c Tracker>,
}

impl std::fmt::Debug for ResponseWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseWriter")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// The reason phrase of a status code.
pub fn status_text(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        412 => "Precondition Failed",
        417 => "Expectation Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn no_body_status(code: u16) -> bool {
    (100..200).contains(&code) || code == 204 || code == 304
}

impl<'c> ResponseWriter<'c> {
    pub(crate) fn new(conn: &'c TcpStream, head: bool, version: u8, keep_alive: bool) -> Self {
        ResponseWriter {
            conn,
            status: 200,
            headers: Headers::new(),
            status_set: false,
            head,
            version,
            keep_alive,
            mode: Mode::Pending,
            held: Vec::new(),
            body_bytes: 0,
            expect: None,
            tracker: None,
        }
    }

    /// Ties the response to its server's shutdown.
    pub(crate) fn tracked(&mut self, tracker: &'c Tracker) {
        self.tracker = Some(tracker);
    }

    /// Ties the response to its request's `Expect: 100-continue`.
    pub(crate) fn expecting(&mut self, expect: &'c ExpectContinue<'c>) {
        self.expect = Some(expect);
    }

    /// The header fields to send (Go's `Header()`).
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Sets the status code (Go's `WriteHeader`); only the first call counts.
    pub fn write_header(&mut self, status: u16) {
        if !self.status_set && self.mode == Mode::Pending {
            self.status = status;
            self.status_set = true;
        }
    }

    /// The status code sent (or to be sent).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Body bytes written so far (for a HEAD, the bytes that would have been).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Whether the connection stays open after this response.
    pub(crate) fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Sends `len` bytes of `file` from its current offset as the body,
    /// with `Content-Length: len`: the first 512 bytes in the header's
    /// write (as Go's sniffing prefix goes), the rest by `sendfile`
    /// (`netpark::io::copy_n`); for a HEAD, only the header. Returns the
    /// bytes sent.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when body bytes were written before; the copy's
    /// error (the connection is then unusable and is closed); an
    /// `UnexpectedEof` when the file is shorter than `len`.
    pub fn send_file(&mut self, file: &mut File, len: u64) -> io::Result<u64> {
        if self.mode != Mode::Pending || !self.held.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "send_file after body bytes were written",
            ));
        }
        if !no_body_status(self.status) {
            self.headers.set("Content-Length", len.to_string());
        }
        if self.head || no_body_status(self.status) {
            self.commit(false)?;
            self.body_bytes += len;
            return Ok(0);
        }
        // The first bytes go with the header in one write (Go sends its
        // 512 sniffed bytes so): a lone header segment costs the client
        // a wake-up of its own. The rest goes by sendfile.
        let first = len.min(PREFIX as u64) as usize;
        let mut prefix = vec![0u8; first];
        if let Err(e) = std::io::Read::read_exact(file, &mut prefix) {
            self.keep_alive = false;
            return Err(e);
        }
        self.held = prefix;
        self.commit(false)?;
        self.copy_file(file, len - first as u64)
            .map(|n| n + first as u64)
    }

    /// Sends `len` bytes of `file`, from its offset, as the next body bytes
    /// after what was written so far (a part of a `multipart/byteranges`
    /// body), by `copy_n`, which takes `sendfile`: the header goes first if
    /// it has not, and the bytes count against the declared length.
    /// Returns how many bytes went (`len`, or 0 for a response without a
    /// body).
    pub(crate) fn copy_file(&mut self, file: &mut File, len: u64) -> io::Result<u64> {
        if self.mode == Mode::Pending {
            self.commit(false)?;
        }
        match self.mode {
            Mode::NoBody => {
                self.body_bytes += len;
                return Ok(0);
            }
            Mode::Length(left) if len <= left => {}
            _ => {
                self.keep_alive = false;
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "http: copy_file needs a declared Content-Length that holds it",
                ));
            }
        }
        let n = netpark_net::io::copy_n(&mut &*self.conn, file, len);
        let sent = n.as_ref().map_or_else(netpark_net::io::done_before, |&n| n);
        self.body_bytes += sent;
        if let Mode::Length(left) = self.mode {
            self.mode = Mode::Length(left - sent);
        }
        if n.is_err() {
            self.keep_alive = false;
        }
        n
    }

    /// Sends the header: decides the framing (module docs) and writes the
    /// status line, the fields and any held body bytes in one write.
    fn commit(&mut self, finishing: bool) -> io::Result<()> {
        debug_assert_eq!(self.mode, Mode::Pending);
        if self.headers.has_token("Connection", "close") {
            self.keep_alive = false;
        }
        if self.tracker.is_some_and(Tracker::closing) {
            self.keep_alive = false;
        }
        if self.expect.is_some_and(|e| e.before_response()) {
            // The client held its body back for a 100 it will not get:
            // it may send the body yet, so nothing after this response
            // can be read as a request.
            self.keep_alive = false;
        }
        let declared = self
            .headers
            .get("Content-Length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        self.mode = if no_body_status(self.status) {
            self.headers.remove("Content-Length");
            self.headers.remove("Transfer-Encoding");
            Mode::NoBody
        } else if self.head {
            if declared.is_none() && finishing {
                self.headers
                    .set("Content-Length", self.held.len().to_string());
            }
            Mode::NoBody
        } else if let Some(n) = declared {
            Mode::Length(n)
        } else if finishing {
            self.headers
                .set("Content-Length", self.held.len().to_string());
            Mode::Length(self.held.len() as u64)
        } else if self.version >= 1 {
            self.headers.set("Transfer-Encoding", "chunked");
            Mode::Chunked
        } else {
            self.keep_alive = false;
            Mode::Close
        };
        if !self.headers.contains("Date") {
            self.headers
                .set("Date", httpdate::fmt_http_date(SystemTime::now()));
        }
        if !self.keep_alive {
            self.headers.set("Connection", "close");
        } else if self.version == 0 {
            self.headers.set("Connection", "keep-alive");
        }
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\n",
            self.status,
            status_text(self.status)
        );
        let mut out = head.into_bytes();
        for (name, value) in self.headers.iter() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        let held = std::mem::take(&mut self.held);
        let body = self.frame(&held)?;
        out.extend_from_slice(&body);
        self.send(&out)
    }

    /// The bytes that carry `data` in the current mode (chunk framing),
    /// checking a declared length.
    fn frame(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        self.body_bytes += data.len() as u64;
        match self.mode {
            Mode::Pending => unreachable!("framing before the header is committed"),
            Mode::NoBody => Ok(Vec::new()),
            Mode::Close => Ok(data.to_vec()),
            Mode::Length(left) => {
                if data.len() as u64 > left {
                    self.keep_alive = false;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "http: wrote more than the declared Content-Length",
                    ));
                }
                self.mode = Mode::Length(left - data.len() as u64);
                Ok(data.to_vec())
            }
            Mode::Chunked => {
                let mut v = format!("{:x}\r\n", data.len()).into_bytes();
                v.extend_from_slice(data);
                v.extend_from_slice(b"\r\n");
                Ok(v)
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.conn
            .write_all(bytes)
            .inspect_err(|_| self.keep_alive = false)
    }

    /// Ends the response: commits a header never sent, ends a chunked
    /// body. A body shorter than its declared length leaves the
    /// connection unusable: it is closed.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if self.mode == Mode::Pending {
            self.commit(true)?;
        }
        match self.mode {
            Mode::Chunked => self.send(b"0\r\n\r\n"),
            Mode::Length(left) if left > 0 => {
                self.keep_alive = false;
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "http: handler wrote less than the declared Content-Length",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether anything was sent yet.
    pub(crate) fn committed(&self) -> bool {
        self.mode != Mode::Pending
    }
}

impl Write for ResponseWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.mode == Mode::Pending {
            if self.held.len() + buf.len() <= HOLD {
                self.held.extend_from_slice(buf);
                return Ok(buf.len());
            }
            self.commit(false)?;
        }
        let framed = self.frame(buf)?;
        self.send(&framed)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.mode == Mode::Pending {
            self.commit(false)?;
        }
        Ok(())
    }
}

/// Replies with `code` and a plain-text `msg` (Go's `http.Error`).
pub fn error(w: &mut ResponseWriter<'_>, msg: &str, code: u16) {
    let h = w.headers_mut();
    h.remove("Content-Length");
    h.set("Content-Type", "text/plain; charset=utf-8");
    h.set("X-Content-Type-Options", "nosniff");
    w.write_header(code);
    let _ = w.write_all(msg.as_bytes());
    let _ = w.write_all(b"\n");
}

/// Replies 404 (Go's `http.NotFound`).
pub fn not_found(w: &mut ResponseWriter<'_>) {
    error(w, "404 page not found", 404);
}
