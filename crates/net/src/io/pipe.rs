//! `pipe`: Go's `io.Pipe`, a synchronous in-memory pipe between tasks (or
//! threads).
//!
//! Each write is offered to the readers and returns only once they have
//! taken all of it; readers take the offered bytes in order, several readers
//! sharing them; writes are serialised by a task-aware lock, so two writes
//! never interleave. Nothing waits in a thread-blocking way: a reader with
//! nothing to read and a writer whose bytes are not all taken park.
//!
//! # The state (under `Shared::state`)
//!
//! ```text
//!   offered[taken..]   bytes of the current write not yet taken (at most
//!                      CHUNK at a time; the writer copies its buffer in
//!                      pieces, so the pipe holds at most one piece)
//!
//!   state        who moves it                                      to
//!   ───────────  ────────────────────────────────────────────────  ───────────
//!   IDLE         the writer (holding `write_lock`): copies a        OFFERED
//!   (offered     piece into `offered`, wakes the readers
//!   empty)
//!   OFFERED      a reader: takes bytes, taken += n; on the last     TAKEN
//!                byte it wakes the writer
//!   TAKEN        the writer: clears `offered`; then the next        IDLE or
//!   (taken ==    piece, or returns                                  OFFERED
//!   len)
//!   OFFERED      the writer, seeing a close (or cancelled, or       IDLE
//!                timed out): clears `offered` and returns the
//!                count taken so far
//!   any          close / close_with_error / dropping the last       (flag set)
//!                handle of a side: sets that side's flag (the
//!                first error wins, as Go's `onceError`), wakes all
//! ```
//!
//! A reader checks in this order: its own side closed (`ErrClosedPipe`),
//! the writer's side closed (end of file, or the writer's error), bytes
//! offered, else wait. So after a writer's close, readers see the end at
//! once, as in Go, even if a write was pending (that write then returns
//! what was taken).
//!
//! Wakers are collected under the lock and woken after it is dropped.

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use netpark_runtime::sync::RawMutex;
use netpark_runtime::{current_unparker, current_waiter_id, park, Unparker, WaitReason};
use parking_lot::Mutex;

/// The most bytes a write offers at once; a longer write is offered in
/// pieces, each taken before the next.
const CHUNK: usize = 64 * 1024;

/// Creates a synchronous in-memory pipe (Go's `io.Pipe`): what is written to
/// the [`PipeWriter`] is read from the [`PipeReader`], with no buffering in
/// between: a write returns once readers have taken all of it.
///
/// Both halves are `Clone` (several readers share the bytes in order;
/// writes from several writers are serialised whole), work between tasks
/// on one worker or on different workers, and from plain threads. A side
/// is closed by `close`, `close_with_error`, or dropping its last handle.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// netpark_runtime::run(|| {
///     let (mut r, mut w) = netpark_net::io::pipe();
///     let writer = netpark_runtime::spawn(move || {
///         w.write_all(b"hello, reader").unwrap(); // waits for the reader
///     }); // w dropped: the reader sees the end
///     let mut s = String::new();
///     r.read_to_string(&mut s).unwrap();
///     assert_eq!(s, "hello, reader");
///     writer.join().unwrap();
/// });
/// ```
pub fn pipe() -> (PipeReader, PipeWriter) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            offered: Vec::new(),
            taken: 0,
            read_closed: None,
            write_closed: None,
            readers: Vec::new(),
            writer: None,
            reader_handles: 1,
            writer_handles: 1,
        }),
        write_lock: RawMutex::new(),
    });
    (
        PipeReader {
            shared: shared.clone(),
        },
        PipeWriter { shared },
    )
}

/// How a side was closed.
#[derive(Clone)]
enum Closed {
    /// By `close()` (or dropping the last handle): the other side sees
    /// end of file (readers) or `ErrClosedPipe` (writers).
    Plain,
    /// By `close_with_error(e)`: the other side sees `e`.
    With(Arc<io::Error>),
}

/// What both halves share.
struct Shared {
    /// The pipe's state; see the module docs.
    state: Mutex<State>,
    /// Held by a write from its first piece to its last (Go's `wrMu`).
    write_lock: RawMutex,
}

