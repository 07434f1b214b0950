//! netpark: Go's netpoller model for Rust.
//!
//! Code is written in plain blocking style (`conn.read(&mut buf)?`); underneath,
//! every socket is non-blocking, registered once with an epoll reactor, and the
//! task that hits `EAGAIN` is parked and woken when its fd becomes ready.
//!
//! This facade re-exports the two crates:
//!
//! - [`netpark_runtime`] at the top level: [`run`], [`spawn`], [`Runtime`],
//!   [`sleep`], [`yield_now`], [`dump`], [`stats`], the [`task`] module, and
//!   [`sync::Mutex`], a lock whose waiters park instead of blocking a worker;
//! - [`netpark_net`] as [`net`]: `net::listen`, `net::dial`, `TcpStream`, …
//! - [`netpark_net::io`] as [`io`]: Go's `io` toolkit (`io::copy`,
//!   `copy_n`, `copy_buffer`, `read_full`, `read_at_least`, `pipe`,
//!   `os_pipe`), zero-copy (`splice`, `sendfile`, `copy_file_range`) when
//!   both ends are kernel objects; `stats().copy` says which path ran.
//! - [`netpark_http`] as [`http`]: Go's `net/http` shape: `Server`,
//!   `Handler`, `FileServer` (bodies by sendfile), `strip_prefix`,
//!   `listen_and_serve`, and a streaming `post`.
//!
//! ```
//! use std::io::Read;
//! use netpark::net;
//!
//! netpark::run(|| {
//!     let ln = net::listen("tcp", "127.0.0.1:0").unwrap();
//!     let addr = ln.addr().to_string();
//!     netpark::spawn(move || {
//!         let mut c = ln.accept().unwrap();
//!         let mut buf = [0; 4096];
//!         loop {
//!             let n = c.read(&mut buf).unwrap();
//!             if n == 0 { break; }
//!             c.write_all(&buf[..n]).unwrap();
//!         }
//!     });
//!     let mut c = net::dial("tcp", &addr).unwrap();
//!     c.write_all(b"ping").unwrap();
//!     let mut reply = [0; 4];
//!     c.read_exact(&mut reply).unwrap();
//!     assert_eq!(&reply, b"ping");
//! });
//! ```

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub use netpark_http as http;
pub use netpark_net as net;
pub use netpark_net::io;
pub use netpark_runtime::*;
