//! Download throughput against a loopback server: the same files fetched one at a time and
//! in parallel, unthrottled and with each connection throttled (a mirror or CDN that caps
//! every connection). Prints figures; asserts nothing about speed.
//!
//! Run: `cargo bench --bench download`

#[path = "../tests/common/server.rs"]
#[allow(dead_code)]
mod server;

use std::time::Instant;

use bootstrap::packages::download::{Checksum, Downloader, Job, Options, PARALLEL};
use server::{Fault, Server};
use sha2::{Digest, Sha256};

const FILES: usize = 8;
const SIZE: usize = 4 << 20;
const THROTTLE: u64 = 8 << 20;

fn body(seed: usize) -> Vec<u8> {
    (0..SIZE)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
        .collect()
}

/// Fetches every file with `parallel` downloads at once: seconds taken and bytes
/// downloaded, or the first error.
fn fetch(server: &Server, parallel: usize) -> Result<(f64, u64), String> {
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<Job> = (0..FILES)
        .map(|i| Job {
            file: format!("file-{i}"),
            url: format!("{}/f/{i}", server.url()),
            checksum: Checksum::Url(format!("{}/f/{i}.sha256", server.url())),
            dest: dir.path().join(format!("file-{i}")),
        })
        .collect();
    let downloader = Downloader::new(Options::default()).unwrap();
    let started = Instant::now();
    let fetched = downloader
        .fetch_all(&jobs, parallel)
        .map_err(|e| e.to_string())?;
    let took = started.elapsed().as_secs_f64();
    Ok((took, fetched.iter().map(|f| f.downloaded).sum()))
}

fn run(server: &Server, parallel: usize) -> (f64, u64) {
    fetch(server, parallel).unwrap()
}

/// A loopback server holding FILES bodies and their `.sha256` files.
fn serve() -> Server {
    let server = Server::start();
    for i in 0..FILES {
        let data = body(i);
        server.put(
            &format!("/f/{i}.sha256"),
            hex::encode(Sha256::digest(&data)),
        );
        server.put(&format!("/f/{i}"), data);
    }
    server
}

fn main() {
    // `cargo bench` passes --bench. Run without it (`cargo test --benches` or
    // `--all-targets`), this binary checks what it would measure instead of printing
    // figures: every byte fetched, one at a time and in parallel, and a wrong checksum
    // refused. It fails (non-zero exit) when that does not hold.
    if !std::env::args().any(|a| a == "--bench") {
        let server = serve();
        for parallel in [1, PARALLEL] {
            let (_, bytes) = run(&server, parallel);
            assert_eq!(
                bytes,
                (FILES * SIZE) as u64,
                "bytes fetched, {parallel} at once"
            );
        }
        server.put("/f/0.sha256", "0".repeat(64));
        let refused = fetch(&server, PARALLEL).expect_err("a wrong checksum must fail");
        assert!(refused.contains("file-0"), "{refused}");
        println!("download bench check: ok (figures: cargo bench --bench download)");
        return;
    }
    let server = serve();
    println!(
        "{FILES} files x {} MiB from {} (sha256 checked, written to a temp dir)",
        SIZE >> 20,
        server.url()
    );
    println!(
        "{:<34} {:>9} {:>8} {:>11}",
        "case", "parallel", "seconds", "MiB/s"
    );
    for throttled in [false, true] {
        for i in 0..FILES {
            if throttled {
                server.fail_always(&format!("/f/{i}"), Fault::Throttle(THROTTLE));
            }
        }
        let case = if throttled {
            format!("loopback, {} MiB/s per connection", THROTTLE >> 20)
        } else {
            "loopback, unthrottled".to_string()
        };
        for parallel in [1, PARALLEL] {
            // Best of three, after the first run warmed up the page cache.
            let best = (0..3)
                .map(|_| run(&server, parallel))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap();
            let mib = best.1 as f64 / (1 << 20) as f64;
            println!(
                "{case:<34} {parallel:>9} {:>8.3} {:>11.1}",
                best.0,
                mib / best.0
            );
        }
        server.heal();
    }
}
