//! A 100 MB static file downloads with flat server memory: the file is streamed from
//! disk as the client reads, never loaded whole. The server runs in this test process,
//! so its resident memory is this process's `VmRSS`, sampled while the download runs.
//! (Its own binary, so no other test's allocations blur the measurement.)

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_server::config::StaticMountConfig;
use berth_tests::clients::rss_bytes;
use berth_tests::{config, EngineKind, TestServer};

const SIZE: u64 = 100 << 20;

#[test]
fn hundred_megabytes_with_flat_memory() {
    let dir = std::env::temp_dir().join(format!("berth-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    // Written in 1 MiB pieces with a pattern, so the client can check what it got.
    let mut file = std::fs::File::create(dir.join("big.bin")).expect("create");
    let mut block = vec![0u8; 1 << 20];
    for i in 0..(SIZE >> 20) {
        block
            .iter_mut()
            .enumerate()
            .for_each(|(j, b)| *b = (i as usize + j) as u8);
        file.write_all(&block).expect("write");
    }
    file.sync_all().expect("sync");
    drop((file, block));

    let mut c = config("[plugins]\nload = []\n", EngineKind::Wasmtime);
    c.statics.mounts.push(StaticMountConfig {
        prefix: "/big".into(),
        dir: dir.clone(),
        max_age: 0,
    });
    let server = TestServer::start(c).expect("server");

    // Warm up the connection path so one-time allocations are not counted as growth.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");
    let warm = client
        .get(server.url("/big/big.bin"))
        .header("Range", "bytes=0-1023")
        .send();
    assert_eq!(warm.expect("warm-up").status(), 206);

    let before = rss_bytes();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let started = Instant::now();
    let mut r = client.get(server.url("/big/big.bin")).send().expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(SIZE.to_string().as_str())
    );
    // Read and discard, checking the pattern.
    let mut buf = vec![0u8; 256 << 10];
    let mut offset: u64 = 0;
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        for (k, b) in buf[..n].iter().enumerate() {
            let at = offset + k as u64;
            let expected = ((at >> 20) as usize + (at & ((1 << 20) - 1)) as usize) as u8;
            assert_eq!(*b, expected, "byte {at}");
        }
        offset += n as u64;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let after = rss_bytes();
    assert_eq!(offset, SIZE);

    let growth = peak.load(Ordering::Relaxed).saturating_sub(before);
    println!(
        "100 MB download: {elapsed:?} ({:.0} MB/s); RSS before {} MB, peak {} MB, after {} MB, growth {:.1} MB",
        SIZE as f64 / (1 << 20) as f64 / elapsed.as_secs_f64(),
        before >> 20,
        peak.load(Ordering::Relaxed) >> 20,
        after >> 20,
        growth as f64 / (1 << 20) as f64,
    );
    assert!(growth < 20 << 20, "server memory grew by {growth} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
