//! netpark's http: the shape of Go's `net/http`, as much as a file server,
//! a handler and a streaming upload need, on netpark's tasks and sockets.
//!
//! Each connection is one task, written in blocking style: read a request
//! header (parsed by `httparse`), call the [`Handler`], write the response,
//! repeat while the connection is kept alive. Timeouts are the socket's
//! deadlines, so a slow client costs one parked task. [`FileServer`] sends
//! file bodies with `netpark::io::copy_n`, which meets `sendfile` as Go's
//! `io.CopyN` meets `TCPConn.ReadFrom`.
//!
//! Go writes a file server in two lines; so does netpark:
//!
//! ```no_run
//! use netpark_http as http;
//! let files = http::strip_prefix("/static/", http::FileServer::new("./output"));
//! http::listen_and_serve("127.0.0.1:8000", files).unwrap();
//! ```
//!
//! | Go | netpark |
//! |---|---|
//! | `http.Handler`, `http.HandlerFunc` | [`Handler`], implemented for closures |
//! | `*http.Request` | [`Request`] (body: [`Body`], `Read`) |
//! | `http.ResponseWriter` | [`ResponseWriter`] (`Write`; [`ResponseWriter::send_file`]) |
//! | `http.Server{ReadHeaderTimeout, IdleTimeout, WriteTimeout, MaxHeaderBytes}` | [`Server`] |
//! | `http.ListenAndServe` | [`listen_and_serve`] |
//! | `http.FileServer(http.Dir(root))` | [`FileServer::new`] |
//! | `http.StripPrefix` | [`strip_prefix`] |
//! | `http.ServeMux`, `mux.Handle`, `mux.HandleFunc` | [`ServeMux`], [`ServeMux::handle`] |
//! | `http.Error`, `http.NotFound` | [`error`], [`not_found`] |
//! | `http.Post`, `http.Get` | [`post`], [`get`] |
//!
//! Every request is logged at `info` under target `netpark::http`: method,
//! target, status, body bytes, duration.

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

mod client;
mod conn;
mod fs;
mod headers;
mod mux;
mod request;
mod response;
mod server;
mod shutdown;
mod strip;

pub use client::{get, post, Response};
pub use fs::FileServer;
pub use headers::Headers;
pub use mux::ServeMux;
pub use request::{Body, Request};
pub use response::{error, not_found, status_text, ResponseWriter};
pub use server::{listen_and_serve, Server};
pub use shutdown::ServerHandle;
pub use strip::{strip_prefix, StripPrefix};

/// Answers requests (Go's `http.Handler`). Closures
/// `Fn(&mut ResponseWriter, &mut Request)` are handlers (Go's
/// `http.HandlerFunc`).
///
/// ```
/// use std::io::Write;
/// let hello = |w: &mut netpark_http::ResponseWriter<'_>, _r: &mut netpark_http::Request<'_>| {
///     w.headers_mut().set("Content-Type", "text/plain");
///     w.write_all(b"hello\n").unwrap();
/// };
/// let _server = netpark_http::Server::new(hello);
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Writes the response to `r` into `w`. A panic here is logged and
    /// closes this connection; the server goes on.
    fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>);
}

impl<F> Handler for F
where
    F: Fn(&mut ResponseWriter<'_>, &mut Request<'_>) + Send + Sync + 'static,
{
    fn serve(&self, w: &mut ResponseWriter<'_>, r: &mut Request<'_>) {
        self(w, r)
    }
}
