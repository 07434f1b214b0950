//! netpark-http's FileServer against curl, and the server's HTTP/1.1
//! behaviour against a raw client.

mod util;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use netpark::http::{self, FileServer, Server};
use util::{curl, curl_i, raw_exchange, serve_http};

fn pattern(len: usize) -> Vec<u8> {
    util::pattern(len, 0x9e37_79b9_7f4a_7c15)
}

/// The served tree, made once per test process.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("netpark-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("list")).unwrap();
        std::fs::write(root.join("empty.bin"), b"").unwrap();
        std::fs::write(root.join("one.bin"), b"x").unwrap();
        std::fs::write(root.join("big.bin"), pattern(64 << 20)).unwrap();
        std::fs::write(root.join("a.txt"), b"hello, file\n").unwrap();
        std::fs::write(root.join("sub/index.html"), b"<p>index</p>\n").unwrap();
        std::fs::write(root.join("list/<b>&\"q\".txt"), b"1").unwrap();
        std::fs::write(root.join("list/a b#c?.txt"), b"2").unwrap();
        std::fs::create_dir_all(root.join("list/dir")).unwrap();
        let outside = std::env::temp_dir().join(format!("netpark-http-out-{}", std::process::id()));
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("leak")).unwrap();
        std::os::unix::fs::symlink(root.join("a.txt"), root.join("inside-link")).unwrap();
        root
    })
}

/// The file server under `/static/`, started once per test process.
fn server() -> std::net::SocketAddr {
    static ADDR: OnceLock<std::net::SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let files = http::strip_prefix("/static/", FileServer::new(root()));
        serve_http(
            Server::new(files)
                .read_header_timeout(Some(Duration::from_millis(300)))
                .max_header_bytes(16 * 1024),
        )
    })
}

fn url(path: &str) -> String {
    format!("http://{}{path}", server())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn get_is_byte_exact_for_empty_tiny_and_64_mib_files() {
    for (name, want) in [
        ("empty.bin", Vec::new()),
        ("one.bin", b"x".to_vec()),
        ("big.bin", pattern(64 << 20)),
    ] {
        let before = netpark::stats().copy.sendfile.bytes;
        let (status, head, body) = curl_i(&[&url(&format!("/static/{name}"))]);
        assert_eq!(status, 200, "{name}");
        assert_eq!(
            header(&head, "Content-Length"),
            Some(&*want.len().to_string())
        );
        assert_eq!(
            header(&head, "Content-Type"),
            Some("application/octet-stream")
        );
        assert!(header(&head, "Date").is_some());
        assert_eq!(body.len(), want.len(), "{name}");
        assert!(body == want, "{name}: bytes differ");
        if want.len() > 512 {
            // All but the first 512 bytes, which go out with the header.
            let sent = netpark::stats().copy.sendfile.bytes - before;
            assert!(
                sent >= want.len() as u64 - 512,
                "{name} went by sendfile ({sent})"
            );
        }
    }
}

#[test]
fn head_gives_the_length_and_no_body() {
    let (status, head, body) = curl_i(&["-I", &url("/static/big.bin")]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "Content-Length"), Some("67108864"));
    assert!(body.is_empty());
    let (_, head, _) = curl_i(&["-I", &url("/static/a.txt")]);
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(header(&head, "Last-Modified").is_some());
}

#[test]
fn a_single_range_is_206_and_an_unsatisfiable_one_416() {
    let (status, head, body) = curl_i(&["-r", "7-10", &url("/static/a.txt")]);
    assert_eq!(status, 206);
    assert_eq!(header(&head, "Content-Range"), Some("bytes 7-10/12"));
    assert_eq!(body, b"file");
    let (status, _, body) = curl_i(&["-r", "-5", &url("/static/a.txt")]);
    assert_eq!((status, &body[..]), (206, &b"file\n"[..]));
    let big = pattern(64 << 20);
    let (status, _, body) = curl_i(&["-r", "1000000-1999999", &url("/static/big.bin")]);
    assert_eq!(status, 206);
    assert!(body == big[1_000_000..2_000_000]);
    let (status, head, _) = curl_i(&["-r", "100-200", &url("/static/a.txt")]);
    assert_eq!(status, 416);
    assert_eq!(header(&head, "Content-Range"), Some("bytes */12"));
}

