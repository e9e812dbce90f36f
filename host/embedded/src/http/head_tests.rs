use super::*;
use alloc::format;

fn limits() -> Limits {
    Limits {
        max_request_line: 64,
        max_header_size: 40,
        max_headers: 4,
        ..Limits::default()
    }
}

fn parse(text: &str) -> Parsed {
    parse_head(text.as_bytes(), 1024, &limits())
}

#[test]
fn complete_head_with_lowercase_names() {
    let text = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Thing: Yes\r\n\r\nBODY";
    let Parsed::Complete(head, len) = parse(text) else {
        panic!("{:?}", parse(text))
    };
    assert_eq!(len, text.len() - 4);
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "/a?b=1");
    assert_eq!(head.minor_version, 1);
    assert_eq!(head.header("x-thing"), Some("Yes"));
    assert_eq!(head.headers[0].0, "host");
}

#[test]
fn every_prefix_of_a_valid_head_is_incomplete() {
    let text = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
    for end in 0..text.len() {
        assert_eq!(parse(&text[..end]), Parsed::Incomplete, "prefix {end}");
    }
    assert!(matches!(parse(text), Parsed::Complete(..)));
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    assert!(matches!(
        parse("GET / HTTP/1.1\nHost: x\n\n"),
        Parsed::Complete(..)
    ));
}

#[test]
fn long_request_line_is_414_before_the_head_completes() {
    let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(80));
    assert_eq!(parse(&long), Parsed::Reject(414));
    // Even without its line ending yet.
    assert_eq!(parse(&long[..70]), Parsed::Reject(414));
    // Exactly at the limit is fine.
    let ok = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64 - 14));
    assert_eq!(ok.find('\r'), Some(64));
    assert!(matches!(parse(&ok), Parsed::Complete(..)));
}

#[test]
fn a_line_that_fills_the_buffer_is_414() {
    let text = "GET /aaaaaaaaaaaaaaaa";
    assert_eq!(
        parse_head(text.as_bytes(), text.len(), &limits()),
        Parsed::Reject(414)
    );
}

#[test]
fn long_header_line_is_431() {
    let text = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(50));
    assert_eq!(parse(&text), Parsed::Reject(431));
    // Also while it is still arriving.
    assert_eq!(parse(&text[..text.len() - 10]), Parsed::Reject(431));
}

#[test]
fn too_many_headers_is_431() {
    let mut text = String::from("GET / HTTP/1.1\r\n");
    for i in 0..5 {
        text.push_str(&format!("H{i}: v\r\n"));
    }
    assert_eq!(parse(&text), Parsed::Reject(431));
    text.push_str("\r\n");
    assert_eq!(parse(&text), Parsed::Reject(431));
}

#[test]
fn head_that_fills_the_buffer_is_431() {
    let text = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n";
    assert_eq!(
        parse_head(text.as_bytes(), text.len(), &limits()),
        Parsed::Reject(431)
    );
}

