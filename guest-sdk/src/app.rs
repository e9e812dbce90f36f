//! [`App`]: what a plugin declares in `setup`.

use std::time::Duration;

use crate::bindings::berth::plugin::types::{
    Hook, Middleware, Registration, Route, StaticMount, Timer, WsRoute,
};
use crate::config::Config;
use crate::flow::{Flow, IntoResponse, Outcome};
use crate::handler::{AfterFn, BeforeFn, Handler, WsHandlers};
use crate::websocket::WebSocket;
use crate::ws::Conn;
use crate::{Event, EventKind, Method, Request, Response, ServerInfo};

/// A Berth plugin. Implement [`Plugin::setup`] and export the type with
/// [`export_plugin!`](crate::export_plugin).
///
/// ```no_run
/// use berth_sdk::prelude::*;
///
/// struct Auth;
///
/// impl Plugin for Auth {
///     const NAME: &'static str = "auth";
///
///     fn setup(app: &mut App, config: &Config) -> Result<(), String> {
///         let secret = config.get_or("secret", "default-secret").to_string();
///         app.before(move |req| {
///             if req.path().starts_with("/api") && req.header("Authorization") != Some(&*secret) {
///                 return Flow::Respond(Response::json_status(&json!({"error": "Unauthorized"}), 401));
///             }
///             Flow::next()
///         });
///         app.get("/auth/check", |_| Response::json(&json!({"valid": true})));
///         Ok(())
///     }
/// }
///
/// berth_sdk::export_plugin!(Auth);
/// ```
pub trait Plugin {
    /// The plugin's name for logs and its state namespace; empty (the default) means
    /// the crate's package name.
    const NAME: &'static str = "";

    /// Declares everything the plugin serves. Called once per instance, with the
    /// plugin's table from `berth.toml`. An `Err` refuses to start the server.
    fn setup(app: &mut App, config: &Config) -> Result<(), String>;
}

/// Collects a plugin's routes, middleware, hooks, WebSocket endpoints, timers and
/// static mounts. Every registering method returns `&mut App` for chaining.
///
/// Middleware runs in plugin order, then in the order registered here; `after`
/// handlers run in reverse (an onion).
pub struct App {
    registration: Registration,
    handlers: Vec<Handler>,
}

impl App {
    pub(crate) fn new(name: &str) -> App {
        App {
            registration: Registration {
                name: name.to_string(),
                routes: Vec::new(),
                websockets: Vec::new(),
                middleware: Vec::new(),
                hooks: Vec::new(),
                timers: Vec::new(),
                mounts: Vec::new(),
            },
            handlers: Vec::new(),
        }
    }

    pub(crate) fn finish(self) -> (Registration, Vec<Handler>) {
        (self.registration, self.handlers)
    }

    pub(crate) fn handler_mut(&mut self, index: usize) -> &mut Handler {
        &mut self.handlers[index]
    }

    fn add(&mut self, handler: Handler) -> u32 {
        self.handlers.push(handler);
        (self.handlers.len() - 1) as u32
    }

    fn event_handler<F, R>(&mut self, handler: F) -> u32
    where
        F: Fn(&Event) -> R + 'static,
        R: Into<Outcome>,
    {
        self.add(Handler::Event(Box::new(move |ev| handler(ev).into())))
    }

    /// The plugin's name, as it will be registered.
    pub fn name(&self) -> &str {
        &self.registration.name
    }

