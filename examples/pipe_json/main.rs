//! Go's `io.Pipe` seed: JSON records encoded into a pipe and streamed as
//! an HTTP request body to a receiver in the same process.
//!
//! `cargo run --release --example pipe_json -- [--records N]`

#[path = "../common/mod.rs"]
mod common;
mod upload;

const USAGE: &str = "pipe_json: encode records into an io::pipe, POST the pipe, check the answer

usage: pipe_json [--records N]

  --records N   records to send (default 10000)";

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let flags = common::Flags::parse(USAGE);
    let n: u64 = flags.get("records", 10_000);
    let result = netpark::run(move || {
        let ln = netpark::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/records", ln.local_addr()?);
        netpark::spawn(move || netpark::http::Server::new(upload::receiver).serve(ln));
        let rss_before = vm_rss_kib();
        let out = upload::upload(&url, n)?;
        Ok::<_, std::io::Error>((out, rss_before, vm_rss_kib()))
    });
    match result {
        Ok((o, before, after)) => {
            println!(
                "sent {} records ({} bytes of JSON, value sum {}) through an io::pipe as one chunked POST",
                o.sent, o.bytes, o.sent_sum
            );
            println!(
                "receiver decoded {} records, value sum {}: {}",
                o.received,
                o.received_sum,
                if (o.received, o.received_sum) == (o.sent, o.sent_sum) {
                    "match"
                } else {
                    "MISMATCH"
                }
            );
            println!(
                "resident memory {before} KiB before, {after} KiB after (the pipe holds nothing)"
            );
            if (o.received, o.received_sum) != (o.sent, o.sent_sum) {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("pipe_json: {e}");
            std::process::exit(1);
        }
    }
}
