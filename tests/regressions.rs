//! Regressions, named by the issue they were found under.

mod util;

use std::io::Read;
use std::net::Shutdown;

use netpark::net::{TcpListener, TcpStream};

/// Found while building issue 3: a short read followed by a FIN that arrived in
/// the same epoll edge as the data left the next read parked forever (the
/// short-read shortcut waited for an edge that never came).
#[test]
fn issue_3_fin_arriving_with_the_last_data_is_not_missed() {
    util::with_runtime(1, || {
        for _ in 0..200 {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let client = netpark::spawn(move || {
                let c = TcpStream::connect(addr).unwrap();
                c.write_all(b"last words").unwrap();
                c.shutdown(Shutdown::Write).unwrap();
            });
            let (s, _) = l.accept().unwrap();
            client.join().unwrap();
            let mut got = Vec::new();
            (&s).read_to_end(&mut got).unwrap();
            assert_eq!(got, b"last words");
        }
    });
}
