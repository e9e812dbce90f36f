//! The black-box HTTP suite: every bundled plugin driven by a real HTTP client, once per
//! runtime (`per_runtime!` makes `server_wasmtime`, `server_wasmi` and `embedded_wasmi`
//! modules with the same cases).

use std::time::{Duration, Instant};

use berth_tests::http_client::{client, header, json_of};
use berth_tests::{config, example, per_runtime, Runtime, TestServer};
use reqwest::blocking::Response;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ---- servers ----------------------------------------------------------------------

fn seed000(rt: Runtime) -> &'static TestServer {
    rt.shared("seed000-full", || example("seed000-full", rt))
}

fn seed002(rt: Runtime) -> &'static TestServer {
    rt.shared("seed002-medium", || example("seed002-medium", rt))
}

fn extras(rt: Runtime) -> &'static TestServer {
    rt.shared("extras", || {
        config(
            r#"
            [plugins]
            load = ["metrics", "auth", "hello", "misbehave", "bench-kit"]
            [limits]
            plugin_timeout = 0.5
            plugin_memory = 8388608
            [plugin.auth]
            secret = "my-secret-token"
            "#,
            rt,
        )
    })
}

fn rate_limited(rt: Runtime) -> &'static TestServer {
    rt.shared("rate-limit", || {
        config(
            "[plugins]\nload = [\"rate-limit\", \"hello\"]\n[plugin.rate-limit]\nwindow = 60\nmax = 2\ntrusted_proxies = [\"127.0.0.1\"]\n",
            rt,
        )
    })
}

// ---- seed 000: the full example (auth with X-API-Key, logger, users) ---------------

fn welcome(rt: Runtime) {
    let r = client().get(seed000(rt).url("/")).send().expect("GET /");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    assert!(header(&r, "server").is_some_and(|s| s.starts_with("Berth/")));
    assert_eq!(json_of(r), json!({"message": "Welcome to the API"}));
}

fn api_key_required(rt: Runtime) {
    let s = seed000(rt);
    let r = client().get(s.url("/api/users")).send().expect("GET");
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r), json!({"error": "Invalid API key"}));
    let r = client()
        .get(s.url("/api/users"))
        .header("X-API-Key", "wrong")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 401);
    // Middleware runs before routing outcomes: an unknown /api path is 401 too.
    let r = client().get(s.url("/api/nothing")).send().expect("GET");
    assert_eq!(r.status(), 401);
}

fn create_and_list_users(rt: Runtime) {
    let s = seed000(rt);
    let name = format!("Alice-{rt:?}");
    let r = client()
        .post(s.url("/api/users"))
        .header("X-API-Key", "my-secret-key")
        .json(&json!({"name": name, "role": "admin"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 201);
    let user = json_of(r);
    let id = user["id"].as_str().expect("id is a string").to_string();
    assert!(id.parse::<u64>().is_ok(), "id {id:?}");
    assert_eq!(user, json!({"id": id, "name": name, "role": "admin"}));

    let r = client()
        .get(s.url("/api/users"))
        .header("x-api-key", "my-secret-key")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 200);
    let users = json_of(r)["users"].as_array().expect("users list").clone();
    assert!(users.contains(&user), "{users:?} lacks {user}");
}

fn bad_user_bodies(rt: Runtime) {
    let s = seed000(rt);
    let post = |body: &str| {
        client()
            .post(s.url("/api/users"))
            .header("X-API-Key", "my-secret-key")
            .body(body.to_string())
            .send()
            .expect("POST")
    };
    let r = post("{not json");
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r)["code"], 400);
    assert_eq!(post("[1,2]").status(), 400);
}

fn not_found_and_method_not_allowed(rt: Runtime) {
    let s = seed000(rt);
    let r = client().get(s.url("/no/such/path")).send().expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(json_of(r), json!({"error": "Not Found", "code": 404}));
    let r = client().delete(s.url("/")).send().expect("DELETE");
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow").as_deref(), Some("GET, HEAD"));
    assert_eq!(
        json_of(r),
        json!({"error": "Method Not Allowed", "code": 405})
    );
}

fn head_has_no_body(rt: Runtime) {
    let s = seed000(rt);
    let get = client().get(s.url("/")).send().expect("GET");
    let get_len = get.bytes().expect("body").len();
    let r = client().head(s.url("/")).send().expect("HEAD");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-length"), Some(get_len.to_string()));
    assert!(r.bytes().expect("body").is_empty());
}

fn unknown_method_is_501(rt: Runtime) {
    let method = Method::from_bytes(b"PROPFIND").expect("method");
    let r = client()
        .request(method, seed000(rt).url("/"))
        .send()
        .expect("PROPFIND");
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
}

// ---- seed 002: the medium example (logger, cors, micro-api; 4 KiB bodies) ----------

