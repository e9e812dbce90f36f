//! The request pipeline: what the seeds mean by routes, middleware, hooks and `stop`.
//!
//! An [`App`] is built once from every plugin's [`Registration`], in plugin order. For each
//! request, [`App::handle`]:
//! 1. routes it (filling `params`), so middleware sees the matched parameters;
//! 2. runs the `before` middleware in plugin order, then registration order. `proceed`
//!    may edit request headers and add response headers; `respond` stops the chain
//!    (seed 000's `res.stop = True`) — later middleware and the route are skipped;
//! 3. calls the route, or answers 404 / 405 (with `Allow`) / 204 for a bare `OPTIONS`;
//! 4. merges the headers that `before` middleware added, unless the response set them;
//! 5. runs the `after` middleware of every layer it entered, in reverse (seed 002's onion).
//!
//! A plugin call that fails answers that request with a JSON 500 (504 on deadline): a
//! failing `before` never lets the request through, so an auth plugin fails closed.
//!
//! The pipeline is engine- and I/O-agnostic: servers call plugins through [`Invoker`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::engine::CallError;
use crate::model::{
    BeforeOutcome, Body, Event, EventKind, EventOutcome, HandlerId, Method, Middleware,
    Registration, Request, Response,
};
use crate::router::{Match, RouteError, Router};

/// Where a registration points: a plugin (by its index in plugin order) and a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Index into [`App::plugins`].
    pub plugin: usize,
    /// The handler inside that plugin.
    pub handler: HandlerId,
}

/// Calls into plugins on the pipeline's behalf. Servers implement it over their
/// instance pools; errors are already logged by the implementation.
///
/// The calls are `async`: a plugin computing for long yields to the runtime between
/// slices (see [`crate::engine`]). The pipeline is generic over its invoker rather than
/// taking `dyn Invoker`, so each runtime gets futures as `Send` as its invoker is: the
/// desktop server's are (it runs them on a multi-threaded executor), the embedded
/// runtime's are not and need not be (one thread, `RefCell`s).
#[allow(async_fn_in_trait)] // Send-ness is checked where the concrete futures are spawned.
pub trait Invoker {
    /// Runs a route handler.
    async fn handle(&mut self, to: Target, req: &Request) -> Result<Response, CallError>;
    /// Runs a `before` middleware.
    async fn before(&mut self, to: Target, req: &Request) -> Result<BeforeOutcome, CallError>;
    /// Runs an `after` middleware.
    async fn after(
        &mut self,
        to: Target,
        req: &Request,
        resp: &Response,
    ) -> Result<Response, CallError>;
    /// Delivers an event.
    async fn on_event(&mut self, to: Target, event: &Event) -> Result<EventOutcome, CallError>;
}

/// A loaded plugin as the pipeline knows it.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The plugin's name (its file stem).
    pub name: String,
    /// What it declared in `setup`.
    pub registration: Registration,
}

/// The routes, middleware and hooks of all plugins, assembled.
#[derive(Debug)]
pub struct App {
    plugins: Vec<PluginEntry>,
    router: Router<Target>,
    ws_router: Router<Target>,
    middleware: Vec<(usize, Middleware)>,
    server_header: Option<String>,
    static_prefixes: Vec<String>,
}

/// Why the plugins cannot be assembled into one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// The plugin whose registration was refused.
    pub plugin: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin {}: {}", self.plugin, self.reason)
    }
}