#[test]
fn several_ranges_are_one_multipart_body_unless_they_outgrow_the_file() {
    let (status, head, body) = curl_i(&["-r", "0-1,4-5,-2", &url("/static/a.txt")]);
    assert_eq!(status, 206);
    let ctype = header(&head, "Content-Type").unwrap();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {ctype}"));
    let part = |first: bool, range: &str, bytes: &str| {
        format!(
            "{}--{boundary}\r\nContent-Range: bytes {range}/12\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{bytes}",
            if first { "" } else { "\r\n" }
        )
    };
    let want = part(true, "0-1", "he")
        + &part(false, "4-5", "o,")
        + &part(false, "10-11", "e\n")
        + &format!("\r\n--{boundary}--\r\n");
    assert_eq!(String::from_utf8_lossy(&body), want);
    assert_eq!(
        header(&head, "Content-Length"),
        Some(want.len().to_string().as_str())
    );
    // HEAD: the same length, no body.
    let (status, head_only, body) = curl_i(&["-I", "-r", "0-1,4-5,-2", &url("/static/a.txt")]);
    assert_eq!((status, body.len()), (206, 0));
    assert_eq!(
        header(&head_only, "Content-Length"),
        Some(want.len().to_string().as_str())
    );
    // A big file's parts go by sendfile and arrive whole.
    let big = pattern(64 << 20);
    let (status, _, body) = curl_i(&["-r", "0-99,5000000-5999999", &url("/static/big.bin")]);
    assert_eq!(status, 206);
    let needle = &big[5_000_000..5_000_100];
    assert!(body.len() > 1_000_100, "{} bytes", body.len());
    assert!(body.windows(100).any(|w| w == needle));
    assert!(body.windows(100).any(|w| w == &big[..100]));
    // More bytes than the file: the whole file, as Go answers.
    let (status, _, body) = curl_i(&["-r", "0-11,0-11", &url("/static/a.txt")]);
    assert_eq!((status, &body[..]), (200, &b"hello, file\n"[..]));
}

#[test]
fn if_modified_since_and_if_none_match_give_304() {
    let (_, head, _) = curl_i(&[&url("/static/a.txt")]);
    let lm = header(&head, "Last-Modified").unwrap().to_string();
    let etag = header(&head, "ETag").unwrap().to_string();
    let (status, head, body) = curl_i(&[
        "-H",
        &format!("If-Modified-Since: {lm}"),
        &url("/static/a.txt"),
    ]);
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert!(header(&head, "Content-Length").is_none());
    let (status, _, _) = curl_i(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &url("/static/a.txt"),
    ]);
    assert_eq!(status, 304);
    let (status, _, _) = curl_i(&[
        "-H",
        "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT",
        &url("/static/a.txt"),
    ]);
    assert_eq!(status, 200);
    let (status, _, _) = curl_i(&["-H", "If-Match: \"nope\"", &url("/static/a.txt")]);
    assert_eq!(status, 412);
}

#[test]
fn a_directory_lists_escaped_names_or_serves_its_index() {
    let (status, head, body) = curl_i(&[&url("/static/list/")]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(body).unwrap();
    assert!(
        page.contains("<a href=\"%3Cb%3E&amp;%22q%22.txt\">&lt;b&gt;&amp;&#34;q&#34;.txt</a>"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"a%20b%23c%3F.txt\">a b#c?.txt</a>"),
        "{page}"
    );
    assert!(page.contains("<a href=\"dir/\">dir/</a>"), "{page}");
    // An encoded name in a link fetches that file.
    assert_eq!(curl(&[&url("/static/list/a%20b%23c%3F.txt")]), b"2");
    let (status, _, body) = curl_i(&[&url("/static/sub/")]);
    assert_eq!((status, &body[..]), (200, &b"<p>index</p>\n"[..]));
}

#[test]
fn redirects_follow_go() {
    let (status, head, _) = curl_i(&[&url("/static/sub")]);
    assert_eq!((status, header(&head, "Location")), (301, Some("sub/")));
    let (status, head, _) = curl_i(&[&url("/static/sub/index.html")]);
    assert_eq!((status, header(&head, "Location")), (301, Some("./")));
    let (status, head, _) = curl_i(&[&url("/static/a.txt/")]);
    assert_eq!((status, header(&head, "Location")), (301, Some("../a.txt")));
    let (status, head, _) = curl_i(&[&url("/static/sub?x=1")]);
    assert_eq!((status, header(&head, "Location")), (301, Some("sub/?x=1")));
    // curl follows them to the content.
    assert_eq!(curl(&["-L", &url("/static/sub")]), b"<p>index</p>\n");
}

#[test]
fn traversal_attempts_never_leave_the_root() {
    for path in [
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/sub/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/leak",
    ] {
        let (status, _, body) = curl_i(&["--path-as-is", &url(path)]);
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("secret"), "{path}");
    }
    // NUL and backslash are refused outright.
    assert_eq!(curl_i(&[&url("/static/a.txt%00")]).0, 400);
    assert_eq!(curl_i(&[&url("/static/..%5c..%5cetc%5cpasswd")]).0, 400);
    // So is an escape that is not one (Go's "invalid URL escape").
    for bad in ["/static/a%zz.txt", "/static/a.txt%", "/static/a.txt%4"] {
        assert_eq!(curl_i(&["--path-as-is", &url(bad)]).0, 400, "{bad}");
    }
    assert_eq!(
        curl(&[&url("/static/a%2etxt")]),
        b"hello, file\n",
        "a valid escape"
    );
    // A symlink inside the root is followed.
    assert_eq!(curl(&[&url("/static/inside-link")]), b"hello, file\n");
}

