//! The reactor and PollDesc on real fds (pipes): readiness, close, stale
//! events, deadlines, concurrent reader and writer.

mod util;

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime::{self as rt, error, Mode, PollDesc};
use util::{pipe, with_runtime, within, LIMIT};

fn read_some(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads into a live buffer.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_some(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: writes from a live buffer.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Reads with the retry loop shape: prepare, syscall, wait on EAGAIN.
fn blocking_read(pd: &PollDesc, buf: &mut [u8]) -> io::Result<usize> {
    pd.prepare(Mode::Read)?;
    loop {
        match read_some(pd.fd(), buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => pd.wait(Mode::Read)?,
            r => return r,
        }
    }
}

#[test]
fn readiness_that_arrives_before_the_park_is_not_lost() {
    with_runtime(1, LIMIT, || {
        let (r, w) = pipe();
        let pd = PollDesc::open(r.as_raw_fd()).unwrap();
        // Register the fd by waiting once with data already there.
        write_some(w.as_raw_fd(), b"x").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(blocking_read(&pd, &mut buf).unwrap(), 1);
        // The writer runs and finishes before the reader parks.
        let w = Arc::new(w);
        let w2 = w.clone();
        rt::spawn(move || write_some(w2.as_raw_fd(), b"yz").unwrap())
            .join()
            .unwrap();
        assert_eq!(blocking_read(&pd, &mut buf).unwrap(), 2);
        pd.evict();
        pd.close();
    });
}

#[test]
fn a_blocked_reader_wakes_when_data_arrives() {
    with_runtime(2, LIMIT, || {
        let (r, w) = pipe();
        let pd = PollDesc::open(r.as_raw_fd()).unwrap();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 8];
            let n = blocking_read(&pd, &mut buf).unwrap();
            pd.evict();
            pd.close();
            drop(r);
            buf[..n].to_vec()
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        write_some(w.as_raw_fd(), b"hello").unwrap();
        assert_eq!(reader.join().unwrap(), b"hello");
    });
}

#[test]
fn close_wakes_a_blocked_reader_with_use_of_closed_connection() {
    with_runtime(2, LIMIT, || {
        let (r, _w) = pipe();
        let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
        let pd2 = pd.clone();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 8];
            blocking_read(&pd2, &mut buf)
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        pd.evict();
        let e = reader.join().unwrap().unwrap_err();
        assert!(error::is_closed(&e), "{e}");
        assert_eq!(e.to_string(), "use of closed network connection");
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
        // Later operations fail the same way.
        assert!(error::is_closed(&pd.prepare(Mode::Read).unwrap_err()));
        pd.close();
    });
}

#[test]
fn close_wakes_a_blocked_plain_thread() {
    let (r, _w) = pipe();
    let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
    let pd2 = pd.clone();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        blocking_read(&pd2, &mut buf)
    });
    std::thread::sleep(Duration::from_millis(20));
    pd.evict();
    let e = within(LIMIT, move || t.join().unwrap()).unwrap_err();
    assert!(error::is_closed(&e));
    pd.close();
}

#[test]
fn a_stale_event_for_a_reused_fd_number_wakes_nobody() {
    with_runtime(1, LIMIT, || {
        // Old registration: a readable pipe whose event may still be queued.
        let (r1, w1) = pipe();
        let old = PollDesc::open(r1.as_raw_fd()).unwrap();
        let old_token = old.token();
        write_some(w1.as_raw_fd(), b"x").unwrap();
        let mut buf = [0u8; 4];
        blocking_read(&old, &mut buf).unwrap();
        write_some(w1.as_raw_fd(), b"y").unwrap();
        old.evict();
        old.close();
        let n = r1.into_raw_fd();
        // SAFETY: closing the fd we own; its number becomes free for reuse.
        unsafe { libc::close(n) };
        // The slot goes back to the poll cache, which hands it out next.
        drop(old);
        // New fd, likely the same number and slot, new generation.
        let (r2, _w2) = pipe();
        let new = PollDesc::open(r2.as_raw_fd()).unwrap();
        assert_ne!(
            new.token(),
            old_token,
            "a new registration never reuses a token"
        );
        // The new fd has no data: a read deadline must expire instead of a stale wake.
        new.set_deadline(
            true,
            false,
            Some(Instant::now() + Duration::from_millis(50)),
        );
        let e = blocking_read(&new, &mut buf).unwrap_err();
        assert!(error::is_timeout(&e), "expected a timeout, got {e}");
        new.evict();
        new.close();
        drop(w1);
    });
}