impl App {
    /// Assembles plugins, given in plugin order. Two plugins routing the same method and
    /// path shape is an error naming both.
    pub fn new(plugins: Vec<PluginEntry>) -> Result<App, AppError> {
        let mut router = Router::new();
        let mut ws_router = Router::new();
        let mut middleware = Vec::new();
        let mut owners: Vec<(Method, String, usize)> = Vec::new();
        for (index, plugin) in plugins.iter().enumerate() {
            let reg = &plugin.registration;
            let refuse = |reason: String| AppError {
                plugin: plugin.name.clone(),
                reason,
            };
            for route in &reg.routes {
                if route.methods.is_empty() {
                    return Err(refuse(format!("route {} has no methods", route.path)));
                }
                for &method in &route.methods {
                    let target = Target {
                        plugin: index,
                        handler: route.handler,
                    };
                    router
                        .insert(method, &route.path, target)
                        .map_err(|e| refuse(conflict_reason(&e, &plugins, &owners, method)))?;
                    owners.push((method, route.path.clone(), index));
                }
            }
            for ws in &reg.websockets {
                let target = Target {
                    plugin: index,
                    handler: ws.handler,
                };
                ws_router
                    .insert(Method::Get, &ws.path, target)
                    .map_err(|e| refuse(format!("WebSocket route: {e}")))?;
            }
            middleware.extend(reg.middleware.iter().map(|m| (index, m.clone())));
        }
        Ok(App {
            plugins,
            router,
            ws_router,
            middleware,
            server_header: None,
            static_prefixes: Vec::new(),
        })
    }

    /// The plugins, in plugin order.
    pub fn plugins(&self) -> &[PluginEntry] {
        &self.plugins
    }

    /// The HTTP router (for listings and inspection).
    pub fn router(&self) -> &Router<Target> {
        &self.router
    }

    /// The WebSocket route for a path on the HTTP port, if any.
    pub fn ws_route(&self, path: &str) -> Option<(Target, crate::model::Pairs)> {
        match self.ws_router.find(Method::Get, path) {
            Match::Found { target, params, .. } => Some((*target, params)),
            _ => None,
        }
    }