#[test]
fn errors_are_404_405_431_414_and_505() {
    assert_eq!(curl_i(&[&url("/static/nope")]).0, 404);
    assert_eq!(
        curl_i(&[&url("/elsewhere/a.txt")]).0,
        404,
        "outside the prefix"
    );
    let (status, head, _) = curl_i(&["-X", "POST", "-d", "x", &url("/static/a.txt")]);
    assert_eq!((status, header(&head, "Allow")), (405, Some("GET, HEAD")));
    let big = format!("X-Big: {}", "a".repeat(20 * 1024));
    assert_eq!(curl_i(&["-H", &big, &url("/static/a.txt")]).0, 431);
    let long = format!("/static/{}", "a".repeat(9000));
    assert_eq!(curl_i(&[&url(&long)]).0, 414);
    let out = raw_exchange(
        server(),
        b"GET /static/a.txt HTTP/2.0\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 505 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let out = raw_exchange(
        server(),
        b"GET /static/a.txt HTTP/1.1\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 400 "),
        "no Host: {}",
        String::from_utf8_lossy(&out)
    );
    let out = raw_exchange(
        server(),
        b"\x16\x03\x01garbage\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// Reads from `s` until what came ends with `suffix`.
fn read_until_suffix(s: &mut std::net::TcpStream, suffix: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(suffix) {
        let n = s.read(&mut buf).expect("the response arrives");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let req = b"GET /static/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /static/one.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let out = raw_exchange(server(), req, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&out);
    let a = text.find("hello, file").expect("first");
    let b = text.find("HTTP/1.1 200 OK\r\n").unwrap();
    let c = text.find("404 page not found").expect("third");
    assert!(b < a && a < c, "{text}");
    assert_eq!(count(&out, b"HTTP/1.1 "), 3, "{text}");
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let out = raw_exchange(
        server(),
        b"GET /static/a.txt HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
    assert!(
        text.ends_with("hello, file\n"),
        "the server closed after one response"
    );

    let mut s = std::net::TcpStream::connect(server()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /static/one.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let got = read_until_suffix(&mut s, b"\r\n\r\nx");
        let text = String::from_utf8_lossy(&got);
        assert!(text.contains("Connection: keep-alive"), "{text}");
    }
}

#[test]
fn http_1_1_keeps_the_connection_alive_by_default() {
    let mut s = std::net::TcpStream::connect(server()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /static/one.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let got = read_until_suffix(&mut s, b"\r\n\r\nx");
        assert_eq!(count(&got, b"HTTP/1.1 200 OK"), 1);
    }
}

#[test]
fn a_request_body_on_a_get_is_read_and_dropped() {
    let req = b"GET /static/one.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /static/one.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let out = raw_exchange(server(), req, Duration::from_secs(5));
    assert_eq!(
        count(&out, b"HTTP/1.1 200 OK"),
        2,
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_slow_header_is_cut_off_by_the_read_header_timeout() {
    let start = Instant::now();
    let out = raw_exchange(
        server(),
        b"GET /static/a.txt HTTP/1.1\r\nHost:",
        Duration::from_secs(10),
    );
    let took = start.elapsed();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The server still serves others.
    assert_eq!(curl(&[&url("/static/one.bin")]), b"x");
}

#[test]
fn a_client_that_vanishes_mid_body_costs_only_its_connection() {
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(server()).unwrap();
        s.write_all(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 65536];
        let _ = s.read(&mut buf).unwrap();
        drop(s);
    }
    let body = curl(&[&url("/static/big.bin")]);
    assert_eq!(body.len(), 64 << 20);
}

#[test]
fn a_panicking_handler_closes_its_connection_and_the_server_goes_on() {
    let addr = serve_http(Server::new(
        |w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
            if r.path == "/boom" {
                panic!("handler panics on purpose");
            }
            w.write_all(b"fine").unwrap();
        },
    ));
    let (status, _, _) = curl_i(&[&format!("http://{addr}/boom")]);
    assert_eq!(status, 500);
    assert_eq!(curl(&[&format!("http://{addr}/ok")]), b"fine");
}

#[test]
fn post_streams_a_chunked_body_to_a_handler() {
    let addr = serve_http(Server::new(
        |w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
            let mut body = Vec::new();
            r.body.read_to_end(&mut body).unwrap();
            let chunked = r.headers.has_token("Transfer-Encoding", "chunked");
            write!(
                w,
                "{} bytes, chunked={chunked}, sum={}",
                body.len(),
                body.iter().map(|&b| b as u64).sum::<u64>()
            )
            .unwrap();
        },
    ));
    let data = pattern(1_000_003);
    let sum: u64 = data.iter().map(|&b| b as u64).sum();
    let resp = http::post(
        &format!("http://{addr}/up"),
        "application/octet-stream",
        &data[..],
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        String::from_utf8(resp.body).unwrap(),
        format!("1000003 bytes, chunked=true, sum={sum}")
    );
    // curl's own chunked upload too.
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "abc",
        &format!("http://{addr}/c"),
    ]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "3 bytes, chunked=true, sum=294"
    );
    // A response body longer than 4 KiB goes out chunked.
    let addr = serve_http(Server::new(
        |w: &mut http::ResponseWriter<'_>, _r: &mut http::Request<'_>| {
            for _ in 0..100 {
                w.write_all(&[b'z'; 1000]).unwrap();
            }
        },
    ));
    let (status, head, body) = curl_i(&[&format!("http://{addr}/")]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "Transfer-Encoding"), Some("chunked"));
    assert_eq!(body.len(), 100_000);
    let resp = http::get(&format!("http://{addr}/")).unwrap();
    assert_eq!(resp.body.len(), 100_000);
}

