//! The tokio peer of examples/proxy: `copy_bidirectional` per connection on
//! a current_thread runtime. `benches/proxy_compare.sh` runs it as
//! `tokio_proxy LISTEN UPSTREAM`; with no arguments (as `cargo test
//! --benches` runs it) it exits at once.

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() != 2 {
        return;
    }
    let (listen, upstream) = (args[0].clone(), args[1].clone());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let ln = tokio::net::TcpListener::bind(&listen).await.unwrap();
            loop {
                let (mut c, _) = ln.accept().await.unwrap();
                let up = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut u) = tokio::net::TcpStream::connect(&up).await {
                        let _ = c.set_nodelay(true);
                        let _ = u.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                    }
                });
            }
        });
}
