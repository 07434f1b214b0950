//! examples/chat against plain-thread clients: every line reaches every
//! other client once and in order, a client that stops reading is dropped
//! while the others go on, an over-long line drops only its sender, and
//! the server returns once its listener is closed and its clients gone.

mod util;

#[path = "../examples/chat/hub.rs"]
mod hub;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use netpark::net::Listener;
use util::LIMIT;

/// A chat server on a 2-worker runtime on a background thread: its address,
/// its listener (to close it) and a channel that gets `()` once `serve`
/// has returned.
fn server(outbox_cap: usize) -> (String, Arc<Listener>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        netpark::Runtime::builder()
            .workers(2)
            .build()
            .unwrap()
            .block_on(move || {
                let ln = Arc::new(netpark::net::listen("tcp", "127.0.0.1:0").unwrap());
                tx.send((ln.addr().to_string(), ln.clone())).unwrap();
                hub::serve(&ln, outbox_cap, true);
                done_tx.send(()).unwrap();
            })
    });
    let (addr, ln) = rx.recv().unwrap();
    (addr, ln, done_rx)
}

/// A client: connected, its welcome read; returns its reader, its writer
/// and its id.
fn join(addr: &str) -> (BufReader<TcpStream>, TcpStream, u64) {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    let w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let id = line
        .strip_prefix("welcome #")
        .and_then(|s| s.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not a welcome: {line:?}"));
    (r, w, id)
}

/// Reads one line, without its newline; `None` at end of stream.
fn next_line(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches('\n').to_string()),
    }
}

#[test]
fn every_line_reaches_every_other_client_once_and_in_order() {
    const CLIENTS: usize = 8;
    const LINES: usize = 50;
    // Outboxes with room for everything a client is sent: none is slow.
    let (addr, ln, done) = server(CLIENTS * LINES);
    // Everyone is in before anyone talks: each Join is queued before its
    // welcome is written, so every Join precedes every line at the hub.
    let all_in = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (addr, all_in) = (addr.clone(), all_in.clone());
            std::thread::spawn(move || {
                let (mut r, mut w, me) = join(&addr);
                all_in.wait();
                let writer = std::thread::spawn(move || {
                    for k in 0..LINES {
                        writeln!(w, "line {k}").unwrap();
                    }
                    w
                });
                let mut next_from = std::collections::HashMap::<u64, usize>::new();
                for _ in 0..(CLIENTS - 1) * LINES {
                    let line = next_line(&mut r).expect("the server hung up");
                    let (from, text) = line.split_once(": ").expect("#id: text");
                    let from: u64 = from.trim_start_matches('#').parse().unwrap();
                    assert_ne!(from, me, "a client got its own line back");
                    let k = next_from.entry(from).or_default();
                    assert_eq!(text, format!("line {k}"), "lines from #{from} out of order");
                    *k += 1;
                }
                assert_eq!(next_from.len(), CLIENTS - 1);
                assert!(next_from.values().all(|&k| k == LINES));
                writer.join().unwrap()
            })
        })
        .collect();
    let conns: Vec<TcpStream> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    ln.close().unwrap();
    drop(conns);
    done.recv_timeout(LIMIT)
        .expect("serve returns once closed and empty");
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_the_others_go_on() {
    // Lines of 4 KiB, far more than the kernel buffers between the server
    // and a client that never reads, so its writer blocks and its outbox
    // fills. The talker sends a line only once the fast client has the
    // one before, so the fast client's outbox never holds more than one.
    const LINES: usize = 6000;
    let (addr, _ln, _done) = server(16);
    let (mut slow, _slow_w, _) = join(&addr);
    let (mut fast, _fast_w, _) = join(&addr);
    let (_talker_r, mut talker, talker_id) = join(&addr);
    let long = "x".repeat(4000);
    let (next_tx, next_rx) = mpsc::channel::<()>();
    let talk = std::thread::spawn(move || {
        for k in 0..LINES {
            writeln!(talker, "{k} {long}").unwrap();
            if next_rx.recv().is_err() {
                break;
            }
        }
        talker
    });
    for k in 0..LINES {
        let line = next_line(&mut fast).expect("the fast client was cut off");
        assert!(
            line.starts_with(&format!("#{talker_id}: {k} ")),
            "line {k}: {:.40}",
            line
        );
        next_tx.send(()).unwrap();
    }
    let _talker = talk.join().unwrap();
    // The slow client was dropped: what it now reads ends (its connection
    // was closed) well before all the lines it was sent.
    let start = Instant::now();
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match slow.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += buf[..n].iter().filter(|&&b| b == b'\n').count(),
        }
        assert!(start.elapsed() < LIMIT, "the slow client was never dropped");
    }
    assert!(
        got < LINES,
        "the slow client got all {got} lines: it was not dropped"
    );
}

#[test]
fn a_line_over_the_limit_drops_only_its_sender() {
    let (addr, _ln, _done) = server(256);
    let (mut rude, mut rude_w, _) = join(&addr);
    let (mut a, mut a_w, a_id) = join(&addr);
    let (mut b, _b_w, _) = join(&addr);
    rude_w.write_all(&vec![b'x'; hub::MAX_LINE + 10]).unwrap();
    assert_eq!(
        next_line(&mut rude),
        None,
        "the server kept a client with an over-long line"
    );
    writeln!(a_w, "still here").unwrap();
    assert_eq!(
        next_line(&mut b).as_deref(),
        Some(format!("#{a_id}: still here").as_str())
    );
    // Nothing from the dropped client reached the others.
    writeln!(a_w, "and again").unwrap();
    assert_eq!(
        next_line(&mut b).as_deref(),
        Some(format!("#{a_id}: and again").as_str())
    );
    a.get_mut()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(next_line(&mut a), None, "a got a line it did not expect");
}