/// Reads from `s` until `suffix` has arrived (or the stream ends or stalls).
fn read_until(s: &mut std::net::TcpStream, suffix: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut b = [0u8; 4096];
    while !out.ends_with(suffix) {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&b[..n]),
        }
    }
    out
}

#[test]
fn expect_100_continue_is_answered_at_the_first_body_read_and_only_then() {
    use std::io::Write as _;
    let addr = serve_http(Server::new(
        |w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
            if r.path == "/refuse" {
                w.write_header(413);
                w.write_all(b"too big").unwrap();
                return;
            }
            let mut body = Vec::new();
            r.body.read_to_end(&mut body).unwrap();
            write!(w, "got {}", String::from_utf8_lossy(&body)).unwrap();
        },
    ));
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The client holds its body back until the 100 comes.
    s.write_all(
        b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        read_until(&mut s, b"\r\n\r\n"),
        b"HTTP/1.1 100 Continue\r\n\r\n"
    );
    s.write_all(b"hello").unwrap();
    let resp = String::from_utf8(read_until(&mut s, b"got hello")).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(!resp.contains("Connection: close"), "{resp}");
    // The connection goes on, and a request without the header gets no 100.
    s.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    let resp = String::from_utf8(read_until(&mut s, b"got hi")).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");

    // A handler that answers without reading: no 100, and the connection
    // closes after the answer (the client may still send its body).
    let out = raw_exchange(
        addr,
        b"POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        Duration::from_secs(10),
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    assert!(out.contains("Connection: close\r\n"), "{out}");
    assert!(!out.contains("100 Continue"), "{out}");

    // Any other expectation: 417, as Go answers.
    let out = raw_exchange(
        addr,
        b"POST /up HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\nContent-Length: 5\r\n\r\nhello",
        Duration::from_secs(10),
    );
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 417 "));
}

