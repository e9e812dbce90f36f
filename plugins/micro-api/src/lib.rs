//! Seed 002's Basic and Medium examples and its routing, responses, custom-headers,
//! streaming and static-files sections, as one plugin.
//!
//! Files (`/static/…`, `/favicon.ico`, `/download`, `/file`) are served only where the
//! config grants this plugin the folders `www` and `data` (`[grants.micro-api]`).
//!
//! Config: `www` (default `www`) and `data` (default `data`), the two folders, relative
//! to the config file — so a config that does not sit beside them (the repository's
//! demo `berth.toml`) can point at an example's folders.
use berth_sdk::prelude::*;

struct MicroApi;

/// Seed 002's `float(data.get(name, 0))`: numbers, numeric strings and booleans;
/// absent counts as 0; anything else (null, lists, objects, other text) is invalid.
fn number(data: &Value, name: &str) -> Option<f64> {
    match data.get(name) {
        None => Some(0.0),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
        Some(_) => None,
    }
}

fn sum(req: &Request) -> Response {
    // `req.json or {}`: an invalid or empty body counts as `{}`.
    let data = match req.json::<Value>() {
        Ok(Value::Null) | Err(_) => json!({}),
        Ok(v) => v,
    };
    if !data.is_object() {
        return Response::error("Invalid numbers provided", 400);
    }
    match (number(&data, "a"), number(&data, "b")) {
        (Some(a), Some(b)) => Response::json(&json!({ "result": a + b })),
        _ => Response::error("Invalid numbers provided", 400),
    }
}

impl Plugin for MicroApi {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let www = config
            .get_or("www", "www")
            .trim_end_matches('/')
            .to_string();
        let data = config
            .get_or("data", "data")
            .trim_end_matches('/')
            .to_string();
        // Basic example.
        app.get("/", |_| {
            Response::json(&json!({"message": "Hello from MicroServer"}))
        });
        app.post("/echo", |req| {
            if req.body().is_empty() {
                return Response::error("Empty body", 400);
            }
            Response::text(req.text())
        });

        // Basic example: five chunks, half a second apart (chunked transfer encoding).
        app.get("/stream", |_| {
            Response::stream("text/plain", (0..5).map(|i| format!("chunk {i}\n")))
                .chunk_interval(Duration::from_millis(500))
        });

        // Medium example.
        app.get("/status", |req| {
            Response::json(&json!({"ok": true, "ip": req.ip()}))
        });
        app.post("/sum", sum);

        // Routing.
        app.get("/users/<user_id>", |req| {
            let uid = req.param("user_id").unwrap_or_default();
            let page = req.query_param("page").unwrap_or("1");
            Response::json(&json!({"id": uid, "page": page}))
        });
        app.get("/posts/<post_id>/comments/<comment_id>", |req| {
            Response::json(&json!({
                "post": req.param("post_id"),
                "comment": req.param("comment_id"),
            }))
        });
        app.get("/search", |req| -> Result<Value, Error> {
            let query = req.query_param("q").unwrap_or("");
            let page: i64 = match req.query_param("page") {
                None => 1,
                Some(p) => p
                    .trim()
                    .parse()
                    .map_err(|_| Error::bad_request("page must be an integer"))?,
            };
            Ok(json!({"query": query, "page": page}))
        });
        app.route("/resource", &[Method::Get, Method::Post], |req| {
            match req.method() {
                Method::Post => (201, json!({"created": true})),
                _ => (200, json!({"items": []})),
            }
        });
        app.put("/users/<id>", |req| {
            Response::json(&json!({"updated": req.param("id")}))
        });
        app.patch("/users/<id>", |_| Response::json(&json!({"patched": true})));
        app.delete("/users/<id>", |_| Response::empty(204));

        // Responses.
        app.get("/old", |_| Response::redirect("/new"));
        app.get("/new", |_| {
            Response::json(&json!({"message": "You were redirected"}))
        });
        app.get("/page", |_| {
            Response::html("<!DOCTYPE html>\n<html><body><h1>Hello World</h1></body></html>\n")
        });
        app.get("/protected", |_| {
            Response::json(&json!({"data": "secret"}))
                .header("X-Custom-Header", "value")
                .header("Cache-Control", "no-store")
        });

        // Streaming: a long body produced line by line, never held whole.
        app.get("/large", |_| {
            Response::stream("text/plain", (0..1000).map(|i| format!("Line {i}\n")))
        });
        // The seed reads /data/large.csv in 512-byte pieces; the host streams files itself.
        let large = format!("{data}/large.csv");
        app.get("/file", move |_| {
            Response::file(&large).header("Content-Type", "text/csv")
        });
        // `app.send_file(...)`.
        let report = format!("{data}/report.csv");
        app.get("/download", move |_| Response::file(&report));

        // Static files: `app.mount_static("/static", "/flash/www")` and a single file.
        app.mount_static("/static", &www, 3600);
        let favicon = format!("{www}/favicon.ico");
        app.get("/favicon.ico", move |_| Response::file(&favicon));
        Ok(())
    }
}

berth_sdk::export_plugin!(MicroApi);

#[cfg(test)]
mod tests;
