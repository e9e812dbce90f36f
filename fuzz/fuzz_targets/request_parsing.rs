//! Request-target, query and route parsing in berth-core: whatever the bytes, parsing
//! and routing return a value (never a panic), and routing results are consistent.
#![no_main]

use berth_core::model::Method;
use berth_core::router::{Match, Router};
use berth_core::uri::{decode, parse_query, parse_target, segments};
use libfuzzer_sys::fuzz_target;

/// Patterns shaped like the bundled plugins' routes: statics, params and overlaps.
const ROUTES: &[(Method, &str)] = &[
    (Method::Get, "/"),
    (Method::Get, "/hello"),
    (Method::Get, "/api/users"),
    (Method::Post, "/api/users"),
    (Method::Get, "/api/users/<id>"),
    (Method::Delete, "/api/users/<id>"),
    (Method::Get, "/api/users/<id>/posts/<post>"),
    (Method::Get, "/api/users/me"),
    (Method::Put, "/files/<name>/raw"),
    (Method::Get, "/<any>/static"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);

    let target = parse_target(&text);
    let (raw_path, raw_query) = text.split_once('?').unwrap_or((&text, ""));
    assert_eq!(target.query, raw_query);
    if !raw_path.contains('%') {
        assert_eq!(target.path, raw_path, "nothing to decode");
    }
    let _ = parse_query(&target.query);
    let _ = decode(&text);
    assert!(segments(&target.path).all(|s| !s.is_empty() && !s.contains('/')));

    let mut router = Router::new();
    for (i, (method, pattern)) in ROUTES.iter().enumerate() {
        router
            .insert(*method, pattern, i)
            .expect("the fixed routes are valid");
    }
    // Patterns from the input may be rejected, never panic.
    let _ = router.insert(Method::Patch, &text, usize::MAX);
    let method = Method::ALL[usize::from(selector) % Method::ALL.len()];
    match router.find(method, &target.path) {
        Match::Found {
            params, pattern, ..
        } => {
            let wanted = pattern.matches('<').count();
            assert_eq!(params.len(), wanted, "{pattern} captured {params:?}");
        }
        Match::MethodNotAllowed { allow } => assert!(!allow.is_empty()),
        Match::NotFound => {}
    }
    let _ = Method::parse(&text);
});
