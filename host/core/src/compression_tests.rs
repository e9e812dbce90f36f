use super::*;

const BOTH: [Coding; 2] = [Coding::Br, Coding::Gzip];

fn pick(accept: &str) -> Option<Coding> {
    negotiate(Some(accept), &BOTH)
}

#[test]
fn negotiation_follows_q_values() {
    // Equal q: the server's order (br first).
    assert_eq!(pick("gzip, deflate, br"), Some(Coding::Br));
    assert_eq!(pick("br;q=1, gzip;q=1"), Some(Coding::Br));
    // Higher q wins over the server's order.
    assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Some(Coding::Gzip));
    assert_eq!(pick("gzip"), Some(Coding::Gzip));
    assert_eq!(pick("x-gzip"), Some(Coding::Gzip));
    assert_eq!(pick("br"), Some(Coding::Br));
    // Case and whitespace do not matter.
    assert_eq!(pick("  GZip ;  Q = 0.3 ,BR;q=0.2"), Some(Coding::Gzip));
    assert_eq!(pick("gzip\t;\tq=1"), Some(Coding::Gzip));
    // Refusals.
    assert_eq!(pick("br;q=0, gzip"), Some(Coding::Gzip));
    assert_eq!(pick("br;q=0, gzip;q=0"), None);
    assert_eq!(pick("br;q=0.000"), None);
    assert_eq!(pick("*;q=0"), None);
    // `*` stands for what is not named.
    assert_eq!(pick("*"), Some(Coding::Br));
    assert_eq!(pick("br;q=0, *"), Some(Coding::Gzip));
    assert_eq!(pick("gzip;q=0.5, *;q=0.1"), Some(Coding::Gzip));
    // Identity preferred to every coding: identity.
    assert_eq!(pick("identity"), None);
    assert_eq!(pick("identity;q=1, gzip;q=0.5"), None);
    // Equal to identity: the coding.
    assert_eq!(pick("identity;q=0.5, gzip;q=0.5"), Some(Coding::Gzip));
    assert_eq!(pick("identity;q=0, gzip;q=0.1"), Some(Coding::Gzip));
    assert_eq!(pick("*;q=0.5, br;q=0.3, gzip;q=0.3"), None);
    // Unknown codings, empty members and malformed q are ignored.
    assert_eq!(pick("deflate, compress, zstd"), None);
    assert_eq!(pick(",, ,gzip,"), Some(Coding::Gzip));
    assert_eq!(pick(""), None);
    for bad in ["2", "1.5", "0.1234", "-1", "abc", "", ".5", "1.001"] {
        assert_eq!(
            pick(&alloc::format!("br;q={bad}, gzip;q=0.1")),
            Some(Coding::Gzip),
            "{bad}"
        );
    }
    assert_eq!(pick("br;q=1.000"), Some(Coding::Br));
    // The first mention counts.
    assert_eq!(pick("br;q=0, br"), None);
    // No header: identity.
    assert_eq!(negotiate(None, &BOTH), None);
    // Only what is offered.
    assert_eq!(negotiate(Some("br"), &[Coding::Gzip]), None);
    assert_eq!(
        negotiate(Some("br, gzip"), &[Coding::Gzip, Coding::Br]),
        Some(Coding::Gzip)
    );
}

#[test]
fn qvalues() {
    assert_eq!(qvalue("0"), Some(0));
    assert_eq!(qvalue("0.5"), Some(500));
    assert_eq!(qvalue("0.25"), Some(250));
    assert_eq!(qvalue("0.001"), Some(1));
    assert_eq!(qvalue("1"), Some(1000));
    assert_eq!(qvalue("1."), Some(1000));
    assert_eq!(qvalue("1.0"), Some(1000));
    assert_eq!(qvalue("1.5"), None);
    assert_eq!(qvalue("01"), None);
}

#[test]
fn content_types() {
    for yes in [
        "text/html; charset=utf-8",
        "TEXT/CSS",
        "text/plain",
        "text/javascript",
        "application/json",
        "application/problem+json",
        "application/javascript",
        "application/xml",
        "application/atom+xml",
        "image/svg+xml",
        "application/wasm",
        "font/ttf",
        "image/x-icon",
    ] {
        assert!(compressible(yes), "{yes}");
    }
    for no in [
        "text/event-stream",
        "Text/Event-Stream; charset=utf-8",
        "image/jpeg",
        "image/png",
        "image/webp",
        "video/mp4",
        "audio/mpeg",
        "application/zip",
        "application/gzip",
        "application/octet-stream",
        "font/woff2",
        "font/woff",
        "application/pdf",
        "",
        "text",
        "json",
    ] {
        assert!(!compressible(no), "{no}");
    }
}

fn json(len: u64) -> Candidate<'static> {
    Candidate {
        status: 200,
        content_type: Some("application/json"),
        len: Some(len),
        ..Candidate::default()
    }
}

