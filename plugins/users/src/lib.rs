//! Seed 000's full example (HTTP part): a welcome route and a users API kept in state.
//!
//! `GET /` → `{"message":"Welcome to the API"}`; `GET /api/users` → `{"users":[...]}`
//! in creation order; `POST /api/users` with a JSON object → `201` with
//! `{"id":"<n>", ...body}`.
use berth_sdk::prelude::*;
use berth_sdk::serde_json::Map;

struct Users;

/// Keys sort in creation order: `user:000000000001`, `user:000000000002`, …
fn user_key(id: i64) -> String {
    format!("user:{id:012}")
}

impl Plugin for Users {
    fn setup(app: &mut App, _config: &Config) -> Result<(), String> {
        app.get("/", |_req| {
            Response::json(&json!({"message": "Welcome to the API"}))
        });

        app.get("/api/users", |_req| {
            let users: Vec<Value> = state::keys("user:")
                .iter()
                .filter_map(|k| state::get_json(k))
                .collect();
            Response::json(&json!({ "users": users }))
        });

        app.post("/api/users", |req| {
            let body: Map<String, Value> = match req.json::<Value>() {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Response::error("JSON object body required", 400),
                Err(_) => return Response::error("Invalid JSON body", 400),
            };
            let id = match state::incr("next_id", 1) {
                Ok(id) => id,
                Err(e) => return Response::error(&e, 500),
            };
            let mut user = Map::new();
            user.insert("id".into(), Value::String(id.to_string()));
            // Python's `{"id": user_id, **req.body}`: body keys follow (and may override).
            user.extend(body);
            let user = Value::Object(user);
            state::set_json(&user_key(id), &user);
            Response::json_status(&user, 201)
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Users);