struct State {
    /// The current piece of the current write; written by the writer only.
    offered: Vec<u8>,
    /// How much of `offered` readers have taken; advanced by readers, reset
    /// by the writer.
    taken: usize,
    /// Set once by the reader side's close; read by both.
    read_closed: Option<Closed>,
    /// Set once by the writer side's close; read by both.
    write_closed: Option<Closed>,
    /// Readers waiting for bytes or a close; drained by whoever wakes them.
    readers: Vec<Unparker>,
    /// The writer waiting for its piece to be taken.
    writer: Option<Unparker>,
    /// Live `PipeReader` handles; the last one dropped closes the side.
    reader_handles: usize,
    /// Live `PipeWriter` handles; the last one dropped closes the side.
    writer_handles: usize,
}

/// Go's `io.ErrClosedPipe`: "io: read/write on closed pipe", kind `BrokenPipe`.
fn closed_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "io: read/write on closed pipe")
}

/// An error handed to `close_with_error`, as each waiter receives it.
#[derive(Debug)]
struct CloseError(Arc<io::Error>);

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for CloseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

fn shared_error(e: &Arc<io::Error>) -> io::Error {
    io::Error::new(e.kind(), CloseError(e.clone()))
}

impl State {
    /// What a read sees once a side is closed (Go's `readCloseError`), or
    /// `None` while reading may go on. `Some(Ok(()))` is end of file.
    fn read_end(&self) -> Option<io::Result<()>> {
        if self.read_closed.is_some() {
            return Some(Err(closed_pipe()));
        }
        match &self.write_closed {
            None => None,
            Some(Closed::Plain) => Some(Ok(())),
            Some(Closed::With(e)) => Some(Err(shared_error(e))),
        }
    }

    /// What a write sees once a side is closed (Go's `writeCloseError`).
    fn write_end(&self) -> Option<io::Error> {
        if self.write_closed.is_some() {
            return Some(closed_pipe());
        }
        match &self.read_closed {
            None => None,
            Some(Closed::Plain) => Some(closed_pipe()),
            Some(Closed::With(e)) => Some(shared_error(e)),
        }
    }

    /// Everyone waiting, to be woken after the lock is dropped.
    fn all_waiters(&mut self) -> Vec<Unparker> {
        let mut w = std::mem::take(&mut self.readers);
        w.extend(self.writer.take());
        w
    }
}

fn wake(waiters: Vec<Unparker>) {
    for w in waiters {
        w.unpark();
    }
}

