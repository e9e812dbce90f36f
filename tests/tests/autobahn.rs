//! The WebSocket conformance suite of the field, the Autobahn TestSuite, on every
//! runtime: its fuzzing-client cases (driven by kosoku, `tests/py/autobahn.py`) against
//! ws-echo's plain echo route `/ws/raw`. No case may fail. Sections 12 and 13 test
//! permessage-deflate (RFC 7692): the server runtime negotiates it and must pass them
//! with compression in use (none may come back UNIMPLEMENTED); the embedded runtime has
//! no deflate, so they are left out there. They run on server·wasmtime only: the
//! compression is host code the engines never see, and the 216 cases of 1000 echoed
//! messages each would add minutes of interpreter time on wasmi for nothing new.

use std::collections::BTreeMap;
use std::time::Instant;

use berth_tests::{config, per_runtime, python, Runtime};
use serde_json::Value;

/// permessage-deflate (RFC 7692), where it is not run (see the module docs).
const DEFLATE: &[&str] = &["12.*", "13.*"];

/// The sections `rt` leaves out.
fn excluded(rt: Runtime) -> &'static [&'static str] {
    match rt {
        Runtime::ServerWasmtime => &[],
        Runtime::ServerWasmi | Runtime::EmbeddedWasmi => DEFLATE,
    }
}

/// Cases at once: the 2-core CI machine is busy with the other suites too.
const PARALLELISM: &str = "4";

per_runtime!(fuzzing_client_cases_all_pass);

fn fuzzing_client_cases_all_pass(rt: Runtime) {
    // Section 9 sends messages of up to 16 MiB (in frames as small as 64 bytes) and
    // wants them back: the limits have room for that, the echo's plugin memory for a
    // message in and its copy out.
    let server = rt
        .start(config(
            r#"
            [plugins]
            load = ["ws-echo"]
            [limits]
            ws_max_frame = 16777216
            ws_max_message = 16777216
            ws_send_queue = 33554432
            plugin_memory = 134217728
            plugin_timeout = 30
            "#,
            rt,
        ))
        .expect("server");
    let started = Instant::now();
    let mut args = vec![server.ws_url("/ws/raw"), PARALLELISM.to_string()];
    let excluded = excluded(rt);
    args.extend(excluded.iter().map(|e| e.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python("autobahn.py", &args);
    let elapsed = started.elapsed();
    let cases: Vec<Value> = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("autobahn.py printed no case list ({e}):\n{out}"));

    // Autobahn's verdicts, each counted (zero included) so the line reads the same on
    // every run.
    let mut counts: BTreeMap<String, usize> = [
        "OK",
        "NON-STRICT",
        "INFORMATIONAL",
        "UNIMPLEMENTED",
        "FAILED",
    ]
    .into_iter()
    .map(|v| (v.to_string(), 0))
    .collect();
    let mut failed = Vec::new();
    for case in &cases {
        let field = |name: &str| case[name].as_str().unwrap_or("?").to_string();
        *counts.entry(field("behavior")).or_default() += 1;
        if case["passed"] != true {
            failed.push(format!(
                "{}: behavior {} ({}), close {} ({})",
                field("id"),
                field("behavior"),
                field("result"),
                field("behaviorClose"),
                field("resultClose"),
            ));
        }
    }
    // Per section too: 12 and 13 are the compression ones.
    let mut sections: BTreeMap<u32, BTreeMap<String, usize>> = BTreeMap::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let section = id
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let behavior = case["behavior"].as_str().unwrap_or("?").to_string();
        *sections
            .entry(section)
            .or_default()
            .entry(behavior)
            .or_default() += 1;
    }
    println!(
        "Autobahn on {rt:?}: {} cases in {elapsed:.1?} (sections {} excluded): {counts:?}",
        cases.len(),
        if excluded.is_empty() {
            "none".to_string()
        } else {
            excluded.join(", ")
        },
    );
    for (section, verdicts) in &sections {
        println!("  section {section}: {verdicts:?}");
    }
    // The suite has 517 cases; without 12 and 13, 301. Fewer means kosoku ran
    // less than asked, which must not pass for a clean run.
    let expected = if excluded.is_empty() { 517 } else { 301 };
    assert!(cases.len() >= expected, "only {} cases ran", cases.len());
    if excluded.is_empty() {
        // An unnegotiated extension reads as UNIMPLEMENTED, which kosoku may not count
        // as failed: compression must really have been in use.
        let unimplemented: Vec<&str> = cases
            .iter()
            .filter(|c| c["behavior"] == "UNIMPLEMENTED")
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert!(
            unimplemented.is_empty(),
            "permessage-deflate not negotiated in {unimplemented:?}"
        );
    }
    assert!(
        failed.is_empty(),
        "{} of {} Autobahn cases failed on {rt:?}:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}
