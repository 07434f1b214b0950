//! The chat server's parts (Go's classic broadcast server): one hub task
//! owns the set of clients; every connection has a reader (its own task)
//! and a writer task fed by a bounded outbox. They talk only through
//! channels, so no lock guards the client set.
//!
//! ```text
//!   reader task ──Join / Line / Leave──► events ──► hub task
//!                                                    │ a Line: try_send to
//!                                                    │ every other outbox
//!   writer task ◄──────── outbox (cap lines) ◄───────┘
//! ```
//!
//! A client whose outbox is full reads slower than the room talks: the hub
//! drops it rather than wait (a send that waited would stall every other
//! client behind one), the way Go's gorilla/websocket chat does, and closes
//! its connection, which wakes its writer (blocked on a full socket) and
//! its reader with "use of closed network connection".
//!
//! Included by `tests/chat.rs` too.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use netpark::net::{Conn, Listener};
use netpark::sync::{channel, Receiver, Sender};

/// The longest line a client may send; a longer one drops the client.
pub const MAX_LINE: usize = 4096;

/// What the readers tell the hub.
pub enum Event {
    /// A client connected; its lines go into `outbox`, and `conn` is
    /// closed if it is dropped.
    Join {
        id: u64,
        outbox: Sender<Arc<str>>,
        conn: Arc<Conn>,
    },
    /// A line from client `from`, without its newline.
    Line { from: u64, text: String },
    /// Client `id` is gone (its peer closed, or it was dropped).
    Leave { id: u64 },
}

/// Serves chat on `ln` until it is closed: accepts, and runs the hub. Each
/// client's outbox holds `outbox_cap` lines. Returns once the listener is
/// closed and every client has left.
pub fn serve(ln: &Listener, outbox_cap: usize, quiet: bool) {
    let (events, inbox) = channel::<Event>(1024);
    let hub = netpark::spawn(move || hub(inbox, quiet));
    let mut next_id = 0;
    loop {
        let conn = match ln.accept() {
            Ok(conn) => conn,
            // Go's errors.Is(err, net.ErrClosed): the server is stopping.
            Err(e) if netpark::net::is_closed(&e) => break,
            // Out of fds and the like: accept has already backed off.
            Err(e) => {
                eprintln!("chat: {e}");
                continue;
            }
        };
        next_id += 1;
        let (id, events) = (next_id, events.clone());
        netpark::spawn(move || client(conn, id, events, outbox_cap));
    }
    // The hub ends when the last `Sender` goes: ours now, the readers'
    // as their clients leave.
    drop(events);
    hub.join().ok();
}

/// The hub: the one owner of the client set.
pub fn hub(inbox: Receiver<Event>, quiet: bool) {
    let mut clients: HashMap<u64, (Sender<Arc<str>>, Arc<Conn>)> = HashMap::new();
    for ev in &inbox {
        match ev {
            Event::Join { id, outbox, conn } => {
                if !quiet {
                    println!("chat: #{id} joined ({} here)", clients.len() + 1);
                }
                clients.insert(id, (outbox, conn));
            }
            Event::Leave { id } => {
                if clients.remove(&id).is_some() && !quiet {
                    println!("chat: #{id} left ({} here)", clients.len());
                }
            }
            Event::Line { from, text } => {
                let line: Arc<str> = format!("#{from}: {text}\n").into();
                // Never wait on one client: a full outbox is a slow reader.
                clients.retain(|&id, (outbox, conn)| {
                    if id == from || outbox.try_send(line.clone()).is_ok() {
                        return true;
                    }
                    if !quiet {
                        println!("chat: #{id} dropped (reads too slowly)");
                    }
                    conn.close().ok();
                    false
                });
            }
        }
    }
}

/// One connection: starts its writer, then reads lines for the hub until
/// the peer closes, sends a line over [`MAX_LINE`], or is dropped.
pub fn client(conn: Conn, id: u64, events: Sender<Event>, outbox_cap: usize) {
    let conn = Arc::new(conn);
    let (outbox, lines) = channel::<Arc<str>>(outbox_cap);
    let welcome: Arc<str> = format!("welcome #{id}\n").into();
    outbox.try_send(welcome).ok();
    let join = Event::Join {
        id,
        outbox,
        conn: conn.clone(),
    };
    if events.send(join).is_err() {
        return; // the server is stopping
    }
    let writer = {
        let conn = conn.clone();
        netpark::spawn(move || {
            for line in &lines {
                if conn.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            // The hub dropped our outbox (we left), or the connection is
            // gone: either way it is done, and the reader's read ends.
            conn.close().ok();
        })
    };
    let r = read_lines(&conn, |text| {
        events.send(Event::Line { from: id, text }).is_ok()
    });
    match r {
        // Closed here (by the writer, or by the hub for reading too
        // slowly), or a peer that hung up with lines unread (a reset):
        // a leave like any other.
        Err(e) if netpark::net::is_closed(&e) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => eprintln!("chat: #{id}: {e}"),
        Ok(()) => {}
    }
    events.send(Event::Leave { id }).ok();
    writer.join().ok();
}

/// Reads `conn` line by line into `f` until end of stream or `f` says stop.
///
/// # Errors
///
/// The read's error, or `InvalidData` for a line over [`MAX_LINE`] bytes
/// or not UTF-8.
fn read_lines(conn: &Conn, mut f: impl FnMut(String) -> bool) -> io::Result<()> {
    let mut r = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        // One byte past the limit tells a long line from one that fits.
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            if n > MAX_LINE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line over {MAX_LINE} bytes"),
                ));
            }
            // The last line, unterminated at end of stream: keep it.
        } else {
            line.pop();
        }
        let text = String::from_utf8(std::mem::take(&mut line))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "line is not UTF-8"))?;
        if !f(text.trim_end_matches('\r').to_string()) {
            return Ok(());
        }
    }
}
