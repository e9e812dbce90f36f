//! Seed 000's LoggerPlugin: logs `GET /path`, `POST /path`, `WS connected` and
//! `WS disconnected` through the host log, plus seed 002's access line
//! `METHOD path | status` after every response, and `server stopping` from the
//! `server:stop` hook.
//!
//! Config: `prefix` (default `[LOG]`), `access` (default `true`: log the access line).
use berth_sdk::prelude::*;

struct Logger;

impl Plugin for Logger {
    fn setup(app: &mut App, config: &Config) -> Result<(), String> {
        let prefix = config.get_or("prefix", "[LOG]").to_string();
        let access = config.parse_or("access", true)?;

        let p = prefix.clone();
        app.on_http(Method::Get, move |req| info!("{p} GET {}", req.path()));
        let p = prefix.clone();
        app.on_http(Method::Post, move |req| info!("{p} POST {}", req.path()));
        let p = prefix.clone();
        app.on_ws_connect(move |_, _| info!("{p} WS connected"));
        let p = prefix.clone();
        app.on_ws_disconnect(move |_, _| info!("{p} WS disconnected"));
        let p = prefix.clone();
        app.on_stop(move || info!("{p} server stopping"));
        if access {
            app.after(move |req, resp| {
                info!("{prefix} {} {} | {}", req.method(), req.path(), resp.status);
                resp
            });
        }
        Ok(())
    }
}

berth_sdk::export_plugin!(Logger);

#[cfg(test)]
mod tests;
