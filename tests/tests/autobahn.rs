//! The WebSocket conformance suite of the field, the Autobahn TestSuite, on every
//! runtime: its fuzzing-client cases (driven by kosoku, `tests/py/autobahn.py`) against
//! ws-echo's plain echo route `/ws/raw`. No case may fail. Sections 12 and 13 test
//! permessage-deflate (RFC 7692): the server runtime negotiates it and must pass them
//! with compression in use (none may come back UNIMPLEMENTED); the embedded runtime has
//! no deflate, so they are left out there. They run on server·wasmtime only: the
//! compression is host code the engines never see, and the 216 cases of 1000 echoed
//! messages each would add minutes of interpreter time on wasmi for nothing new. They
//! run after the others, two at a time: each case must finish in kosoku's 30 s, and a
//! case that moves 128 MiB through deflate each way needs its share of the CPU.

use std::collections::BTreeMap;
use std::time::Instant;

use berth_tests::{config, per_runtime, python, Runtime};
use serde_json::Value;

/// permessage-deflate (RFC 7692), where it is not run (see the module docs).
const DEFLATE: &[&str] = &["12.*", "13.*"];

/// Every section but the compression ones (kosoku takes globs to leave out).
const NOT_DEFLATE: &[&str] = &[
    "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*",
];

/// The runs `rt` makes: what each leaves out, and how many cases it runs at once (the
/// 2-core CI machine is busy with the other suites too).
fn runs(rt: Runtime) -> &'static [(&'static [&'static str], &'static str)] {
    match rt {
        Runtime::ServerWasmtime => &[(DEFLATE, "4"), (NOT_DEFLATE, "2")],
        Runtime::ServerWasmi | Runtime::EmbeddedWasmi => &[(DEFLATE, "4")],
    }
}

/// Whether `rt` leaves the compression sections out.
fn without_deflate(rt: Runtime) -> bool {
    runs(rt).len() == 1
}

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
    let mut cases: Vec<Value> = Vec::new();
    let mut took = Vec::new();
    for (excluded, parallelism) in runs(rt) {
        let started = Instant::now();
        let mut args = vec![server.ws_url("/ws/raw"), parallelism.to_string()];
        args.extend(excluded.iter().map(|e| e.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = python("autobahn.py", &args);
        took.push(format!("{:.1?}", started.elapsed()));
        let run: Vec<Value> = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("autobahn.py printed no case list ({e}):\n{out}"));
        cases.extend(run);
    }

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
        "Autobahn on {rt:?}: {} cases in {} (compression sections {}): {counts:?}",
        cases.len(),
        took.join(" + "),
        if without_deflate(rt) {
            "excluded"
        } else {
            "included"
        },
    );
    for (section, verdicts) in &sections {
        println!("  section {section}: {verdicts:?}");
    }
    // The suite has 517 cases; without 12 and 13, 301. Fewer means kosoku ran
    // less than asked, which must not pass for a clean run.
    let expected = if without_deflate(rt) { 301 } else { 517 };
    assert!(cases.len() >= expected, "only {} cases ran", cases.len());
    if !without_deflate(rt) {
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