    /// Routes any of `methods` on `path` to `handler`. Segments like `<id>` capture a
    /// parameter ([`Request::param`]).
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.route("/resource", &[Method::Get, Method::Post], |req| match req.method() {
    ///     Method::Post => Response::json(&json!({"created": true})).status(201),
    ///     _ => Response::json(&json!({"items": []})),
    /// });
    /// # }
    /// ```
    pub fn route<F, R>(&mut self, path: &str, methods: &[Method], handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        let id = self.add(Handler::Route(Box::new(move |req| {
            handler(req).into_response()
        })));
        self.registration.routes.push(Route {
            methods: methods.to_vec(),
            path: path.to_string(),
            handler: id,
        });
        self
    }

    /// Routes `GET` (and so `HEAD`) on `path`.
    pub fn get<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Get], handler)
    }

    /// Routes `POST` on `path`.
    pub fn post<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Post], handler)
    }

    /// Routes `PUT` on `path`.
    pub fn put<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Put], handler)
    }

    /// Routes `DELETE` on `path`.
    pub fn delete<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Delete], handler)
    }

    /// Routes `PATCH` on `path`.
    pub fn patch<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Patch], handler)
    }

    /// Routes `HEAD` on `path` (without it, `HEAD` falls back to the `GET` route).
    pub fn head<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Head], handler)
    }

    /// Routes `OPTIONS` on `path`.
    pub fn options<F, R>(&mut self, path: &str, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: IntoResponse,
    {
        self.route(path, &[Method::Options], handler)
    }

    /// Accepts WebSocket upgrades on `path` (on the HTTP port); the connection's events
    /// go to the handlers given to the returned [`WebSocket`], after the plugins'
    /// `ws:*` hooks.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.websocket("/ws/echo")
    ///     .on_connect(|ws, _| ws.send("Welcome!"))
    ///     .on_message(|_ws, msg| Outcome::reply(format!("Echo: {}", msg.text().unwrap_or(""))));
    /// # }
    /// ```
    pub fn websocket(&mut self, path: &str) -> WebSocket<'_> {
        let id = self.add(Handler::Ws(WsHandlers::default()));
        self.registration.websockets.push(WsRoute {
            path: path.to_string(),
            handler: id,
        });
        WebSocket {
            app: self,
            handler: id as usize,
        }
    }

    fn push_middleware(
        &mut self,
        methods: Vec<Method>,
        before: Option<Box<BeforeFn>>,
        after: Option<Box<AfterFn>>,
    ) -> &mut App {
        let before = before.map(|f| self.add(Handler::Before(f)));
        let after = after.map(|f| self.add(Handler::After(f)));
        self.registration.middleware.push(Middleware {
            methods,
            before,
            after,
        });
        self
    }

    /// One middleware layer with both phases: `before` runs ahead of the route (and may
    /// stop the request), `after` runs behind it and may rewrite the response. The
    /// `after` phase runs for every request whose `before` phase this layer entered,
    /// even when a later layer stopped it. (For one phase, use [`App::before`] or
    /// [`App::after`].)
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.middleware(
    ///     |req| info!("in: {}", req.path()),
    ///     |_req, resp| resp.header("X-Layer", "1"),
    /// );
    /// # }
    /// ```
    pub fn middleware<B, RB, A, RA>(&mut self, before: B, after: A) -> &mut App
    where
        B: Fn(&Request) -> RB + 'static,
        RB: Into<Flow>,
        A: Fn(&Request, Response) -> RA + 'static,
        RA: IntoResponse,
    {
        self.push_middleware(
            Vec::new(),
            Some(Box::new(move |req| before(req).into())),
            Some(Box::new(move |req, resp| after(req, resp).into_response())),
        )
    }

    /// A before-middleware for every request (seed 000's `@app.use`). Return
    /// [`Flow`], [`Next`](crate::Next), a [`Response`] (stops), `Option<Response>`
    /// or `()` (proceeds).
    pub fn before<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: Into<Flow>,
    {
        self.push_middleware(
            Vec::new(),
            Some(Box::new(move |req| handler(req).into())),
            None,
        )
    }

    /// An after-middleware for every request: receives the response and returns the
    /// one to send (anything [`IntoResponse`]).
    pub fn after<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(&Request, Response) -> R + 'static,
        R: IntoResponse,
    {
        self.push_middleware(
            Vec::new(),
            None,
            Some(Box::new(move |req, resp| {
                handler(req, resp).into_response()
            })),
        )
    }

    /// The hook `http:<method>`: a before-middleware that sees only `method` requests.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.on_http(Method::Get, |req| info!("GET {}", req.path()));
    /// # }
    /// ```
    pub fn on_http<F, R>(&mut self, method: Method, handler: F) -> &mut App
    where
        F: Fn(&Request) -> R + 'static,
        R: Into<Flow>,
    {
        self.push_middleware(
            vec![method],
            Some(Box::new(move |req| handler(req).into())),
            None,
        )
    }

    /// The hook `http:<method>:after`: an after-middleware that sees only `method`
    /// requests.
    pub fn on_http_after<F, R>(&mut self, method: Method, handler: F) -> &mut App
    where
        F: Fn(&Request, Response) -> R + 'static,
        R: IntoResponse,
    {
        self.push_middleware(
            vec![method],
            None,
            Some(Box::new(move |req, resp| {
                handler(req, resp).into_response()
            })),
        )
    }

    /// Subscribes to a lifecycle or WebSocket event (`server:start`, `server:stop`,
    /// `ws:connect`, `ws:message`, `ws:disconnect`), for every WebSocket connection of
    /// the server, with the raw [`Event`]. Return an [`Outcome`] or `()`. The typed
    /// forms ([`App::on_start`], [`App::on_ws_message`], …) are usually simpler.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.on(EventKind::WsMessage, |ev| match ev {
    ///     Event::WsMessage(m) if m.data()["type"] == "ping" => {
    ///         Outcome::reply_json(&json!({"type": "pong"})).and_stop()
    ///     }
    ///     _ => Outcome::none(),
    /// });
    /// # }
    /// ```
    pub fn on<F, R>(&mut self, event: EventKind, handler: F) -> &mut App
    where
        F: Fn(&Event) -> R + 'static,
        R: Into<Outcome>,
    {
        let id = self.event_handler(handler);
        self.registration.hooks.push(Hook { event, handler: id });
        self
    }

    /// The `server:start` hook, with the server's addresses.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.on_start(|info| info!("serving on {}", info.http_addr));
    /// # }
    /// ```
    pub fn on_start<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(&ServerInfo) -> R + 'static,
        R: Into<Outcome>,
    {
        self.on(EventKind::ServerStart, move |ev| match ev {
            Event::ServerStart(info) => handler(info).into(),
            _ => Outcome::none(),
        })
    }

    /// The `server:stop` hook.
    pub fn on_stop<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn() -> R + 'static,
        R: Into<Outcome>,
    {
        self.on(EventKind::ServerStop, move |_| handler().into())
    }

    /// The `ws:message` hook: every message of every WebSocket connection, with the
    /// connection's handle.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.on_ws_message(|_ws, msg| match msg.data()["type"].as_str() {
    ///     Some("ping") => Outcome::reply_json(&json!({"type": "pong"})).and_stop(),
    ///     _ => Outcome::none(),
    /// });
    /// # }
    /// ```
    pub fn on_ws_message<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(Conn, &crate::WsMessage) -> R + 'static,
        R: Into<Outcome>,
    {
        self.on(EventKind::WsMessage, move |ev| match ev {
            Event::WsMessage(m) => handler(Conn::from_id(m.conn), m).into(),
            _ => Outcome::none(),
        })
    }

    /// The `ws:connect` hook: every new WebSocket connection, before the `101` is sent
    /// ([`Outcome::refuse`] refuses it).
    pub fn on_ws_connect<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(Conn, &crate::WsConnect) -> R + 'static,
        R: Into<Outcome>,
    {
        self.on(EventKind::WsConnect, move |ev| match ev {
            Event::WsConnect(c) => handler(Conn::from_id(c.conn), c).into(),
            _ => Outcome::none(),
        })
    }

    /// The `ws:disconnect` hook, while the connection's data and rooms still exist.
    pub fn on_ws_disconnect<F, R>(&mut self, handler: F) -> &mut App
    where
        F: Fn(Conn, &crate::WsDisconnect) -> R + 'static,
        R: Into<Outcome>,
    {
        self.on(EventKind::WsDisconnect, move |ev| match ev {
            Event::WsDisconnect(d) => handler(Conn::from_id(d.conn), d).into(),
            _ => Outcome::none(),
        })
    }

    /// Calls `handler` every `interval` (at least 1 ms) with the wall-clock time in
    /// Unix milliseconds.
    ///
    /// ```no_run
    /// # use berth_sdk::prelude::*;
    /// # fn f(app: &mut App) {
    /// app.every(Duration::from_secs(2), |_now| {
    ///     berth_sdk::publish("sensors", r#"{"temperature":21}"#, None, None);
    /// });
    /// # }
    /// ```
    pub fn every<F>(&mut self, interval: Duration, handler: F) -> &mut App
    where
        F: Fn(u64) + 'static,
    {
        let id = self.event_handler(move |ev| {
            if let Event::Tick(now) = ev {
                handler(*now)
            }
        });
        let interval_ms = u32::try_from(interval.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        self.registration.timers.push(Timer {
            interval_ms,
            handler: id,
        });
        self
    }

    /// Asks the host to serve the files under `dir` at `prefix` (seed 002's
    /// `mount_static`), with `Cache-Control: max-age=<max_age>`. The host serves only
    /// directories its configuration allows.
    pub fn mount_static(&mut self, prefix: &str, dir: &str, max_age: u32) -> &mut App {
        self.registration.mounts.push(StaticMount {
            prefix: prefix.to_string(),
            dir: dir.to_string(),
            max_age,
        });
        self
    }
}
