//! Unix stream sockets: path and abstract names, socket file cleanup.

mod util;

use std::io::Read;

use netpark_net::{dial, listen, Conn, UnixAddr, UnixListener, UnixStream};
use netpark_runtime as rt;
use util::with_runtime;

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("netpark-{}-{name}.sock", std::process::id()))
}

#[test]
fn path_socket_echoes_and_the_file_is_removed_when_the_listener_drops() {
    let path = temp_path("path");
    let p2 = path.clone();
    with_runtime(2, move || {
        let l = UnixListener::bind(&p2).unwrap();
        assert!(p2.exists());
        let server = rt::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4];
            (&s).read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
            drop(l);
        });
        let c = UnixStream::connect(&p2).unwrap();
        c.write_all(b"unix").unwrap();
        let mut buf = [0u8; 4];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"unix");
        server.join().unwrap();
    });
    assert!(
        !path.exists(),
        "the listener removed its socket file, as Go does"
    );
}

#[test]
fn close_removes_the_socket_file_too() {
    let path = temp_path("close");
    let l = UnixListener::bind(&path).unwrap();
    assert!(path.exists());
    l.close().unwrap();
    assert!(!path.exists());
}

#[test]
fn abstract_names_work_through_go_style_listen_and_dial() {
    with_runtime(2, || {
        let name = format!("@netpark-test-{}", std::process::id());
        let l = listen("unix", &name).unwrap();
        assert_eq!(l.addr().to_string(), name);
        let server = rt::spawn(move || {
            let c = l.accept().unwrap();
            let mut buf = [0u8; 3];
            (&c).read_exact(&mut buf).unwrap();
            c.write_all(&buf).unwrap();
        });
        let c = dial("unix", &name).unwrap();
        assert!(matches!(c, Conn::Unix(_)));
        c.write_all(b"abs").unwrap();
        let mut buf = [0u8; 3];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abs");
        server.join().unwrap();
    });
}

#[test]
fn dialing_a_missing_path_reads_like_go() {
    let path = temp_path("missing");
    let e = UnixStream::connect(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "dial unix {}: connect: no such file or directory",
            path.display()
        )
    );
}

#[test]
fn a_socketpair_carries_data_both_ways() {
    with_runtime(1, || {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        (&b).read_exact(&mut buf).unwrap();
        b.write_all(b"pong").unwrap();
        (&a).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        assert_eq!(a.peer_addr().unwrap(), UnixAddr::Unnamed);
    });
}

#[test]
fn a_cloned_conn_writes_from_its_own_task_while_the_first_reads_and_outlives_its_close() {
    let path = temp_path("clone");
    let p2 = path.clone();
    with_runtime(2, move || {
        let ln = listen("unix", p2.to_str().unwrap()).unwrap();
        let server = rt::spawn(move || {
            let c = ln.accept().unwrap();
            let mut buf = [0u8; 5];
            (&c).read_exact(&mut buf).unwrap();
            c.write_all(&buf).unwrap();
        });
        let c = dial("unix", p2.to_str().unwrap()).unwrap();
        let w = c.try_clone().unwrap();
        assert_eq!(w.remote_addr(), c.remote_addr());
        let writer = rt::spawn(move || w.write_all(b"clone"));
        let mut buf = [0u8; 5];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"clone");
        writer.join().unwrap().unwrap();
        server.join().unwrap();

        // Each handle is its own fd: closing one leaves the other working.
        let (a, b) = UnixStream::pair().unwrap();
        let a2 = a.try_clone().unwrap();
        a.close().unwrap();
        a2.write_all(b"!").unwrap();
        let mut one = [0u8; 1];
        (&b).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"!");
        let e = a.try_clone().unwrap_err();
        assert!(e.to_string().contains("closed"), "{e}");
        // Half-close through the Conn: the peer reads end of stream, and
        // this side still reads what the peer sends.
        let conn = Conn::Unix(a2);
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(
            b.read(&mut one).unwrap(),
            0,
            "no end of stream after CloseWrite"
        );
        b.write_all(b"?").unwrap();
        (&conn).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"?");
        conn.close().unwrap();
        assert!(conn.try_clone().is_err(), "a closed conn cloned");
    });
}
