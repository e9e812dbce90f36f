use super::*;
use crate::model::Body;
use alloc::string::ToString;
use alloc::vec;

fn response(status: u16, headers: &[(&str, &str)]) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: Body::Bytes(b"hi".to_vec()),
    }
}

#[test]
fn every_status_outside_the_final_range_becomes_500() {
    for status in (0..200).chain(600..1000).chain([u16::MAX]) {
        let mut r = response(status, &[("x-a", "1")]);
        let notes = finalise(&mut r, 100);
        assert_eq!(r.status, 500, "{status}");
        assert_eq!(notes, vec![Note::InvalidStatus(status)]);
        assert!(r.header("x-a").is_none(), "the plugin's headers go with it");
    }
    for status in 200..=599 {
        let mut r = response(status, &[]);
        assert!(finalise(&mut r, 100).is_empty());
        assert_eq!(r.status, status);
    }
}

#[test]
fn hop_by_hop_framing_and_internal_headers_are_stripped_in_any_case() {
    let owned = [
        "Connection",
        "KEEP-ALIVE",
        "transfer-encoding",
        "Content-Length",
        "upgrade",
        "TE",
        "Trailer",
        "proxy-connection",
        "Proxy-Authenticate",
        "berth-chunk-interval-ms",
        "Berth-Chunk-Interval-MS",
    ];
    let mut headers: Vec<(&str, &str)> = owned.iter().map(|n| (*n, "x")).collect();
    headers.push(("x-kept", "1"));
    headers.push(("proxy", "not a proxy- header"));
    let mut r = response(200, &headers);
    let notes = finalise(&mut r, 100);
    assert!(notes.is_empty(), "stripping is silent: {notes:?}");
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-kept", "proxy"]);
}

#[test]
fn invalid_names_and_values_are_dropped_with_a_note() {
    let mut r = response(
        200,
        &[
            ("x-ok", "fine\tand é"),
            ("x-split", "a\r\nset-cookie: evil"),
            ("x-nul", "a\0b"),
            ("x-del", "a\u{7f}"),
            ("bad name", "v"),
            ("", "v"),
            ("x:colon", "v"),
        ],
    );
    let notes = finalise(&mut r, 100);
    assert_eq!(r.headers, vec![("x-ok".into(), "fine\tand é".into())]);
    let dropped: Vec<Note> = ["x-split", "x-nul", "x-del", "bad name", "", "x:colon"]
        .iter()
        .map(|n| Note::InvalidHeader((*n).into()))
        .collect();
    assert_eq!(notes, dropped);
}

#[test]
fn too_many_headers_is_a_500_not_a_panic() {
    let many: Vec<(String, String)> = (0..40_000)
        .map(|i| (alloc::format!("x-{i}"), "v".into()))
        .collect();
    let mut r = Response {
        status: 200,
        headers: many,
        body: Body::Bytes(Vec::new()),
    };
    assert_eq!(finalise(&mut r, 100), vec![Note::TooManyHeaders(40_000)]);
    assert_eq!(r.status, 500);
    let mut at_limit = response(200, &[("a", "1"), ("b", "2")]);
    assert!(finalise(&mut at_limit, 2).is_empty());
    assert_eq!(at_limit.status, 200);
}

#[test]
fn bodies_and_framing_by_status_and_method() {
    for status in 100..1000 {
        let bodiless = status < 200 || status == 204 || status == 304;
        assert_eq!(has_framing(status), !bodiless, "{status}");
        assert_eq!(body_allowed(status, false), !bodiless, "{status}");
        assert!(!body_allowed(status, true), "HEAD {status}");
    }
}
