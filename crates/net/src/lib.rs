//! netpark's net: Go's `net` package on netpark's runtime.
//!
//! Every socket is non-blocking and has a `PollDesc` in the runtime's poll cache.
//! An operation tries its syscall; on `EAGAIN` the calling task parks on that
//! direction of the fd and the worker runs other tasks until the reactor
//! reports readiness (Go's `internal/poll.FD` over `runtime.netpoll`). Outside
//! a runtime the same call parks the calling OS thread instead, so the API works
//! from a plain `main` too.
//!
//! | Go | netpark |
//! |---|---|
//! | `net.Listen("tcp", ":0")` | [`listen`]`("tcp", ":0")`, [`TcpListener::bind`], [`ListenConfig`] |
//! | `net.Dial("tcp", addr)` | [`dial()`]`("tcp", addr)`, [`TcpStream::connect`], [`Dialer`] |
//! | `Listener.Accept` | [`TcpListener::accept`], [`Listener::accept`] |
//! | `Conn.Read` / `Write` / `Close` | [`TcpStream::read`] / [`write_all`](TcpStream::write_all) (whole, never interleaved with another task's write) / [`close`](TcpStream::close), `std::io::{Read, Write}` |
//! | `SetDeadline`, `SetReadDeadline`, … | [`TcpStream::set_deadline`], … (`Option<Instant>`; `None` is Go's zero time) |
//! | `net.ErrClosed` | [`is_closed`] (kind `NotConnected`) |
//! | `os.ErrDeadlineExceeded` | [`is_timeout`] (kind `TimedOut`) |
//! | `*net.OpError` | [`OpError`] inside the `io::Error`; [`os_error`] for the errno |
//!
//! # Example
//!
//! ```
//! use std::io::Read;
//! netpark_runtime::run(|| {
//!     let ln = netpark_net::listen("tcp", "127.0.0.1:0").unwrap();
//!     let addr = ln.addr().to_string();
//!     let server = netpark_runtime::spawn(move || {
//!         let mut c = ln.accept().unwrap();
//!         let mut buf = [0; 5];
//!         c.read_exact(&mut buf).unwrap();
//!         c.write_all(&buf).unwrap(); // inherent: Go's Write, takes &self
//!     });
//!     let mut c = netpark_net::dial("tcp", &addr).unwrap();
//!     c.write_all(b"hello").unwrap();
//!     let mut buf = [0; 5];
//!     c.read_exact(&mut buf).unwrap();
//!     assert_eq!(&buf, b"hello");
//!     server.join().unwrap();
//! });
//! ```

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

#[cfg(not(target_os = "linux"))]
compile_error!("netpark supports Linux only (epoll, eventfd, splice).");

#[macro_use]
mod socket_methods;

mod addr;
mod conn;
mod dial;
mod error;
pub mod fd;
pub mod io;
mod sys;
mod tcp;
mod udp;
mod unix;

pub use addr::{join_host_port, lookup_ip, split_host_port};
pub use conn::{dial, listen, Addr, Conn, Listener};
pub use dial::Dialer;
pub use error::{
    is_cancelled, is_closed, is_timeout, op_error_of, os_error, ErrClosed, ErrTimeout, OpError,
};
pub use sys::UnixAddr;
pub use tcp::{
    listen_tcp, Control, Incoming, ListenConfig, TcpListener, TcpStream, DEFAULT_KEEP_ALIVE,
};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