#[test]
fn host_must_be_there_once_and_options_star_is_the_servers_own() {
    let status = |req: &[u8]| {
        let out = raw_exchange(server(), req, Duration::from_secs(5));
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(status(b"GET /static/a.txt HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 "));
    assert!(
        status(b"GET /static/a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            .starts_with("HTTP/1.1 400 ")
    );
    // HTTP/1.0 needs none.
    assert!(status(b"GET /static/a.txt HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 "));
    let out = raw_exchange(
        server(),
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Content-Length: 0\r\n"), "{out}");
    assert!(status(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 400 "));
}

/// A server whose handler answers `body`, first (for `slow`, or for every
/// path when it is `None`) saying on the returned channel that it began and
/// sleeping `sleep`; with its shutdown handle and address.
fn slow_server(
    slow: Option<&'static str>,
    sleep: Duration,
    body: &'static [u8],
) -> (
    http::ServerHandle,
    std::net::SocketAddr,
    std::sync::mpsc::Receiver<()>,
) {
    let (began, slow_began) = std::sync::mpsc::channel();
    let server = Server::new(
        move |w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
            if slow.is_none_or(|p| r.path == p) {
                let _ = began.send(());
                netpark::sleep(sleep).ok();
            }
            let _ = w.write_all(body);
        },
    );
    let handle = server.handle();
    (handle, serve_http(server), slow_began)
}

/// A new connection that has sent `GET path` (reads time out after 10 s).
fn sent_get(addr: std::net::SocketAddr, path: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s
}

#[test]
fn shutdown_closes_idle_connections_and_lets_a_response_in_flight_finish() {
    let (handle, addr, slow_began) =
        slow_server(Some("/slow"), Duration::from_millis(300), b"done");
    // One connection idle after a request, one in the middle of a slow one.
    let mut idle = sent_get(addr, "/fast");
    assert!(read_until(&mut idle, b"done").ends_with(b"done"));
    let mut busy = sent_get(addr, "/slow");
    slow_began.recv_timeout(Duration::from_secs(10)).unwrap();

    let shut = std::thread::spawn(move || handle.shutdown(Duration::from_secs(10)));
    // The idle connection is closed at once.
    let mut b = [0u8; 16];
    assert_eq!(
        idle.read(&mut b).unwrap_or(0),
        0,
        "the idle connection stays open"
    );
    // The slow response arrives whole, marked as the connection's last.
    let resp = String::from_utf8(read_until(&mut busy, b"done")).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Connection: close\r\n"), "{resp}");
    assert!(resp.ends_with("done"), "{resp}");
    assert_eq!(busy.read(&mut b).unwrap_or(0), 0);
    shut.join()
        .unwrap()
        .expect("shutdown ends once both are gone");
    // Nothing listens any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_says_so_when_a_connection_outlasts_its_timeout() {
    let (handle, addr, handler_began) = slow_server(None, Duration::from_millis(800), b"late");
    let mut c = sent_get(addr, "/");
    // Active, not idle, when the shutdown begins.
    handler_began.recv_timeout(Duration::from_secs(10)).unwrap();
    let e = handle.shutdown(Duration::from_millis(100)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains("1 connection(s)"), "{e}");
    // `serve` has returned too (its wait ends at the same deadline), so the
    // runtime that served is gone and the connection with it: closed, with
    // no 500 (the handler's unwind was the runtime's, not a panic).
    assert_eq!(read_until(&mut c, b"late"), b"");
}

#[test]
fn a_cancelled_serve_gives_its_port_back() {
    netpark::run(|| {
        let ln = netpark::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let server = Server::new(
            |w: &mut http::ResponseWriter<'_>, _: &mut http::Request<'_>| {
                w.write_all(b"x").unwrap();
            },
        );
        let _handle = server.handle(); // kept alive: it must not keep the socket
        let h = netpark::spawn(move || server.serve(ln));
        netpark::sleep(Duration::from_millis(20)).unwrap();
        h.cancel();
        let served = h.join().unwrap();
        assert!(served.is_err(), "serve ends with the cancel");
        netpark::net::TcpListener::bind(addr).expect("the port is free again");
    });
}

#[test]
fn serve_mux_routes_as_go_does() {
    let mut mux = http::ServeMux::new();
    mux.handle(
        "GET /hello",
        |w: &mut http::ResponseWriter<'_>, _: &mut http::Request<'_>| {
            w.write_all(b"hello").unwrap();
        },
    )
    .handle(
        "POST /items/",
        |w: &mut http::ResponseWriter<'_>, r: &mut http::Request<'_>| {
            write!(w, "posted to {}", r.path).unwrap();
        },
    )
    .handle(
        "/static/",
        http::strip_prefix("/static/", http::FileServer::new(root())),
    );
    let addr = serve_http(Server::new(mux));
    let u = |p: &str| format!("http://{addr}{p}");
    assert_eq!(curl(&[&u("/hello")]), b"hello");
    let (status, head, body) = curl_i(&["-I", &u("/hello")]);
    assert_eq!((status, body.len()), (200, 0), "{head}");
    assert_eq!(
        curl(&["-X", "POST", "-d", "x", &u("/items/42")]),
        b"posted to /items/42"
    );
    let (status, head, _) = curl_i(&["-X", "DELETE", &u("/items/42")]);
    assert_eq!(status, 405);
    assert_eq!(header(&head, "Allow"), Some("POST"));
    let (status, head, _) = curl_i(&["-X", "PUT", &u("/hello")]);
    assert_eq!(status, 405);
    assert_eq!(header(&head, "Allow"), Some("GET, HEAD"));
    let (status, head, _) = curl_i(&[&u("/items?x=1")]);
    assert_eq!(status, 301);
    assert_eq!(header(&head, "Location"), Some("/items/?x=1"));
    let (status, head, _) = curl_i(&["--path-as-is", &u("/static/sub/../a.txt")]);
    assert_eq!(status, 301);
    assert_eq!(header(&head, "Location"), Some("/static/a.txt"));
    assert_eq!(curl(&[&u("/static/a.txt")]), b"hello, file\n");
    assert_eq!(curl_i(&[&u("/elsewhere")]).0, 404);
}

#[test]
fn shutdown_under_load_ends_and_no_client_gets_half_a_response() {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = Server::new(
        |w: &mut http::ResponseWriter<'_>, _: &mut http::Request<'_>| {
            w.write_all(&[b'x'; 1000]).unwrap();
        },
    );
    let handle = server.handle();
    let addr = serve_http(server);
    let stop = Arc::new(AtomicBool::new(false));
    let whole = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (stop, whole) = (stop.clone(), whole.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                        return; // the listener is gone
                    };
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    for _ in 0..20 {
                        if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
                            break;
                        }
                        let got = read_until(&mut s, &[b'x'; 1000]);
                        if got.is_empty() {
                            break; // closed between requests: allowed
                        }
                        // Whatever arrived is a whole response.
                        assert!(got.ends_with(&[b'x'; 1000]), "a response cut short");
                        whole.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    handle
        .shutdown(Duration::from_secs(20))
        .expect("every connection ends");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert!(whole.load(Ordering::Relaxed) > 0);
}

#[test]
fn close_stops_the_server_at_once_cutting_responses_in_flight() {
    let (handle, addr, handler_began) = slow_server(None, Duration::from_secs(5), b"late");
    let mut c = sent_get(addr, "/");
    handler_began.recv_timeout(Duration::from_secs(10)).unwrap();
    let t = std::time::Instant::now();
    handle.close();
    assert_eq!(read_until(&mut c, b"late"), b"", "the response was not cut");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "close waited for the handler"
    );
    // A close waits for the blocked accept to let go of the socket (Go's
    // FD.Close), so the port is shut when close returns.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn duration_max_server_timeouts_mean_none_and_never_panic() {
    let addr = serve_http(
        Server::new(FileServer::new(root()))
            .read_header_timeout(Some(Duration::MAX))
            .idle_timeout(Some(Duration::MAX))
            .write_timeout(Some(Duration::MAX)),
    );
    let body = curl(&[&format!("http://{addr}/one.bin")]);
    assert_eq!(body, b"x");
}

#[test]
fn a_post_body_that_claims_more_than_its_buffer_is_an_error_not_a_panic() {
    struct Liar;
    impl Read for Liar {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            Ok(buf.len() + 1)
        }
    }
    let url = format!("http://{}/static/a.txt", server());
    let e = util::with_runtime(1, move || {
        http::post(&url, "text/plain", Liar)
            .map(|_| ())
            .unwrap_err()
    });
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("invalid read result"), "{e}");
}
