//! `close(2)` runs once per socket, whatever is called on it after `close`.
//!
//! Alone in its test binary: the test makes a freed fd number name another
//! file with `dup2`, which would close an fd another test thread had just
//! opened under that number.

mod util;

use std::os::fd::AsRawFd;
use std::time::Instant;

use netpark_net::{is_closed, TcpListener, TcpStream, UdpSocket};
use util::is_open;

/// Makes `fd`, freed by a close, name a fresh pipe, as the kernel does when
/// the next socket or file gets the lowest free number. Returns the pipe's
/// other end.
fn reuse_number(fd: i32) -> std::fs::File {
    assert!(!is_open(fd), "fd {fd} is still open after close");
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    if fds[0] != fd {
        // SAFETY: `fd` is free (checked above) and only this test thread
        // opens fds in this binary, so dup2 closes nothing; fds[0] is ours,
        // and duplicated at `fd` before it is closed.
        unsafe {
            assert_eq!(libc::dup2(fds[0], fd), fd);
            libc::close(fds[0]);
        }
    }
    // SAFETY: fds[1] is ours and owned by nothing else.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fds[1]) }
}

#[test]
fn calls_on_a_closed_socket_never_close_its_old_fd_number_again() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
    let n = c.as_raw_fd();
    c.close().unwrap();
    let _keep = reuse_number(n);

    // Each of these used to take a reference on the closed fd, find it
    // closed, drop the reference, and, being the "last" one, run the close
    // protocol's destroy again: close(2) on whatever the number named now.
    assert!(is_closed(&c.read(&mut [0u8; 4]).unwrap_err()));
    assert!(is_closed(&c.write(b"x").unwrap_err()));
    assert!(c.set_nodelay(true).is_err());
    assert!(c.set_read_deadline(Some(Instant::now())).is_err());
    assert!(is_closed(&c.close().unwrap_err()));
    drop(c);
    assert!(is_open(n), "an operation on a closed socket closed fd {n}");

    let n = ln.as_raw_fd();
    ln.close().unwrap();
    let _keep = reuse_number(n);
    assert!(is_closed(&ln.accept().unwrap_err()));
    drop(ln);
    assert!(is_open(n), "accept on a closed listener closed fd {n}");

    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let n = u.as_raw_fd();
    u.close().unwrap();
    let _keep = reuse_number(n);
    assert!(is_closed(&u.recv_from(&mut [0u8; 4]).unwrap_err()));
    drop(u);
    assert!(is_open(n), "recv_from on a closed UDP socket closed fd {n}");
}
