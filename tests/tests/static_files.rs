//! Static files on every runtime (server on both engines, and the embedded runtime,
//! which holds the folders in memory as a device holds them in its flash store): a
//! `[[static]]` mount over a folder made at test time, the files a plugin may send
//! (`[grants]`), and seed 002's medium example serving `/static` from its own `www/`
//! through micro-api's `mount_static`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_server::config::StaticMountConfig;
use berth_tests::clients::raw_get;
use berth_tests::http_client::{client, header};
use berth_tests::{config, example, per_runtime, Runtime, TestServer};
use reqwest::blocking::Response;
use reqwest::Method;

const HELLO: &str = "Hello, static world!\n";

/// The site every server of this binary serves, made once:
/// `www/` (mounted at `/files`), `granted/` (granted to misbehave), `other/`, a secret
/// beside `www/`, and symbolic links that stay inside or lead out.
fn site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-static-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let write = |rel: &str, text: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write("www/hello.txt", HELLO);
        write("www/index.html", "<h1>root index</h1>\n");
        write("www/sub/index.html", "<h1>sub index</h1>\n");
        write("www/style.css", "body { color: teal }\n");
        write("www/app.js", "console.log(1);\n");
        write("www/data.json", "{\"ok\":true}\n");
        write("www/empty/.keep", "");
        write("www/.env", "SECRET=dotenv\n");
        write("www/.git/config", "[core] SECRET\n");
        write("www/sub/.htpasswd", "admin:SECRET\n");
        write("www/.hidden/index.html", "SECRET index\n");
        write("secret.txt", "top secret\n");
        write("granted/g.txt", "granted\n");
        write("other/o.txt", "not granted\n");
        let www = dir.join("www");
        std::os::unix::fs::symlink("../secret.txt", www.join("escape")).expect("symlink");
        std::os::unix::fs::symlink("..", www.join("outdir")).expect("symlink");
        std::os::unix::fs::symlink("hello.txt", www.join("inside")).expect("symlink");
        std::os::unix::fs::symlink(".env", www.join("innocent")).expect("symlink");
        std::os::unix::fs::symlink(".hidden", www.join("plain")).expect("symlink");
        dir
    })
}

fn server(rt: Runtime) -> &'static TestServer {
    rt.shared("static", || {
        let mut c = config("[plugins]\nload = [\"misbehave\"]\n", rt);
        let site = site();
        c.statics.mounts.push(StaticMountConfig {
            prefix: "/files".into(),
            dir: site.join("www"),
            max_age: 60,
        });
        c.statics
            .grants
            .insert("misbehave".into(), vec![site.join("granted")]);
        c.statics.base = site.to_path_buf();
        c
    })
}

fn get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().get(s.url(path));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    req.send().expect("GET")
}

fn file_with_type_and_validators(rt: Runtime) {
    let s = server(rt);
    let r = get(s, "/files/hello.txt", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(header(&r, "cache-control").as_deref(), Some("max-age=60"));
    assert_eq!(header(&r, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(header(&r, "content-length"), Some(HELLO.len().to_string()));
    assert!(header(&r, "etag").is_some_and(|e| e.starts_with('"')));
    // A device has no calendar: the embedded runtime validates by ETag alone.
    let last_modified = header(&r, "last-modified");
    match rt {
        Runtime::ServerWasmtime | Runtime::ServerWasmi => {
            assert!(last_modified.is_some_and(|d| d.ends_with(" GMT")))
        }
        Runtime::EmbeddedWasmi => assert_eq!(last_modified, None),
    }
    assert_eq!(r.text().expect("body"), HELLO);
    for (path, mime) in [
        ("/files/style.css", "text/css; charset=utf-8"),
        ("/files/app.js", "text/javascript; charset=utf-8"),
        ("/files/data.json", "application/json"),
        ("/files/index.html", "text/html; charset=utf-8"),
    ] {
        let r = get(s, path, &[]);
        assert_eq!(header(&r, "content-type").as_deref(), Some(mime), "{path}");
    }
    let r = client()
        .head(s.url("/files/hello.txt"))
        .send()
        .expect("HEAD");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), Some(HELLO.len().to_string()));
    assert!(r.bytes().expect("body").is_empty());
}

fn conditional_requests_get_304(rt: Runtime) {
    let s = server(rt);
    let first = get(s, "/files/hello.txt", &[]);
    let etag = header(&first, "etag").expect("etag");

    let r = get(s, "/files/hello.txt", &[("If-None-Match", &etag)]);
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "etag"), Some(etag.clone()));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("max-age=60"));
    assert!(r.bytes().expect("body").is_empty());
    let weak = format!("\"nope\", W/{etag}");
    assert_eq!(
        get(s, "/files/hello.txt", &[("If-None-Match", &weak)]).status(),
        304
    );
    assert_eq!(
        get(s, "/files/hello.txt", &[("If-None-Match", "\"nope\"")]).status(),
        200
    );

    let Some(modified) = header(&first, "last-modified") else {
        assert_eq!(rt, Runtime::EmbeddedWasmi, "the server sends Last-Modified");
        return;
    };
    assert_eq!(
        get(s, "/files/hello.txt", &[("If-Modified-Since", &modified)]).status(),
        304
    );
    let old = "Mon, 01 Jan 1990 00:00:00 GMT";
    assert_eq!(
        get(s, "/files/hello.txt", &[("If-Modified-Since", old)]).status(),
        200
    );
    // If-None-Match wins over If-Modified-Since.
    let both = [
        ("If-None-Match", "\"nope\""),
        ("If-Modified-Since", modified.as_str()),
    ];
    assert_eq!(get(s, "/files/hello.txt", &both).status(), 200);
}

