//! Go's two-line file server, in Rust:
//!
//! ```text
//! http.Handle("/", http.StripPrefix("/static/", http.FileServer(http.Dir("./output"))))
//! http.ListenAndServe(":8000", nil)
//! ```
//!
//! `cargo run --release --example file_server -- --root DIR --addr HOST:PORT --workers N --prefix /static/ [--quiet]`
//!
//! Bodies go out by `sendfile` (`netpark::io::copy_n` meets the socket);
//! each request is logged on stderr unless `--quiet`.

mod common;

use netpark::http;

const USAGE: &str = "file_server: serve the files under a directory over HTTP/1.1

usage: file_server [--root DIR] [--addr HOST:PORT] [--workers N] [--prefix /static/] [--quiet]

  --root DIR         directory to serve (default .)
  --addr HOST:PORT   address to listen on (default 127.0.0.1:8000; :0 picks a port)
  --workers N        runtime worker threads (default: one per core)
  --prefix P         URL path prefix stripped before the file lookup (default /)
  --quiet            no access log";

fn main() {
    let flags = common::Flags::parse(USAGE);
    let root = flags.str("root", ".");
    let addr = flags.str("addr", "127.0.0.1:8000");
    let prefix = flags.str("prefix", "/");
    let workers: usize = flags.get(
        "workers",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    if !std::path::Path::new(&root).is_dir() {
        eprintln!("file_server: --root {root}: not a directory");
        std::process::exit(2);
    }
    if !prefix.starts_with('/') {
        eprintln!("file_server: --prefix {prefix}: must start with /");
        std::process::exit(2);
    }
    if !flags.has("quiet") {
        common::log_to_stderr(log::LevelFilter::Info);
    }
    let rt = netpark::Runtime::builder()
        .workers(workers.max(1))
        .name("file_server")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("file_server: cannot start runtime: {e}");
            std::process::exit(1);
        });
    let result = rt.block_on(move || {
        let ln = netpark::net::listen_tcp("tcp", &addr)?;
        println!(
            "file_server: serving {root} at http://{}{prefix} ({workers} worker(s))",
            ln.local_addr()?
        );
        // The two lines.
        let files = http::strip_prefix(&prefix, http::FileServer::new(&root));
        http::Server::new(files).serve(ln)
    });
    if let Err(e) = result {
        eprintln!("file_server: {e}");
        std::process::exit(1);
    }
}
