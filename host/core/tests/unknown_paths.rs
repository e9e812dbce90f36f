//! Seed 002 caches 404s; Berth must not need to: routing an unknown path leaves nothing
//! allocated behind, so a scan of a million distinct paths cannot grow the server.
//! It runs without libtest (`harness = false`): dhat's heap statistics are
//! process-wide, and the harness's own threads allocated during the measurement now
//! and then (900 bytes, on a loaded machine).

use berth_core::model::Method;
use berth_core::router::{Match, Router};
use berth_core::uri::parse_target;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    unknown_paths_leave_no_allocation_behind();
    println!("unknown_paths_leave_no_allocation_behind ... ok");
}

fn unknown_paths_leave_no_allocation_behind() {
    let mut router = Router::new();
    for (i, pattern) in [
        "/",
        "/hello",
        "/api/users",
        "/api/users/<id>",
        "/files/<f>/raw",
    ]
    .iter()
    .enumerate()
    {
        router.insert(Method::Get, pattern, i).expect("route");
    }
    let targets: Vec<String> = (0..10_000)
        .map(|i| format!("/scan/{i}/admin.php?probe={i}"))
        .collect();

    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get();
    for target in &targets {
        let t = parse_target(target);
        assert!(matches!(router.find(Method::Get, &t.path), Match::NotFound));
    }
    let after = dhat::HeapStats::get();
    assert_eq!(after.curr_bytes, before.curr_bytes, "bytes left allocated");
    assert_eq!(
        after.curr_blocks, before.curr_blocks,
        "blocks left allocated"
    );
    // What a lookup allocates for itself is small and the same for every path.
    assert!(
        after.max_bytes - before.curr_bytes < 4096,
        "peak grew by {} bytes",
        after.max_bytes - before.curr_bytes
    );
}