fn ranges_get_206_or_416(rt: Runtime) {
    let s = server(rt);
    let len = HELLO.len();
    let part = |range: &str| get(s, "/files/hello.txt", &[("Range", range)]);

    let r = part("bytes=0-4");
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "content-range"),
        Some(format!("bytes 0-4/{len}"))
    );
    assert_eq!(header(&r, "content-length").as_deref(), Some("5"));
    assert_eq!(r.text().expect("body"), "Hello");
    let r = part("bytes=-7");
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().expect("body"), "world!\n");
    let r = part("bytes=14-");
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().expect("body"), "world!\n");

    for bad in ["bytes=100-", "bytes=abc", "bytes=5-2"] {
        let r = part(bad);
        assert_eq!(r.status(), 416, "{bad}");
        assert_eq!(
            header(&r, "content-range"),
            Some(format!("bytes */{len}")),
            "{bad}"
        );
    }
    // Other units and several ranges get the whole file.
    assert_eq!(part("items=0-1").status(), 200);
    let r = part("bytes=0-1, 4-5");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().expect("body"), HELLO);

    let etag = header(&get(s, "/files/hello.txt", &[]), "etag").expect("etag");
    let r = get(
        s,
        "/files/hello.txt",
        &[("Range", "bytes=0-4"), ("If-Range", &etag)],
    );
    assert_eq!(r.status(), 206);
    let r = get(
        s,
        "/files/hello.txt",
        &[("Range", "bytes=0-4"), ("If-Range", "\"stale\"")],
    );
    assert_eq!(r.status(), 200);
}

fn folders_serve_index_html(rt: Runtime) {
    let s = server(rt);
    let r = get(s, "/files/", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().expect("body"), "<h1>root index</h1>\n");
    let r = get(s, "/files/sub/", &[]);
    assert_eq!(r.text().expect("body"), "<h1>sub index</h1>\n");
    let r = get(s, "/files/sub", &[]);
    assert_eq!(r.status(), 301);
    assert_eq!(header(&r, "location").as_deref(), Some("/files/sub/"));
    let r = get(s, "/files", &[]);
    assert_eq!(r.status(), 301);
    assert_eq!(header(&r, "location").as_deref(), Some("/files/"));
    assert_eq!(get(s, "/files/empty/", &[]).status(), 404);
    assert_eq!(get(s, "/files/missing.txt", &[]).status(), 404);
}

fn traversal_is_403(rt: Runtime) {
    let s = server(rt);
    for target in [
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2E%2E%2Fsecret.txt",
        "/files/sub/..%2f..%2fsecret.txt",
        "/files/.%2e/secret.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/..\\secret.txt",
        "/files/hello.txt%00.png",
    ] {
        let r = raw_get(s.addr, target, &[]);
        assert_eq!(r.status, 403, "{target}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("top secret"),
            "{target}"
        );
    }
    // Links that lead out: the server finds them and refuses (403); the embedded
    // runtime never read them (a folder is read once, links out left behind): 404.
    let refused = if rt == Runtime::EmbeddedWasmi {
        404
    } else {
        403
    };
    for target in ["/files/escape", "/files/outdir/secret.txt"] {
        let r = raw_get(s.addr, target, &[]);
        assert_eq!(r.status, refused, "{target}");
        assert!(!String::from_utf8_lossy(&r.body).contains("top secret"));
    }
    // A link that stays inside the root is fine.
    let r = raw_get(s.addr, "/files/inside", &[]);
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO.as_bytes()));
}

