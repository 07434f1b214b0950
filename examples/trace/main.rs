//! The guided tour for people studying the runtime: the seeds' client and
//! server exchange, each step the runtime takes printed in order with Go's
//! function name beside ours.
//!
//! `cargo run --example trace`
//!
//! ARCHITECTURE.md, "The path of one read()", walks the same steps in a table.

mod tour;

fn main() {
    let lines = tour::run();
    println!("{:>8}  {:<14} {:<62} Go", "µs", "thread", "netpark");
    let mut named = std::collections::BTreeSet::new();
    for l in &lines {
        if l.target == "tour" {
            println!("{:>8}  {:<14} ── {}", l.at_us, l.thread, l.text);
            continue;
        }
        let go = tour::go_name(&l.text).unwrap_or("");
        if !go.is_empty() {
            named.insert(go);
        }
        println!("{:>8}  {:<14} {:<62} {}", l.at_us, l.thread, l.text, go);
    }
    println!(
        "\n{} runtime steps, {} of Go's functions named; netpark::stats(): {:?}",
        lines.iter().filter(|l| l.target == "netpark").count(),
        named.len(),
        netpark::stats()
    );
}
