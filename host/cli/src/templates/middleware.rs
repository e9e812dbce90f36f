//! __NAME__: a Berth plugin that is middleware: it guards a path prefix with an API key
//! and stamps every response.
//!
//! `berth build .` makes `__NAME__.wasm`; `cargo test` runs the tests below against the
//! SDK's in-memory host, without a server.
use berth_sdk::prelude::*;

struct __TYPE__;

/// `[plugin.__NAME__]` in berth.toml.
#[derive(serde::Deserialize)]
struct Settings {
    #[serde(default = "default_key")]
    key: String,
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_key() -> String {
    "change-me".into()
}

fn default_prefix() -> String {
    "/private".into()
}

impl Plugin for __TYPE__ {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let s: Settings = config.deserialize()?;
        app.middleware(
            // Before the route: stop with 401, or go on and add a header to the answer.
            move |req| {
                if req.path().starts_with(&s.prefix) && req.header("x-api-key") != Some(&*s.key) {
                    return Flow::Respond(Response::error("Unauthorized", 401));
                }
                Next::new().response_header("x-checked-by", "__NAME__").into()
            },
            // After the route, or a later layer's stop (not this layer's own): rewrite
            // the response.
            |req, resp| resp.header("x-path", req.path()),
        );
        app.get("/private/data", |_| json!({"secret": 42}));
        Ok(())
    }
}

berth_sdk::export_plugin!(__TYPE__);

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sdk::testing::TestApp;

    #[test]
    fn guards_the_prefix() {
        let app = TestApp::with_config::<__TYPE__>(&[("key", "k")]).expect("setup");
        let r = app.get("/private/data").send();
        assert_eq!(r.status(), 401);
        assert_eq!(r.header("x-path"), None); // a layer that stops skips its own after
        let r = app.get("/private/data").header("X-Api-Key", "k").send();
        assert_eq!(r.json::<Value>(), json!({"secret": 42}));
        assert_eq!(r.header("x-checked-by"), Some("__NAME__"));
        assert_eq!(r.header("x-path"), Some("/private/data"));
        assert_eq!(app.get("/public").send().header("x-path"), Some("/public"));
    }
}