/// Any segment starting with `.` is 404 on a mount, however it is spelled or reached;
/// none of the dotfiles' text ever goes out.
fn dotfiles_are_404(rt: Runtime) {
    let s = server(rt);
    for target in [
        "/files/.env",
        "/files/%2eenv",
        "/files/%2Eenv",
        "/files/.git/config",
        "/files/.git/",
        "/files/.git",
        "/files/sub/.htpasswd",
        "/files/sub/%2ehtpasswd",
        "/files/.hidden/",
        "/files/.hidden/index.html",
        "/files/empty/.keep",
        "/files/innocent",
        "/files/plain/",
        "/files/plain/index.html",
    ] {
        for method in ["GET", "HEAD"] {
            let r = client()
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    s.url(target),
                )
                .send()
                .expect("request");
            assert_eq!(r.status(), 404, "{method} {target}");
            assert!(
                !r.text().unwrap_or_default().contains("SECRET"),
                "{method} {target}"
            );
        }
    }
    // Names that merely contain a dot are files like any other.
    assert_eq!(get(s, "/files/hello.txt", &[]).status(), 200);
}

fn other_methods_on_a_mount(rt: Runtime) {
    let s = server(rt);
    let r = client()
        .post(s.url("/files/hello.txt"))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow").as_deref(), Some("GET, HEAD"));
    let r = client()
        .request(Method::OPTIONS, s.url("/files/hello.txt"))
        .send()
        .expect("OPTIONS");
    assert_eq!(r.status(), 204);
}

fn plugin_files_stay_inside_their_grants(rt: Runtime) {
    let s = server(rt);
    let send = |path: &str| {
        client()
            .get(s.url("/send-file"))
            .query(&[("path", path)])
            .send()
            .expect("GET")
    };
    let r = send("granted/g.txt");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(r.text().expect("body"), "granted\n");
    for refused in [
        "other/o.txt",
        "www/hello.txt",
        "secret.txt",
        "../secret.txt",
        "granted/../secret.txt",
        "granted/../other/o.txt",
        "/etc/passwd",
        &format!("{}/secret.txt", site().display()),
    ] {
        assert_eq!(send(refused).status(), 403, "{refused}");
    }
    assert_eq!(send("granted/missing.txt").status(), 404);
}

// ---- seed 002's medium example: micro-api's mount_static and send_file -------------

fn medium_serves_static_from_www(rt: Runtime) {
    let s = rt.shared("seed002-medium", || example("seed002-medium", rt));
    let r = get(s, "/static/style.css", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(header(&r, "cache-control").as_deref(), Some("max-age=3600"));
    // Static files go through the middleware like any response (CORS here).
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let r = get(s, "/static/", &[]);
    assert!(r.text().expect("html").contains("Served from www/"));
    let r = get(s, "/favicon.ico", &[]);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type").as_deref(), Some("image/x-icon"));
    assert!(r.bytes().expect("icon").starts_with(&[0, 0, 1, 0]));
    let r = get(s, "/download", &[]);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(r.text().expect("csv").starts_with("date,sales,revenue\n"));
    let r = get(s, "/file", &[]);
    assert_eq!(header(&r, "content-type").as_deref(), Some("text/csv"));
    assert_eq!(r.text().expect("csv").lines().count(), 2001);
    assert_eq!(raw_get(s.addr, "/static/../berth.toml", &[]).status, 403);
}

fn ungranted_plugin_mounts_are_not_served(rt: Runtime) {
    // seed002-basic loads micro-api too, but grants it nothing.
    let s = rt.shared("seed002-basic", || example("seed002-basic", rt));
    assert_eq!(get(s, "/static/style.css", &[]).status(), 404);
    assert_eq!(get(s, "/favicon.ico", &[]).status(), 403);
    assert_eq!(get(s, "/", &[]).status(), 200);
}

per_runtime!(
    file_with_type_and_validators,
    conditional_requests_get_304,
    ranges_get_206_or_416,
    folders_serve_index_html,
    traversal_is_403,
    dotfiles_are_404,
    other_methods_on_a_mount,
    plugin_files_stay_inside_their_grants,
    medium_serves_static_from_www,
    ungranted_plugin_mounts_are_not_served,
);