#[test]
fn a_read_deadline_fires_then_the_fd_stays_usable() {
    with_runtime(1, LIMIT, || {
        let (r, w) = pipe();
        let pd = PollDesc::open(r.as_raw_fd()).unwrap();
        pd.set_deadline(
            true,
            false,
            Some(Instant::now() + Duration::from_millis(30)),
        );
        let t = Instant::now();
        let mut buf = [0u8; 4];
        let e = blocking_read(&pd, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "i/o timeout");
        assert!(t.elapsed() >= Duration::from_millis(30));
        pd.set_deadline(true, false, None);
        write_some(w.as_raw_fd(), b"ok").unwrap();
        assert_eq!(blocking_read(&pd, &mut buf).unwrap(), 2);
        pd.evict();
        pd.close();
    });
}

#[test]
fn a_deadline_extended_while_blocked_takes_effect() {
    with_runtime(2, LIMIT, || {
        let (r, _w) = pipe();
        let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
        pd.set_deadline(
            true,
            false,
            Some(Instant::now() + Duration::from_millis(50)),
        );
        let pd2 = pd.clone();
        let t = Instant::now();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 4];
            blocking_read(&pd2, &mut buf)
        });
        rt::sleep(Duration::from_millis(10)).unwrap();
        pd.set_deadline(
            true,
            false,
            Some(Instant::now() + Duration::from_millis(200)),
        );
        let e = reader.join().unwrap().unwrap_err();
        assert!(error::is_timeout(&e));
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "extended deadline honoured: {:?}",
            t.elapsed()
        );
        pd.evict();
        pd.close();
    });
}

#[test]
fn a_deadline_cleared_while_blocked_lets_the_read_finish() {
    with_runtime(2, LIMIT, || {
        let (r, w) = pipe();
        let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
        pd.set_deadline(
            true,
            false,
            Some(Instant::now() + Duration::from_millis(50)),
        );
        let pd2 = pd.clone();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 4];
            blocking_read(&pd2, &mut buf)
        });
        rt::sleep(Duration::from_millis(10)).unwrap();
        pd.set_deadline(true, false, None);
        rt::sleep(Duration::from_millis(100)).unwrap();
        write_some(w.as_raw_fd(), b"late").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 4);
        pd.evict();
        pd.close();
    });
}

#[test]
fn a_deadline_in_the_past_fails_a_blocked_read_at_once() {
    with_runtime(2, LIMIT, || {
        let (r, _w) = pipe();
        let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
        let pd2 = pd.clone();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 4];
            blocking_read(&pd2, &mut buf)
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        let t = Instant::now();
        pd.set_deadline(true, true, Some(Instant::now() - Duration::from_secs(1)));
        assert!(error::is_timeout(&reader.join().unwrap().unwrap_err()));
        assert!(t.elapsed() < Duration::from_secs(2));
        pd.evict();
        pd.close();
    });
}

#[test]
fn a_reader_and_a_writer_block_on_one_fd_at_once() {
    with_runtime(2, LIMIT, || {
        // A socketpair: one end both read and written by two tasks.
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two new fds.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0);
        use std::os::fd::FromRawFd;
        // SAFETY: both fds are new and ours.
        let (a, b): (OwnedFd, OwnedFd) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let pd = std::sync::Arc::new(PollDesc::open(a.as_raw_fd()).unwrap());
        // Fill a's send buffer so a writer blocks.
        let chunk = vec![7u8; 65536];
        while write_some(a.as_raw_fd(), &chunk).is_ok() {}
        let (pdr, pdw) = (pd.clone(), pd.clone());
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 4];
            blocking_read(&pdr, &mut buf)
        });
        let writer = rt::spawn(move || {
            pdw.prepare(Mode::Write)?;
            loop {
                match write_some(pdw.fd(), b"w") {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => pdw.wait(Mode::Write)?,
                    r => return r,
                }
            }
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        let dump = rt::dump();
        let fd = a.as_raw_fd();
        assert!(
            dump.contains(&format!("read fd {fd}")) && dump.contains(&format!("write fd {fd}")),
            "{dump}"
        );
        // Wake the reader by writing to b, the writer by draining b.
        write_some(b.as_raw_fd(), b"r").unwrap();
        let mut sink = vec![0u8; 1 << 20];
        while read_some(b.as_raw_fd(), &mut sink).is_ok() {}
        assert_eq!(reader.join().unwrap().unwrap(), 1);
        assert_eq!(writer.join().unwrap().unwrap(), 1);
        pd.evict();
        pd.close();
    });
}
