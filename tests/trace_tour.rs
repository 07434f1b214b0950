//! examples/trace: the tour runs, and every step the issue names appears
//! with Go's name beside it.

#[path = "../examples/trace/tour.rs"]
mod tour;

#[test]
fn the_tour_prints_every_named_step_in_order() {
    let lines = tour::run();
    let names: Vec<&str> = lines
        .iter()
        .filter(|l| l.target == "netpark")
        .filter_map(|l| tour::go_name(&l.text))
        .collect();
    for go in [
        "netpollinit",
        "pollOpen",
        "netpollopen",
        "netpollblock",
        "gopark",
        "netpollready",
        "goready",
        "netpollunblock",
        "fdMutex close",
        "pollClose",
    ] {
        assert!(
            names.iter().any(|n| n.contains(go)),
            "no {go} step in {names:#?}"
        );
    }
    // Lines are in time order, each with the thread that logged it.
    assert!(lines.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    assert!(lines.iter().all(|l| !l.thread.is_empty()));
    // The client's echo arrives after the server's park and its wake.
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    let pos = |s: &str| {
        text.iter()
            .position(|t| t.starts_with(s))
            .unwrap_or_else(|| panic!("no {s:?}"))
    };
    assert!(pos("server: conn.Read()") < pos("client: read \"hello world! 1\""));
    assert!(pos("park task") < pos("wake task"));
}
