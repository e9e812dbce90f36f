//! Seed 000's full example: a welcome route, a users API kept in state, and its
//! WebSocket part.
//!
//! `GET /` → `{"message":"Welcome to the API"}`; `GET /api/users` → `{"users":[...]}`
//! in creation order; `POST /api/users` with a JSON object → `201` with
//! `{"id":"<n>", ...body}`, and every WebSocket client gets
//! `{"event":"user_created","user":{…}}`. On WebSockets, `{"type":"ping"}` →
//! `{"type":"pong","time":<Unix seconds, fractional>}`.
use berth_sdk::now_ms;
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

        app.post("/api/users", |req| -> Result<_, Error> {
            let body: Map<String, Value> = match req.json::<Value>() {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(Error::bad_request("JSON object body required")),
                Err(_) => return Err(Error::bad_request("Invalid JSON body")),
            };
            let id = state::incr("next_id", 1)?;
            let mut user = Map::new();
            user.insert("id".into(), Value::String(id.to_string()));
            // Python's `{"id": user_id, **req.body}`: body keys follow (and may override).
            user.extend(body);
            let user = Value::Object(user);
            // A refused write (the namespace's quota) answers 507, never 201.
            state::set_json(&user_key(id), &user)?;
            // Seed 000: `for ws in app.state.ws_clients: ws.send(...)`.
            ws::broadcast_json(None, &json!({"event": "user_created", "user": user}), None);
            Ok((201, user))
        });

        app.on_ws_connect(|ws, _| ws.data().set("connected_at", now_ms().to_string()));
        app.on_ws_message(|_ws, m| {
            if m.data()["type"] == "ping" {
                let time = now_ms() as f64 / 1000.0;
                return Outcome::reply_json(&json!({"type": "pong", "time": time})).and_stop();
            }
            Outcome::none()
        });
        Ok(())
    }
}

berth_sdk::export_plugin!(Users);

#[cfg(test)]
mod tests;
