//! examples/pipe_json: records through an `io::pipe` into a chunked POST,
//! decoded and counted by a netpark-http handler.

#[path = "../examples/pipe_json/upload.rs"]
mod upload;

#[test]
fn ten_thousand_records_arrive_counted_and_checked() {
    let out = netpark::run(|| {
        let ln = netpark::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/records", ln.local_addr().unwrap());
        netpark::spawn(move || netpark::http::Server::new(upload::receiver).serve(ln));
        upload::upload(&url, 10_000).unwrap()
    });
    assert_eq!(out.sent, 10_000);
    assert_eq!((out.received, out.received_sum), (out.sent, out.sent_sum));
    assert!(out.bytes > 500_000, "{} bytes", out.bytes);
}

#[test]
fn a_bad_record_is_refused_with_400() {
    let status = netpark::run(|| {
        let ln = netpark::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/records", ln.local_addr().unwrap());
        netpark::spawn(move || netpark::http::Server::new(upload::receiver).serve(ln));
        netpark::http::post(
            &url,
            "application/x-ndjson",
            &b"{\"id\":0,\"name\":\"record-0\",\"value\":1}\n{\"id\":5}\n"[..],
        )
        .unwrap()
        .status
    });
    assert_eq!(status, 400);
}
