//! __NAME__: a Berth plugin serving HTTP routes.
//!
//! `berth build .` makes `__NAME__.wasm`; `cargo test` runs the tests below against the
//! SDK's in-memory host, without a server.
use berth_sdk::prelude::*;

struct __TYPE__;

impl Plugin for __TYPE__ {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        // `[plugin.__NAME__] greeting = "Ahoy"` in berth.toml.
        let greeting = config.get_or("greeting", "Hello").to_string();

        // `<name>` captures a path segment; `?` turns a state error into a 5xx.
        app.get("/__NAME__/<name>", move |req| -> Result<Value, Error> {
            let count = state::incr("greetings", 1)?; // state lives in the host
            let name = req.param("name").unwrap_or("stranger");
            Ok(json!({"message": format!("{greeting}, {name}!"), "count": count}))
        });

        // A JSON body: invalid JSON is a 400 through `?`.
        app.post("/__NAME__", |req| -> Result<_, Error> {
            let body: Value = req.json()?;
            Ok((201, json!({"received": body})))
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(__TYPE__);

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sdk::testing::TestApp;

    #[test]
    fn greets_and_counts() {
        let app = TestApp::with_config::<__TYPE__>(&[("greeting", "Ahoy")]).expect("setup");
        let r = app.get("/__NAME__/Ada").send();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>(), json!({"message": "Ahoy, Ada!", "count": 1}));
        assert_eq!(app.get("/__NAME__/Bob").send().json::<Value>()["count"], 2);
        assert_eq!(app.post("/__NAME__").body("{").send().status(), 400);
        assert_eq!(app.post("/__NAME__").json(&json!([1])).send().status(), 201);
    }
}
