//! The proxy's relay: each direction is one `netpark::io::copy` (splice
//! between the sockets); an ended direction's half-close is carried
//! across with `shutdown(Write)`; an idle connection is closed.
//!
//! Shared by `examples/proxy` and `tests/proxy.rs`.

use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark::io as npio;
use netpark::net::{self, Dialer, TcpListener, TcpStream};

/// What the proxy does.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where connections go (`HOST:PORT`).
    pub upstream: String,
    /// Close a connection that moved no byte either way for this long.
    pub idle: Option<Duration>,
    /// How long a dial of the upstream may take.
    pub dial_timeout: Duration,
}

/// Bytes moved by one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Client → upstream.
    pub up: u64,
    /// Upstream → client.
    pub down: u64,
}

/// Accepts forever, one task per connection; each logs one closing line.
pub fn serve(ln: TcpListener, cfg: Arc<Config>) -> io::Result<()> {
    loop {
        let (client, peer) = match ln.accept() {
            Ok(c) => c,
            Err(e) if net::is_closed(&e) => return Err(e),
            Err(e) => {
                log::warn!(target: "proxy", "{e}");
                continue;
            }
        };
        let cfg = cfg.clone();
        netpark::spawn(move || {
            let start = Instant::now();
            match relay(client, &cfg) {
                Ok(t) => log::info!(
                    target: "proxy",
                    "{peer} closed: {} B up, {} B down, {:?}",
                    t.up,
                    t.down,
                    start.elapsed()
                ),
                Err((t, e)) => log::info!(
                    target: "proxy",
                    "{peer} closed: {} B up, {} B down, {:?}: {e}",
                    t.up,
                    t.down,
                    start.elapsed()
                ),
            }
        });
    }
}

/// When either direction last moved a byte, in ms since `base`.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        let now = self.base.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// With an idle limit, a direction copies in pieces of this size, so its
/// read deadline is moved forward as bytes flow.
const PIECE: u64 = 4 << 20;

/// Copies `src` to `dst` until `src` ends; then half-closes `dst`.
fn pump(
    dst: &TcpStream,
    src: &TcpStream,
    idle: Option<Duration>,
    act: &Activity,
) -> (u64, io::Result<()>) {
    let mut total = 0;
    let result = loop {
        let r = match idle {
            None => npio::copy(&mut &*dst, &mut &*src),
            Some(d) => {
                if let Err(e) = src.set_read_deadline(Some(Instant::now() + d)) {
                    break Err(e);
                }
                npio::copy_n(&mut &*dst, &mut &*src, PIECE)
            }
        };
        match r {
            Ok(n) => {
                total += n;
                act.touch();
                if idle.is_none() {
                    break Ok(());
                }
            }
            // copy_n's end of file: the source ended.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                total += npio::done_before(&e);
                break Ok(());
            }
            Err(e) if net::is_timeout(&e) => {
                let n = npio::done_before(&e);
                total += n;
                if n > 0 {
                    act.touch();
                }
                let d = idle.expect("a deadline is set only with an idle limit");
                if act.idle_for() >= d {
                    break Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("idle for {d:?}"),
                    ));
                }
            }
            Err(e) => {
                total += npio::done_before(&e);
                break Err(e);
            }
        }
    };
    if result.is_ok() {
        // Carry the half-close across.
        let _ = dst.shutdown(Shutdown::Write);
    }
    (total, result)
}

/// Relays one client connection to the upstream until both directions
/// end; on an error in either, both sockets are closed.
pub fn relay(client: TcpStream, cfg: &Config) -> Result<Totals, (Totals, io::Error)> {
    let upstream = match Dialer::new()
        .timeout(cfg.dial_timeout)
        .dial("tcp", &cfg.upstream)
    {
        Ok(u) => u,
        Err(e) => {
            let _ = client.close();
            return Err((Totals::default(), e));
        }
    };
    let client = Arc::new(client);
    let upstream = Arc::new(upstream);
    let act = Arc::new(Activity {
        base: Instant::now(),
        last_ms: AtomicU64::new(0),
    });
    let (c, u, a, idle) = (client.clone(), upstream.clone(), act.clone(), cfg.idle);
    let down = netpark::spawn(move || {
        let r = pump(&c, &u, idle, &a);
        if r.1.is_err() {
            let _ = c.close();
            let _ = u.close();
        }
        r
    });
    let (up_bytes, up_result) = pump(&upstream, &client, cfg.idle, &act);
    if up_result.is_err() {
        let _ = client.close();
        let _ = upstream.close();
    }
    let (down_bytes, down_result) = down
        .join()
        .unwrap_or((0, Err(io::Error::other("relay task failed"))));
    let totals = Totals {
        up: up_bytes,
        down: down_bytes,
    };
    let _ = client.close();
    let _ = upstream.close();
    match up_result.and(down_result) {
        Ok(()) => Ok(totals),
        Err(e) => Err((totals, e)),
    }
}
