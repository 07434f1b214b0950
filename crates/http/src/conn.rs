//! `ConnReader`: the read side of one server connection, a buffer in front
//! of the socket. Headers are parsed from the buffer; bytes after them (a
//! body, pipelined requests) stay in it for the next reader.

#![forbid(unsafe_code)]

use std::io::{self, Read};

use netpark_net::TcpStream;

/// What a body reader needs of a connection: a buffer in front of a byte
/// stream (the server's socket, the client's).
pub(crate) trait Wire: Read {
    /// The bytes read and not yet consumed.
    fn buffered(&self) -> &[u8];
    /// Marks `n` buffered bytes as used.
    fn consume(&mut self, n: usize);
    /// Reads more into the buffer; 0 at end of stream.
    fn fill(&mut self) -> io::Result<usize>;
}

impl Wire for ConnReader<'_> {
    fn buffered(&self) -> &[u8] {
        ConnReader::buffered(self)
    }
    fn consume(&mut self, n: usize) {
        ConnReader::consume(self, n)
    }
    fn fill(&mut self) -> io::Result<usize> {
        ConnReader::fill(self)
    }
}

/// A buffered reader over a connection's socket.
pub(crate) struct ConnReader<'s> {
    /// The socket; `&TcpStream` reads (the response writes share it).
    stream: &'s TcpStream,
    /// Bytes read and not yet used are `buf[start..end]`.
    buf: Vec<u8>,
    /// First unused byte.
    start: usize,
    /// End of the bytes read.
    end: usize,
    /// The most the buffer may hold (the header limit plus slack).
    cap: usize,
}

impl<'s> ConnReader<'s> {
    pub(crate) fn new(stream: &'s TcpStream, cap: usize) -> ConnReader<'s> {
        ConnReader {
            stream,
            buf: vec![0; cap.min(8 * 1024)],
            start: 0,
            end: 0,
            cap,
        }
    }

    /// The bytes read and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes from the socket into the buffer: how many came (0
    /// at end of stream). Fails with `OutOfMemory` once the buffer holds
    /// `cap` bytes (the caller answers 431).
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= self.cap {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, "buffer full"));
            }
            let grown = (self.buf.len() * 2).min(self.cap);
            self.buf.resize(grown, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }
}

impl Read for ConnReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if out.len() >= self.buf.len() {
                // A large read skips the buffer.
                return self.stream.read(out);
            }
            if self.fill()? == 0 {
                return Ok(0);
            }
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        Ok(n)
    }
}
