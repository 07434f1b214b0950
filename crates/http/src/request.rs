//! `Request` (Go's `http.Request`, the server's side) and its body reader.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};

use netpark_net::TcpStream;

use crate::conn::Wire;
use crate::headers::Headers;

/// A request as the server read it.
pub struct Request<'c> {
    /// The method, as sent (`GET`, `HEAD`, `POST`, …).
    pub method: String,
    /// The request target as sent (`/static/a%20b.txt?x=1`).
    pub target: String,
    /// The path of the target, percent-decoded once (`/static/a b.txt`).
    /// [`strip_prefix`](crate::strip_prefix) shortens it.
    pub path: String,
    /// The query, after `?`, not decoded; empty when absent.
    pub query: String,
    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The header fields.
    pub headers: Headers,
    /// The body; reads return 0 at its end.
    pub body: Body<'c>,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// How a request body is framed (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n`, or no body (n = 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Where a chunked body's reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk: bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: the trailer section.
    Trailer,
}

/// `Expect: 100-continue` on one request (Go's `expectContinueReader`): a
/// client that sent it waits for `100 Continue` before it sends the body.
/// The server sends that line at the handler's first read of the body, and
/// only while no response has begun: a handler that answers first (a 413,
/// a 401, a redirect) leaves the body unsent, and the connection closes
/// after that response, since the client may still be about to send it.
///
/// ```text
///   state     who moves it (the connection's task only)        to
///   PENDING   the body's first read: writes the 100 line      SENT
///   PENDING   the response header going out first             TOO_LATE
/// ```
pub(crate) struct ExpectContinue<'c> {
    /// The socket the 100 line goes to, ahead of the response.
    conn: &'c TcpStream,
    /// PENDING / SENT / TOO_LATE; moved by `Body::read` and the
    /// response's commit.
    state: Cell<u8>,
}

const PENDING: u8 = 0;
const SENT: u8 = 1;
const TOO_LATE: u8 = 2;

impl<'c> ExpectContinue<'c> {
    pub(crate) fn new(conn: &'c TcpStream) -> ExpectContinue<'c> {
        ExpectContinue {
            conn,
            state: Cell::new(PENDING),
        }
    }

    /// The body is about to be read: ask the client for it.
    fn before_body_read(&self) -> io::Result<()> {
        if self.state.get() == PENDING {
            self.state.set(SENT);
            self.conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        Ok(())
    }

    /// The response header is going out: too late for a 100. Returns
    /// whether the body was never asked for, so the connection must close
    /// after the response.
    pub(crate) fn before_response(&self) -> bool {
        let never_asked = self.state.get() == PENDING;
        if never_asked {
            self.state.set(TOO_LATE);
        }
        never_asked
    }
}

/// A request's body, read from the connection (Go's `Request.Body`).
pub struct Body<'c> {
    /// The connection; `None` for a body made up by a test or a handler.
    conn: Option<&'c mut (dyn Wire + 'c)>,
    /// Bytes of a `Content-Length` body left, or the chunked state.
    state: State,
    /// The request's `Expect: 100-continue`, until the first read.
    expect: Option<&'c ExpectContinue<'c>>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Length(u64),
    Chunked(Chunk),
    Done,
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body").field("state", &self.state).finish()
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl<'c> Body<'c> {
    pub(crate) fn new(conn: &'c mut (dyn Wire + 'c), framing: Framing) -> Body<'c> {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size),
        };
        Body {
            conn: Some(conn),
            state,
            expect: None,
        }
    }

    /// The body of a request that sent `Expect: 100-continue`.
    pub(crate) fn expecting(mut self, expect: &'c ExpectContinue<'c>) -> Body<'c> {
        if !self.is_done() {
            self.expect = Some(expect);
        }
        self
    }

    /// A body with nothing in it.
    pub fn empty() -> Body<'static> {
        Body {
            conn: None,
            state: State::Done,
            expect: None,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Reads and drops up to `max` bytes of what is left; whether the body
    /// then ended (a handler that ignored its body leaves the rest here).
    pub(crate) fn discard(&mut self, max: u64) -> io::Result<bool> {
        let mut left = max;
        let mut buf = [0u8; 4096];
        while !self.is_done() {
            if left == 0 {
                return Ok(false);
            }
            let n = self.read(&mut buf[..(left.min(4096) as usize)])?;
            if n == 0 && !self.is_done() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            left -= n as u64;
        }
        Ok(true)
    }

    /// Ensures the buffer holds a whole line (up to CRLF); its length.
    fn line(conn: &mut dyn Wire) -> io::Result<usize> {
        loop {
            if let Some(i) = conn.buffered().windows(2).position(|w| w == b"\r\n") {
                return Ok(i + 2);
            }
            match conn.fill() {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                    return Err(bad("chunk line too long"))
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let conn: &mut dyn Wire = self
            .conn
            .as_deref_mut()
            .expect("a chunked body has a connection");
        loop {
            let State::Chunked(c) = self.state else {
                return Ok(0);
            };
            match c {
                Chunk::Size => {
                    let n = Self::line(conn)?;
                    let size = match httparse::parse_chunk_size(&conn.buffered()[..n]) {
                        Ok(httparse::Status::Complete((_, size))) => size,
                        _ => return Err(bad("malformed chunk size")),
                    };
                    conn.consume(n);
                    self.state = State::Chunked(if size == 0 {
                        Chunk::Trailer
                    } else {
                        Chunk::Data(size)
                    });
                }
                Chunk::Data(left) => {
                    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = conn.read(&mut out[..want])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok(n);
                }
                Chunk::DataEnd => {
                    let n = Self::line(conn)?;
                    if n != 2 {
                        return Err(bad("chunk data longer than its size"));
                    }
                    conn.consume(2);
                    self.state = State::Chunked(Chunk::Size);
                }
                Chunk::Trailer => {
                    let n = Self::line(conn)?;
                    conn.consume(n);
                    if n == 2 {
                        self.state = State::Done;
                        return Ok(0);
                    }
                }
            }
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(e) = self.expect.take() {
            e.before_body_read()?;
        }
        match self.state {
            State::Done => Ok(0),
            State::Length(left) => {
                let conn = self
                    .conn
                    .as_deref_mut()
                    .expect("a sized body has a connection");
                let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = conn.read(&mut out[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "unexpected EOF in request body",
                    ));
                }
                let left = left - n as u64;
                self.state = if left == 0 {
                    State::Done
                } else {
                    State::Length(left)
                };
                Ok(n)
            }
            State::Chunked(_) => self.read_chunked(out),
        }
    }
}