#[test]
fn decisions() {
    let p = Policy::default();
    let gzip = Some("gzip");
    assert_eq!(
        decide(&p, &json(5000), &[], true, gzip),
        Decision::Vary(Some(Coding::Gzip))
    );
    assert_eq!(
        decide(&p, &json(5000), &[], true, None),
        Decision::Vary(None)
    );
    // Below the threshold, above the cap, not compressible: never, and no Vary.
    assert_eq!(decide(&p, &json(100), &[], true, gzip), Decision::AsIs);
    assert_eq!(
        decide(&p, &json(p.max_size + 1), &[], true, gzip),
        Decision::AsIs
    );
    let png = Candidate {
        content_type: Some("image/png"),
        ..json(5000)
    };
    assert_eq!(decide(&p, &png, &[], true, gzip), Decision::AsIs);
    let untyped = Candidate {
        content_type: None,
        ..json(5000)
    };
    assert_eq!(decide(&p, &untyped, &[], true, gzip), Decision::AsIs);
    // Already encoded, no-transform, 204/206/304.
    for r in [
        Candidate {
            encoded: true,
            ..json(5000)
        },
        Candidate {
            no_transform: true,
            ..json(5000)
        },
        Candidate {
            status: 204,
            ..json(5000)
        },
        Candidate {
            status: 206,
            ..json(5000)
        },
        Candidate {
            status: 304,
            ..json(5000)
        },
    ] {
        assert_eq!(decide(&p, &r, &[], true, gzip), Decision::AsIs, "{r:?}");
    }
    // Other statuses with a body are compressed.
    let missing = Candidate {
        status: 404,
        ..json(5000)
    };
    assert_eq!(
        decide(&p, &missing, &[], true, gzip),
        Decision::Vary(Some(Coding::Gzip))
    );
    // A range request gets identity, but the response still varies.
    let ranged = Candidate {
        ranged: true,
        ..json(5000)
    };
    assert_eq!(decide(&p, &ranged, &[], true, gzip), Decision::Vary(None));
    // Streams (unknown length) are compressed.
    let stream = Candidate {
        len: None,
        ..json(0)
    };
    assert_eq!(
        decide(&p, &stream, &[], true, Some("br")),
        Decision::Vary(Some(Coding::Br))
    );
    // Off: nothing, not even a sibling.
    let off = Policy {
        enabled: false,
        ..Policy::default()
    };
    assert_eq!(decide(&off, &json(5000), &BOTH, true, gzip), Decision::AsIs);
}

#[test]
fn precompressed_siblings() {
    let p = Policy::default();
    // The embedded runtime: siblings only, whatever the size.
    let small = json(10);
    assert_eq!(decide(&p, &small, &[], false, Some("gzip")), Decision::AsIs);
    assert_eq!(
        decide(&p, &small, &[Coding::Gzip], false, Some("gzip, br")),
        Decision::Vary(Some(Coding::Gzip))
    );
    assert_eq!(
        decide(&p, &small, &[Coding::Gzip], false, Some("br")),
        Decision::Vary(None)
    );
    // A sibling is preferred to compressing on the fly at equal q…
    assert_eq!(
        decide(&p, &json(5000), &[Coding::Gzip], true, Some("br, gzip")),
        Decision::Vary(Some(Coding::Gzip))
    );
    // …but not over the client's preference.
    assert_eq!(
        decide(
            &p,
            &json(5000),
            &[Coding::Gzip],
            true,
            Some("br, gzip;q=0.5")
        ),
        Decision::Vary(Some(Coding::Br))
    );
    // A coding the config does not list is never sent, sibling or not.
    let gzip_only = Policy {
        codings: alloc::vec![Coding::Gzip],
        ..Policy::default()
    };
    assert_eq!(
        decide(&gzip_only, &small, &[Coding::Br], false, Some("br")),
        Decision::AsIs
    );
    assert_eq!(
        decide(&gzip_only, &json(5000), &[], true, Some("br")),
        Decision::Vary(None)
    );
}

#[test]
fn vary_merges() {
    assert_eq!(vary(None).as_deref(), Some("Accept-Encoding"));
    assert_eq!(vary(Some("  ")).as_deref(), Some("Accept-Encoding"));
    assert_eq!(
        vary(Some("Origin")).as_deref(),
        Some("Origin, Accept-Encoding")
    );
    assert_eq!(vary(Some("origin, accept-encoding")), None);
    assert_eq!(vary(Some("*")), None);
}

#[test]
fn etags() {
    assert_eq!(variant_etag("\"abc\"", Coding::Br), "\"abc-br\"");
    assert_eq!(variant_etag("W/\"abc\"", Coding::Gzip), "W/\"abc-gzip\"");
    assert_eq!(weak_etag("\"abc\""), "W/\"abc\"");
    assert_eq!(weak_etag("W/\"abc\""), "W/\"abc\"");
}
