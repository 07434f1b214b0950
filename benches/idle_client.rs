//! Load for `benches/idle_conns.sh`: `idle_client ADDR N` opens N
//! connections, sends 16 bytes on each and reads the echo, prints `ready`,
//! and holds them until its standard input closes. With no arguments (as
//! `cargo test --benches` runs it) it exits at once.

use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() != 2 {
        return;
    }
    let n: usize = args[1].parse().expect("a connection count");
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(&args[0]).expect("connect");
        let msg = format!("{i:016}");
        s.write_all(msg.as_bytes()).unwrap();
        let mut back = [0u8; 16];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, msg.as_bytes());
        conns.push(s);
    }
    println!("ready");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(conns);
}
