//! JSON request bodies at the edge of what a plugin's stack can parse, driven by a real
//! HTTP client once per runtime (`per_runtime!`).

use berth_tests::http_client::{client, json_of};
use berth_tests::{config, per_runtime, Runtime, TestServer};
use serde_json::json;

fn bench_kit(rt: Runtime) -> &'static TestServer {
    rt.shared("bench-kit", || {
        config(
            r#"
            [plugins]
            load = ["bench-kit"]
            "#,
            rt,
        )
    })
}

per_runtime!(deeply_nested_json_is_400_not_a_trap);

/// JSON nested as deep as a plugin's stack can parse echoes; deeper is refused with 400
/// before serde_json recurses (it used to run the 16 KiB stack out at about 25 levels:
/// a trap, a 500 and a replaced instance). Brackets inside strings do not count.
fn deeply_nested_json_is_400_not_a_trap(rt: Runtime) {
    let server = bench_kit(rt);
    let post = |body: String| {
        client()
            .post(server.url("/echo-json"))
            .body(body)
            .send()
            .expect("POST")
    };
    let arrays = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d));
    let objects = |d: usize| format!("{}1{}", r#"{"a":"#.repeat(d), "}".repeat(d));
    let mixed = |d: usize| {
        let open: String = (0..d)
            .map(|i| {
                if i % 2 == 0 {
                    r#"{"k":"#.to_string()
                } else {
                    "[".into()
                }
            })
            .collect();
        let close: String = (0..d)
            .rev()
            .map(|i| if i % 2 == 0 { "}" } else { "]" })
            .collect();
        format!(r#"{open}"[[{{\"[{{"{close}"#)
    };
    for d in [1, 8, 16] {
        for body in [arrays(d), objects(d), mixed(d)] {
            let r = post(body.clone());
            assert_eq!(r.status(), 200, "depth {d}: {body}");
            let sent: serde_json::Value = serde_json::from_str(&body).expect("test JSON");
            assert_eq!(json_of(r), sent, "depth {d}");
        }
    }
    // A string full of brackets is not nesting.
    let flat = serde_json::json!(["[".repeat(5000), "{".repeat(5000)]);
    assert_eq!(post(flat.to_string()).status(), 200);
    for d in [30, 127, 128, 100_000] {
        for body in [arrays(d), objects(d), mixed(d)] {
            let r = post(body);
            assert_eq!(r.status(), 400, "depth {d}");
            assert_eq!(
                json_of(r),
                json!({"error": "Invalid JSON body", "code": 400})
            );
        }
    }
    assert_eq!(post(arrays(2)).status(), 200, "the plugin still answers");
}