    /// Every hook for `kind`, in plugin order then registration order.
    pub fn hooks(&self, kind: EventKind) -> impl Iterator<Item = Target> + '_ {
        self.plugins
            .iter()
            .enumerate()
            .flat_map(move |(plugin, p)| {
                p.registration
                    .hooks
                    .iter()
                    .filter(move |h| h.event == kind)
                    .map(move |h| Target {
                        plugin,
                        handler: h.handler,
                    })
            })
    }

    /// Every timer: its interval and target.
    pub fn timers(&self) -> impl Iterator<Item = (u32, Target)> + '_ {
        self.plugins.iter().enumerate().flat_map(|(plugin, p)| {
            p.registration.timers.iter().map(move |t| {
                (
                    t.interval_ms,
                    Target {
                        plugin,
                        handler: t.handler,
                    },
                )
            })
        })
    }

    /// Sets the `Server` header added to every response (none by default).
    pub fn set_server_header(&mut self, value: Option<String>) {
        self.server_header = value;
    }

    /// Sets the URL prefixes (like `/static`) that the server's static mounts serve. A
    /// request that no route matches and whose path lies under one is answered by the
    /// route step with `Body::File(<request path>)` for GET and HEAD (405 otherwise), so
    /// middleware sees static files like any other response (seed 002 dispatches
    /// `mount_static` in its router, behind the middleware). The server resolves the
    /// file; routes win over mounts.
    pub fn set_static_prefixes(&mut self, prefixes: Vec<String>) {
        self.static_prefixes = prefixes;
    }

    fn under_static_mount(&self, path: &str) -> bool {
        self.static_prefixes
            .iter()
            .any(|p| crate::files::strip_prefix(path, p).is_some())
    }

    /// Runs one request through the pipeline. Never fails: every failure is a response.
    pub async fn handle(&self, mut req: Request, invoker: &mut impl Invoker) -> Response {
        let mut routed = self.router.find(req.method, &req.path);
        if let Match::Found { params, .. } = &mut routed {
            req.params = core::mem::take(params);
        }

        let mut added: Vec<(String, String)> = Vec::new();
        let mut entered = 0;
        let mut stopped_by = None;
        let mut response = None;
        for (i, (plugin, mw)) in self.middleware.iter().enumerate() {
            entered = i + 1;
            let Some(handler) = mw.before.filter(|_| mw.applies_to(req.method)) else {
                continue;
            };
            let target = Target {
                plugin: *plugin,
                handler,
            };
            match invoker.before(target, &req).await {
                Ok(BeforeOutcome::Proceed(p)) => {
                    for (name, value) in p.request_headers {
                        set_header(&mut req.headers, name.to_ascii_lowercase(), value);
                    }
                    added.extend(p.response_headers);
                }
                Ok(BeforeOutcome::Respond(r)) => {
                    (stopped_by, response) = (Some(i), Some(r));
                    break;
                }
                Err(e) => {
                    (stopped_by, response) = (Some(i), Some(e.to_response()));
                    break;
                }
            }
        }

        let mut response = match response {
            Some(r) => r,
            None => self.dispatch(routed, &req, invoker).await,
        };
        for (name, value) in &added {
            response.add_header_if_absent(name, value);
        }

        for i in (0..entered).rev() {
            let (plugin, mw) = &self.middleware[i];
            let Some(handler) = mw.after.filter(|_| mw.applies_to(req.method)) else {
                continue;
            };
            if stopped_by == Some(i) {
                continue;
            }
            let target = Target {
                plugin: *plugin,
                handler,
            };
            response = invoker
                .after(target, &req, &response)
                .await
                .unwrap_or_else(|e| e.to_response());
        }
        if let Some(server) = &self.server_header {
            response.add_header_if_absent("server", server);
        }
        response
    }

    async fn dispatch(
        &self,
        routed: Match<'_, Target>,
        req: &Request,
        invoker: &mut impl Invoker,
    ) -> Response {
        match routed {
            Match::Found { target, .. } => invoker
                .handle(*target, req)
                .await
                .unwrap_or_else(|e| e.to_response()),
            Match::MethodNotAllowed { allow } if req.method == Method::Options => Response {
                status: 204,
                headers: alloc::vec![("allow".into(), allow_header(&allow, true))],
                body: Body::Bytes(Vec::new()),
            },
            Match::MethodNotAllowed { allow } => {
                let mut r = Response::error(405, "Method Not Allowed");
                r.headers
                    .push(("allow".into(), allow_header(&allow, false)));
                r
            }
            Match::NotFound if self.under_static_mount(&req.path) => match req.method {
                Method::Get | Method::Head => Response {
                    status: 200,
                    headers: Vec::new(),
                    body: Body::File(req.path.clone()),
                },
                Method::Options => Response {
                    status: 204,
                    headers: alloc::vec![("allow".into(), "GET, HEAD, OPTIONS".into())],
                    body: Body::Bytes(Vec::new()),
                },
                _ => {
                    let mut r = Response::error(405, "Method Not Allowed");
                    r.headers.push(("allow".into(), "GET, HEAD".into()));
                    r
                }
            },
            Match::NotFound => Response::error(404, "Not Found"),
        }
    }

    /// Delivers a lifecycle event (`server-start`, `server-stop`) to every hook for it.
    /// Failures are the invoker's to log; the event still reaches the other hooks.
    pub async fn broadcast_event(
        &self,
        kind: EventKind,
        event: &Event,
        invoker: &mut impl Invoker,
    ) {
        let targets: Vec<Target> = self.hooks(kind).collect();
        for target in targets {
            let _ = invoker.on_event(target, event).await;
        }
    }
}

fn conflict_reason(
    e: &RouteError,
    plugins: &[PluginEntry],
    owners: &[(Method, String, usize)],
    method: Method,
) -> String {
    match e {
        RouteError::Conflict { existing, .. } => {
            let owner = owners
                .iter()
                .find(|(m, p, _)| *m == method && p == existing)
                .map(|(_, _, i)| plugins[*i].name.as_str())
                .unwrap_or("?");
            format!(
                "{} {existing} is already routed by plugin {owner}",
                method.as_str()
            )
        }
        other => other.to_string(),
    }
}

fn allow_header(allow: &[Method], with_options: bool) -> String {
    let mut names: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
    if with_options && !allow.contains(&Method::Options) {
        names.push("OPTIONS");
    }
    names.join(", ")
}

/// Sets a header, replacing every earlier value of that name.
fn set_header(headers: &mut Vec<(String, String)>, name: String, value: String) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    headers.push((name, value));
}

#[cfg(feature = "std")]
impl std::error::Error for AppError {}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