impl Shared {
    /// Closes one side; the first close of a side decides its error.
    fn close(&self, reader_side: bool, how: Closed) {
        let waiters = {
            let mut s = self.state.lock();
            let flag = if reader_side {
                &mut s.read_closed
            } else {
                &mut s.write_closed
            };
            if flag.is_none() {
                *flag = Some(how);
            }
            s.all_waiters()
        };
        // Lock dropped: wake outside it.
        wake(waiters);
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let me = current_waiter_id();
        loop {
            let writer = {
                let mut s = self.state.lock();
                if let Some(end) = s.read_end() {
                    return end.map(|()| 0);
                }
                if s.taken < s.offered.len() {
                    let n = buf.len().min(s.offered.len() - s.taken);
                    buf[..n].copy_from_slice(&s.offered[s.taken..s.taken + n]);
                    s.taken += n;
                    let writer = if s.taken == s.offered.len() {
                        s.writer.take()
                    } else {
                        None
                    };
                    Some((n, writer))
                } else {
                    if !s.readers.iter().any(|u| u.id() == me) {
                        s.readers.push(current_unparker());
                    }
                    None
                }
            };
            match writer {
                Some((n, w)) => {
                    // Lock dropped: wake the writer outside it.
                    if let Some(w) = w {
                        w.unpark();
                    }
                    return Ok(n);
                }
                None => {
                    if let Err(e) = park(WaitReason::PipeRead, None) {
                        self.state.lock().readers.retain(|u| u.id() != me);
                        return Err(e);
                    }
                }
            }
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let _w = self.write_lock.lock()?;
        let mut done = 0;
        while done < buf.len() {
            let piece = &buf[done..buf.len().min(done + CHUNK)];
            let readers = {
                let mut s = self.state.lock();
                if let Some(e) = s.write_end() {
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
                s.offered.clear();
                s.offered.extend_from_slice(piece);
                s.taken = 0;
                std::mem::take(&mut s.readers)
            };
            // Lock dropped: wake the readers outside it.
            wake(readers);
            match self.wait_taken() {
                Ok(()) => done += piece.len(),
                Err((taken, e)) => {
                    done += taken;
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
            }
        }
        Ok(done)
    }

    /// Waits until readers have taken the whole offered piece; on a close or
    /// a failed wait, withdraws the rest and says how much was taken.
    fn wait_taken(&self) -> Result<(), (usize, io::Error)> {
        loop {
            let failure = {
                let mut s = self.state.lock();
                if s.taken == s.offered.len() {
                    s.offered.clear();
                    s.taken = 0;
                    return Ok(());
                }
                match s.write_end() {
                    Some(e) => Some(e),
                    None => {
                        s.writer = Some(current_unparker());
                        None
                    }
                }
            };
            let failure = match failure {
                Some(e) => Some(e),
                None => park(WaitReason::PipeWrite, None).err(),
            };
            if let Some(e) = failure {
                let mut s = self.state.lock();
                if s.taken == s.offered.len() {
                    // Taken in full just before the close or the cancel.
                    s.offered.clear();
                    s.taken = 0;
                    return Ok(());
                }
                let taken = s.taken;
                s.offered.clear();
                s.taken = 0;
                s.writer = None;
                return Err((taken, e));
            }
        }
    }
}

/// The read half of a [`pipe`] (Go's `*io.PipeReader`).
pub struct PipeReader {
    /// The pipe; shared with every handle of both halves.
    shared: Arc<Shared>,
}

/// The write half of a [`pipe`] (Go's `*io.PipeWriter`).
pub struct PipeWriter {
    /// The pipe; shared with every handle of both halves.
    shared: Arc<Shared>,
}

impl PipeReader {
    /// Reads bytes a writer offers, parking until one does (Go's
    /// `PipeReader.Read`). `Ok(0)` once the writer side is closed plainly.
    ///
    /// # Errors
    ///
    /// The writer's `close_with_error` error; `BrokenPipe` ("io: read/write
    /// on closed pipe") after this side was closed; `Interrupted` when the
    /// task is cancelled while it waits.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.read(buf)
    }

    /// Closes the reader side: writes, pending and later, fail with
    /// `BrokenPipe` (Go's `PipeReader.Close`).
    pub fn close(&self) {
        self.shared.close(true, Closed::Plain);
    }

    /// Closes the reader side: writes, pending and later, fail with `err`
    /// (Go's `PipeReader.CloseWithError`). A side already closed keeps its
    /// first error.
    pub fn close_with_error(&self, err: io::Error) {
        self.shared.close(true, Closed::With(Arc::new(err)));
    }
}

impl PipeWriter {
    /// Offers all of `buf` and returns once readers have taken it (Go's
    /// `PipeWriter.Write`); a write of nothing returns `Ok(0)` at once (a
    /// Rust reader takes `Ok(0)` as end of file, so none is offered).
    ///
    /// # Errors
    ///
    /// Once either side is closed: the reader's `close_with_error` error,
    /// else `BrokenPipe`; `Interrupted` when cancelled. When part of `buf`
    /// was taken first, that count is returned instead, and the next write
    /// fails.
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.shared.write(buf)
    }

    /// Closes the writer side: readers see end of file after the last
    /// write (Go's `PipeWriter.Close`).
    pub fn close(&self) {
        self.shared.close(false, Closed::Plain);
    }

    /// Closes the writer side: readers get `err` (Go's
    /// `PipeWriter.CloseWithError`). A side already closed keeps its first error.
    pub fn close_with_error(&self, err: io::Error) {
        self.shared.close(false, Closed::With(Arc::new(err)));
    }
}

impl Clone for PipeReader {
    fn clone(&self) -> PipeReader {
        self.shared.state.lock().reader_handles += 1;
        PipeReader {
            shared: self.shared.clone(),
        }
    }
}

impl Clone for PipeWriter {
    fn clone(&self) -> PipeWriter {
        self.shared.state.lock().writer_handles += 1;
        PipeWriter {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let last = {
            let mut s = self.shared.state.lock();
            s.reader_handles -= 1;
            s.reader_handles == 0
        };
        if last {
            self.close();
        }
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        let last = {
            let mut s = self.shared.state.lock();
            s.writer_handles -= 1;
            s.writer_handles == 0
        };
        if last {
            self.close();
        }
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeReader").finish_non_exhaustive()
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter").finish_non_exhaustive()
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.read(buf)
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.read(buf)
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