#[test]
fn garbage_is_400() {
    assert_eq!(
        parse("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        Parsed::Reject(400)
    );
    assert_eq!(parse("\u{1}\u{2} / HTTP/1.1\r\n\r\n"), Parsed::Reject(400));
    assert_eq!(parse("GET / HTTP/9.9\r\n\r\n"), Parsed::Reject(400));
}

#[test]
fn keep_alive_rules() {
    let head = |v: u8, conn: Option<&str>| Head {
        method: "GET".into(),
        target: "/".into(),
        minor_version: v,
        headers: conn
            .map(|c| alloc::vec![("connection".into(), c.into())])
            .unwrap_or_default(),
    };
    assert!(head(1, None).keep_alive());
    assert!(!head(1, Some("Close")).keep_alive());
    assert!(!head(1, Some("upgrade, close")).keep_alive());
    assert!(!head(0, None).keep_alive());
    assert!(head(0, Some("Keep-Alive")).keep_alive());
}

fn with_headers(headers: &[(&str, &str)]) -> Head {
    Head {
        method: "POST".into(),
        target: "/".into(),
        minor_version: 1,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn body_framing() {
    let kind = |h: &[(&str, &str)]| body_kind(&with_headers(h), 100);
    assert_eq!(kind(&[]), Ok(BodyKind::Empty));
    assert_eq!(kind(&[("content-length", "0")]), Ok(BodyKind::Empty));
    assert_eq!(kind(&[("content-length", "12")]), Ok(BodyKind::Length(12)));
    assert_eq!(
        kind(&[("content-length", "100")]),
        Ok(BodyKind::Length(100))
    );
    assert_eq!(kind(&[("content-length", "101")]), Err(413));
    assert_eq!(
        kind(&[("content-length", "99999999999999999999999")]),
        Err(400)
    );
    assert_eq!(kind(&[("content-length", "-1")]), Err(400));
    assert_eq!(kind(&[("content-length", "1 2")]), Err(400));
    assert_eq!(kind(&[("content-length", " 5\t")]), Ok(BodyKind::Length(5)));
    assert_eq!(kind(&[("content-length", "5, 5")]), Err(400));
    assert_eq!(
        kind(&[("content-length", "5"), ("content-length", "5")]),
        Err(400)
    );
    assert_eq!(
        kind(&[("content-length", "5"), ("content-length", "6")]),
        Err(400)
    );
    assert_eq!(
        kind(&[("transfer-encoding", "chunked")]),
        Ok(BodyKind::Chunked)
    );
    assert_eq!(kind(&[("transfer-encoding", "gzip, chunked")]), Err(501));
    assert_eq!(
        kind(&[("transfer-encoding", "chunked"), ("content-length", "3")]),
        Err(400)
    );
}

#[test]
fn only_space_and_tab_surround_framing_values() {
    let kind = |h: &[(&str, &str)]| body_kind(&with_headers(h), 100);
    // Unicode and ASCII whitespace that `str::trim` would take, hyper refuses.
    for ws in [
        '\u{a0}', '\u{2000}', '\u{3000}', '\u{feff}', '\u{b}', '\u{c}', '\u{85}',
    ] {
        for value in [format!("{ws}5"), format!("5{ws}")] {
            assert_eq!(kind(&[("content-length", &value)]), Err(400), "{value:?}");
        }
        for value in [format!("{ws}chunked"), format!("chunked{ws}")] {
            assert_eq!(
                kind(&[("transfer-encoding", &value)]),
                Err(400),
                "{value:?}"
            );
        }
    }
    assert_eq!(
        kind(&[("transfer-encoding", " chunked\t")]),
        Ok(BodyKind::Chunked)
    );
    assert_eq!(kind(&[("transfer-encoding", "chunked,")]), Err(400));
    assert_eq!(kind(&[("transfer-encoding", "")]), Err(400));
    assert_eq!(kind(&[("content-length", "")]), Err(400));
    assert_eq!(kind(&[("content-length", "+5")]), Err(400));
    // A transfer coding with a content length, whichever comes first.
    assert_eq!(
        kind(&[("content-length", "3"), ("transfer-encoding", "chunked")]),
        Err(400)
    );
}

#[test]
fn leading_empty_lines_do_not_skip_the_limits() {
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(80));
    for prefix in ["\r\n", "\n", "\r\n\r\n\n"] {
        let text = format!("{prefix}{long}");
        assert_eq!(parse(&text), Parsed::Reject(414), "{prefix:?}");
        assert_eq!(
            parse(&text[..prefix.len() + 70]),
            Parsed::Reject(414),
            "{prefix:?} partial"
        );
        let header = format!("{prefix}GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(50));
        assert_eq!(parse(&header), Parsed::Reject(431), "{prefix:?}");
        let ok = format!("{prefix}GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            parse(&ok),
            match parse(&ok[prefix.len()..]) {
                Parsed::Complete(head, len) => Parsed::Complete(head, len + prefix.len()),
                other => panic!("{other:?}"),
            }
        );
    }
    assert_eq!(parse("\r\n\r\n"), Parsed::Incomplete);
    assert_eq!(parse("\r"), Parsed::Incomplete);
    assert_eq!(parse_head(b"\r\n\r\n", 4, &limits()), Parsed::Reject(400));
}

/// Found by the `embedded_head` fuzz target: a prefix refused 400 (httparse stops at a
/// bad line) whose whole is refused 431 (the header count, checked first once the lines
/// are there). Which fault is found first depends on how
/// much has arrived; that a refused prefix means a refused whole does not.
#[test]
fn a_refused_prefix_means_a_refused_whole() {
    let limits = Limits {
        max_request_line: 200,
        max_header_size: 200,
        max_headers: 8,
        ..Limits::default()
    };
    let bytes = b"\x50\x4f\x53\x0d\x0a\x40\x0a\x48\x54\x54\x50\x34\x00\x00\x00\x07\x78\x24\x0a\x54\x2a\x72\x61\x50\x4f\x53\x0d\x0a\x40\x0a\x48\x54\x54\x50\x34\x00\x00\x00\x07\x78\x24\x0a\x54\x2a\x72\x61\x3f\x6e\x1c\x75\x2e\x6b\x65\x72\x61\x3f\x6e\x1c\x75\x2e\x6b\x65\x64\x0d\x0a\x40\x0a\x3f\x6e\x1c\x75\x2e\x6b\x65\x72\x61\x3f\x6e\x1c\x75\x2e\x6b\x65\x64\x0d\x0a\x40\x0a";
    let whole = parse_head(bytes, 1024, &limits);
    assert_eq!(parse_head(&bytes[..75], 1024, &limits), Parsed::Reject(400));
    assert_eq!(whole, Parsed::Reject(431));
}