fn micro_api_routes(rt: Runtime) {
    let s = seed002(rt);
    let get = |path: &str| {
        let r = client().get(s.url(path)).send().expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        json_of(r)
    };
    assert_eq!(get("/"), json!({"message": "Hello from MicroServer"}));
    assert_eq!(get("/status"), json!({"ok": true, "ip": "127.0.0.1"}));
    assert_eq!(get("/users/42?page=2"), json!({"id": "42", "page": "2"}));
    assert_eq!(get("/users/42"), json!({"id": "42", "page": "1"}));
    assert_eq!(
        get("/posts/7/comments/99"),
        json!({"post": "7", "comment": "99"})
    );
    assert_eq!(
        get("/search?q=esp32&page=2"),
        json!({"query": "esp32", "page": 2})
    );
    assert_eq!(
        get("/search?q=hello%20world+again"),
        json!({"query": "hello world again", "page": 1})
    );
    assert_eq!(get("/resource"), json!({"items": []}));
    assert_eq!(get("/new"), json!({"message": "You were redirected"}));

    let r = client().get(s.url("/search?page=x")).send().expect("GET");
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r)["code"], 400);
}

fn micro_api_methods(rt: Runtime) {
    let s = seed002(rt);
    let c = client();
    let r = c.post(s.url("/resource")).send().expect("POST");
    assert_eq!(r.status(), 201);
    assert_eq!(json_of(r), json!({"created": true}));
    let r = c.put(s.url("/users/5")).send().expect("PUT");
    assert_eq!(json_of(r), json!({"updated": "5"}));
    let r = c.patch(s.url("/users/5")).send().expect("PATCH");
    assert_eq!(json_of(r), json!({"patched": true}));
    let r = c.delete(s.url("/users/5")).send().expect("DELETE");
    assert_eq!(r.status(), 204);
    assert!(r.bytes().expect("body").is_empty());
}

fn micro_api_bodies(rt: Runtime) {
    let s = seed002(rt);
    let c = client();
    let r = c
        .post(s.url("/echo"))
        .body("hello there")
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(r.text().expect("text"), "hello there");
    let r = c.post(s.url("/echo")).send().expect("POST");
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(r), json!({"error": "Empty body", "code": 400}));
    let r = c
        .post(s.url("/sum"))
        .json(&json!({"a": 1, "b": 2.5}))
        .send()
        .expect("POST");
    assert_eq!(json_of(r), json!({"result": 3.5}));
    let r = c
        .post(s.url("/sum"))
        .json(&json!({"a": "x"}))
        .send()
        .expect("POST");
    assert_eq!(r.status(), 400);
    assert_eq!(
        json_of(r),
        json!({"error": "Invalid numbers provided", "code": 400})
    );
}

fn micro_api_responses(rt: Runtime) {
    let s = seed002(rt);
    let c = client();
    let r = c.get(s.url("/old")).send().expect("GET");
    assert_eq!(r.status(), 302);
    assert_eq!(header(&r, "location").as_deref(), Some("/new"));
    let r = c.get(s.url("/page")).send().expect("GET");
    assert!(header(&r, "content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(r.text().expect("html").contains("<h1>Hello World</h1>"));
    let r = c.get(s.url("/protected")).send().expect("GET");
    assert_eq!(header(&r, "x-custom-header").as_deref(), Some("value"));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
}

fn body_limit_is_413(rt: Runtime) {
    // seed002-medium sets max_body_size = 4096.
    let r = client()
        .post(seed002(rt).url("/echo"))
        .body(vec![b'x'; 5000])
        .send()
        .expect("POST");
    assert_eq!(r.status(), 413);
    assert_eq!(json_of(r)["code"], 413);
    let r = client()
        .post(seed002(rt).url("/echo"))
        .body(vec![b'y'; 4096])
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
}

fn cors_preflight_and_headers(rt: Runtime) {
    let s = seed002(rt);
    let r = client()
        .request(Method::OPTIONS, s.url("/sum"))
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .expect("OPTIONS");
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET,POST,OPTIONS")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers").as_deref(),
        Some("Content-Type,Authorization")
    );
    // Every other response carries the origin header, the host's own 404 included.
    let r = client().get(s.url("/status")).send().expect("GET");
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let r = client().get(s.url("/missing")).send().expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}

fn plain_options_lists_methods(rt: Runtime) {
    let r = client()
        .request(Method::OPTIONS, seed002(rt).url("/resource"))
        .send()
        .expect("OPTIONS");
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "allow").as_deref(),
        Some("GET, HEAD, POST, OPTIONS")
    );
}

// ---- seed 000's AuthPlugin with its defaults, metrics, hello, containment ----------

fn hello(rt: Runtime) {
    let r = client().get(extras(rt).url("/hello")).send().expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r), json!({"message": "Hello, World!"}));
}

