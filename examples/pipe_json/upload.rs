//! Go's `io.Pipe` seed, "from JSON to an HTTP request": one task encodes
//! records into a `PipeWriter` while `http::post` streams the `PipeReader`
//! as a chunked request body to a handler that decodes and checks them.
//! The pipe holds nothing: each write waits until the request has taken it.
//!
//! Shared by `examples/pipe_json` and `tests/pipe_json.rs`.

use std::io::{self, BufWriter, Write};

use netpark::http;
use serde_json::{json, Value};

/// What one run sent and what the receiver said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Records encoded.
    pub sent: u64,
    /// The sum of their `value` fields.
    pub sent_sum: u64,
    /// Bytes of JSON that went through the pipe.
    pub bytes: u64,
    /// The receiver's answer: records decoded.
    pub received: u64,
    /// The receiver's sum of `value`.
    pub received_sum: u64,
}

fn record(i: u64) -> Value {
    json!({ "id": i, "name": format!("record-{i}"), "value": i * 3 + 1, "tags": ["a", "b"] })
}

/// The receiver: decodes a stream of JSON records, checks that their ids
/// run 0, 1, 2, …, and answers `{"count": n, "sum": s}` (400 on a bad one).
pub fn receiver(w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>) {
    let mut count = 0u64;
    let mut sum = 0u64;
    for v in serde_json::Deserializer::from_reader(&mut r.body).into_iter::<Value>() {
        let ok = v.ok().and_then(|v| {
            (v["id"].as_u64()? == count && v["name"].as_str()? == format!("record-{count}"))
                .then(|| v["value"].as_u64())?
        });
        match ok {
            Some(value) => {
                count += 1;
                sum += value;
            }
            None => return http::error(w, &format!("bad record after {count}"), 400),
        }
    }
    w.headers_mut().set("Content-Type", "application/json");
    let _ = write!(w, "{}", json!({ "count": count, "sum": sum }));
}

/// Posts `n` records through a pipe to the receiver at `url`.
pub fn upload(url: &str, n: u64) -> io::Result<Outcome> {
    let (reader, writer) = netpark::io::pipe();
    let encoder = netpark::spawn(move || -> io::Result<(u64, u64)> {
        let mut out = BufWriter::with_capacity(16 * 1024, writer);
        let mut sum = 0;
        for i in 0..n {
            let r = record(i);
            sum += r["value"].as_u64().unwrap_or(0);
            serde_json::to_writer(&mut out, &r)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok((n, sum))
        // `out` (and the PipeWriter in it) drops here: the body ends.
    });
    let counted = CountingReader {
        inner: reader,
        bytes: 0,
    };
    let mut counted = counted;
    let resp = http::post(url, "application/x-ndjson", &mut counted)?;
    let (sent, sent_sum) = encoder
        .join()
        .map_err(|e| io::Error::other(format!("encoder: {e:?}")))??;
    if resp.status != 200 {
        return Err(io::Error::other(format!(
            "receiver answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )));
    }
    let v: Value = serde_json::from_slice(&resp.body)?;
    Ok(Outcome {
        sent,
        sent_sum,
        bytes: counted.bytes,
        received: v["count"].as_u64().unwrap_or(0),
        received_sum: v["sum"].as_u64().unwrap_or(0),
    })
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: io::Read> io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}
