//! The live plugin set: the app (routes, middleware, hooks), one pool per plugin and
//! the static files, as one immutable value.
//!
//! **The swap invariant.** The server holds the current [`Snapshot`] behind an atomic
//! pointer ([`Live`]). A request loads it once, at its start, and uses that snapshot
//! for every plugin call it makes, so it runs start to finish on one consistent plugin
//! set even while a swap happens. A swap builds a whole new snapshot off the request
//! path and stores it in one step: requests already running keep their `Arc` of the
//! old one (and so its pools and instances) until they end; the next request sees only
//! the new one. Nothing is ever changed inside a snapshot.
//!
//! Connections that outlive a request — WebSockets, timers — load the snapshot again
//! for each event, and find their plugin there by name, not by index (an index moves
//! when plugins come and go).

use std::sync::Arc;

use arc_swap::ArcSwap;
use berth_core::model::EventKind;
use berth_core::pipeline::{App, Target};

use crate::pool::Pool;
use crate::static_files::StaticFiles;

/// The live plugin set, swapped whole.
pub(crate) type Live = ArcSwap<Snapshot>;

/// One consistent plugin set.
pub(crate) struct Snapshot {
    /// Routes, middleware and hooks of every plugin, in plugin order.
    pub(crate) app: App,
    /// Pool `i` belongs to plugin `i` of `app`. Shared with older snapshots when a
    /// plugin did not change, so its warm instances survive a swap of another plugin.
    pub(crate) pools: Vec<Arc<Pool>>,
    /// Mounts and grants, which are per plugin (by index).
    pub(crate) statics: StaticFiles,
}

impl Snapshot {
    /// The index and pool of the plugin called `name`.
    pub(crate) fn find(&self, name: &str) -> Option<(usize, &Arc<Pool>)> {
        self.pools
            .iter()
            .enumerate()
            .find(|(_, p)| p.name() == name)
    }

    /// The name of plugin `index` (`?` for none).
    pub(crate) fn name(&self, index: usize) -> &str {
        self.pools.get(index).map_or("?", |p| p.name())
    }

    /// The plugin name and route pattern of route handler `target`, for the metrics'
    /// labels: a scan of that plugin's few routes, no allocation.
    pub(crate) fn route_label(&self, target: Target) -> (&str, &str) {
        let route = self
            .app
            .plugins()
            .get(target.plugin)
            .and_then(|p| {
                p.registration
                    .routes
                    .iter()
                    .find(|r| r.handler == target.handler)
            })
            .map_or("", |r| r.path.as_str());
        (self.name(target.plugin), route)
    }

    /// The hooks for `kind` of the plugins `include` selects (by index).
    pub(crate) fn hooks_of(&self, kind: EventKind, include: impl Fn(usize) -> bool) -> Vec<Target> {
        self.app.hooks(kind).filter(|t| include(t.plugin)).collect()
    }

    /// The WebSocket route of `path`, when plugin `owner` still serves it.
    pub(crate) fn ws_route_of(&self, path: &str, owner: &str) -> Option<Target> {
        let (target, _) = self.app.ws_route(path)?;
        (self.name(target.plugin) == owner).then_some(target)
    }
}