fn auth_plugin_defaults(rt: Runtime) {
    let s = extras(rt);
    let r = client().get(s.url("/auth/check")).send().expect("GET");
    assert_eq!(json_of(r), json!({"valid": true}));
    let r = client().get(s.url("/api/anything")).send().expect("GET");
    assert_eq!(r.status(), 401);
    assert_eq!(json_of(r), json!({"error": "Unauthorized"}));
    // The right secret passes the middleware; there is no such route behind it.
    let r = client()
        .get(s.url("/api/anything"))
        .header("Authorization", "my-secret-token")
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404);
}

fn metrics_count_requests(rt: Runtime) {
    let s = extras(rt);
    let first = json_of(client().get(s.url("/metrics")).send().expect("GET"));
    client().get(s.url("/hello")).send().expect("GET");
    let second = json_of(client().get(s.url("/metrics")).send().expect("GET"));
    let n = |v: &Value| v["requests"].as_i64().expect("requests is a number");
    assert!(n(&second) >= n(&first) + 2, "{first} then {second}");
    assert_eq!(second["ws_connections"], 0);
    assert_eq!(second["ws_messages"], 0);
}

fn contained(rt: Runtime, path: &str, status: u16, message: &str) {
    let s = extras(rt);
    let started = Instant::now();
    let r = client().get(s.url(path)).send().expect("GET");
    assert_eq!(r.status(), status, "{path}");
    assert_eq!(json_of(r), json!({"error": message, "code": status}));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{path} took {:?}",
        started.elapsed()
    );
    // The server keeps serving, and the plugin itself gets a fresh instance.
    let r = client().get(s.url("/hello")).send().expect("GET");
    assert_eq!(r.status(), 200);
    let r = client().get(s.url("/ok")).send().expect("GET");
    assert_eq!(json_of(r), json!({"ok": true}));
}

fn endless_loop_is_504(rt: Runtime) {
    contained(rt, "/loop", 504, "Plugin timed out");
}

fn panic_is_500(rt: Runtime) {
    contained(rt, "/panic", 500, "Plugin failed");
}

fn unbounded_allocation_is_500(rt: Runtime) {
    contained(rt, "/oom", 500, "Plugin ran out of memory");
}

fn rate_limit_per_client(rt: Runtime) {
    let s = rate_limited(rt);
    let ip = format!("10.0.0.{}", rt as u8 + 1);
    let get = |ip: &str| {
        client()
            .get(s.url("/hello"))
            .header("X-Forwarded-For", ip)
            .send()
            .expect("GET")
    };
    assert_eq!(get(&ip).status(), 200);
    assert_eq!(get(&ip).status(), 200);
    let r = get(&ip);
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("60"));
    assert_eq!(json_of(r), json!({"error": "Too many requests"}));
    assert_eq!(
        get(&format!("{ip}0")).status(),
        200,
        "another client is not limited"
    );
}

per_runtime!(
    welcome,
    api_key_required,
    create_and_list_users,
    bad_user_bodies,
    not_found_and_method_not_allowed,
    head_has_no_body,
    unknown_method_is_501,
    micro_api_routes,
    micro_api_methods,
    micro_api_bodies,
    micro_api_responses,
    body_limit_is_413,
    cors_preflight_and_headers,
    plain_options_lists_methods,
    hello,
    auth_plugin_defaults,
    metrics_count_requests,
    endless_loop_is_504,
    panic_is_500,
    unbounded_allocation_is_500,
    rate_limit_per_client,
    bench_kit_echoes_json_and_counts,
    a_chunked_body_reaches_the_plugin,
);

fn a_chunked_body_reaches_the_plugin(rt: Runtime) {
    let mut c = berth_tests::raw::RawHttp::connect(seed002(rt).addr);
    c.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6\r\n there\r\n0\r\n\r\n",
    )
    .expect("send");
    let r = c.response();
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.body, b"hello there");
}

fn bench_kit_echoes_json_and_counts(rt: Runtime) {
    let server = extras(rt);
    let body = serde_json::json!({"items": (0..40).collect::<Vec<u32>>(), "name": "ü ✓"});
    let r = client()
        .post(server.url("/echo-json"))
        .body(body.to_string())
        .send()
        .expect("POST");
    assert_eq!(r.status(), 200);
    assert_eq!(json_of(r), body);
    let r = client()
        .post(server.url("/echo-json"))
        .body("{not json")
        .send()
        .expect("POST");
    assert_eq!(r.status(), 400);
    let hits = |r: Response| json_of(r)["hits"].as_i64().expect("hits");
    let first = hits(client().get(server.url("/incr")).send().expect("GET"));
    let second = hits(client().get(server.url("/incr")).send().expect("GET"));
    assert_eq!(second, first + 1);
}
