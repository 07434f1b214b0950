//! Load for `benches/proxy_compare.sh`: `bulk_load sink PORT` accepts and
//! discards; `bulk_load send ADDR MIB CONNS` sends MIB mebibytes over CONNS
//! connections at once and prints the seconds it took. Plain std threads,
//! so the load is the same whatever the proxy is. With no arguments (as
//! `cargo test --benches` runs it) it exits at once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("sink") => {
            let ln = TcpListener::bind(("127.0.0.1", args[1].parse::<u16>().unwrap())).unwrap();
            for c in ln.incoming() {
                let mut c = c.unwrap();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 20];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                });
            }
        }
        Some("send") => {
            let addr = args[1].clone();
            let mib: u64 = args[2].parse().unwrap();
            let conns: u64 = args[3].parse().unwrap();
            let start = Instant::now();
            let per = (mib << 20) / conns;
            let threads: Vec<_> = (0..conns)
                .map(|_| {
                    let addr = addr.clone();
                    std::thread::spawn(move || {
                        let mut s = TcpStream::connect(addr).unwrap();
                        let buf = vec![0x5au8; 1 << 20];
                        let mut left = per;
                        while left > 0 {
                            let n = left.min(buf.len() as u64) as usize;
                            s.write_all(&buf[..n]).unwrap();
                            left -= n as u64;
                        }
                        s.shutdown(std::net::Shutdown::Write).unwrap();
                        // Wait for the proxy to pass on the close.
                        let _ = s.read(&mut [0u8; 1]);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            println!("{:.3}", start.elapsed().as_secs_f64());
        }
        _ => {}
    }
}
