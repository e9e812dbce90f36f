"""The app: seed 000's decorators, the handler table, and the registration `setup`
returns to the host.

Handlers registered at module level are recorded while componentize-py runs the module
at build time; a `Plugin`'s ``setup`` runs in every instance's `setup`, after its fields
were filled from the plugin's ``[plugin.<name>]`` table. Everything keeps the order it
was written in: a plugin added with ``app.plugin(...)`` between two middlewares runs
between them.
"""

import dataclasses
import json
import typing

from . import _host
from ._http import METHODS
from ._state import State

_EVENTS = {
    "server:start": "SERVER_START",
    "server:stop": "SERVER_STOP",
    "ws:connect": "WS_CONNECT",
    "ws:message": "WS_MESSAGE",
    "ws:disconnect": "WS_DISCONNECT",
}


class Plugin:
    """Seed 000's plugin: subclass it as a ``@dataclass``; its fields are filled from
    the ``[plugin.<file name>]`` table (or its ``<name>`` sub-table), then ``setup(app)``
    registers what it serves."""

    name: str = "plugin"

    def setup(self, app: "App") -> None:
        pass


class App:
    """Where handlers are registered (``app.get``, ``app.use``, ``app.on`` …) and where
    ``app.state`` lives."""

    def __init__(self):
        self.name = "python"
        self.state = State()
        # handler id - 1 -> (kind, function); kinds: route, before, after, event, ws
        self._handlers = []
        # (order key, what) where what is ("route", methods, path, id),
        # ("mw", methods, before_id, after_id), ("hook", event, id), ("ws", path, id)
        self._entries = []
        self._plugins = []  # (order key, plugin)
        self._counter = 0
        self._slot = None  # the order key prefix while a plugin's setup runs
        self._timers = []  # (interval ms, id)

    # ---- registration ---------------------------------------------------------------

    def _key(self):
        self._counter += 1
        if self._slot is not None:
            return self._slot + (self._counter,)
        return (self._counter,)

    def _handler(self, kind, fn):
        self._handlers.append((kind, fn))
        return len(self._handlers)

    def route(self, path, methods=("GET",)):
        """Registers a route for `methods` on `path` (``<name>`` segments capture)."""
        ms = [m.upper() for m in methods]
        for m in ms:
            if m not in METHODS:
                raise ValueError(f"unknown method {m!r} for {path}")

        def register(fn):
            hid = self._handler("route", fn)
            self._entries.append((self._key(), ("route", ms, path, hid)))
            return fn

        return register

    def get(self, path):
        return self.route(path, ["GET"])

    def post(self, path):
        return self.route(path, ["POST"])

    def put(self, path):
        return self.route(path, ["PUT"])

    def delete(self, path):
        return self.route(path, ["DELETE"])

    def patch(self, path):
        return self.route(path, ["PATCH"])

    def use(self, fn):
        """Middleware ``fn(req, res)`` on every request, before the route; setting
        ``res.stop = True`` answers with ``res``."""
        hid = self._handler("before", fn)
        self._entries.append((self._key(), ("mw", [], hid, None)))
        return fn

    def on(self, event):
        """A hook: ``http:<method>`` (before the route), ``http:<method>:after``,
        ``ws:connect``, ``ws:message``, ``ws:disconnect``, ``server:start``,
        ``server:stop``."""

        def register(fn):
            parts = event.split(":")
            if parts[0] == "http" and len(parts) in (2, 3) and parts[1].upper() in METHODS:
                methods = [parts[1].upper()]
                if len(parts) == 3 and parts[2] == "after":
                    hid = self._handler("after", fn)
                    self._entries.append((self._key(), ("mw", methods, None, hid)))
                elif len(parts) == 2:
                    hid = self._handler("hook_before", fn)
                    self._entries.append((self._key(), ("mw", methods, hid, None)))
                else:
                    raise ValueError(f"unknown event {event!r}")
            elif event in _EVENTS:
                hid = self._handler("event", fn)
                self._entries.append((self._key(), ("hook", _EVENTS[event], hid)))
            else:
                raise ValueError(f"unknown event {event!r}")
            return fn

        return register

    def websocket(self, path):
        """A WebSocket route on the HTTP port: ``fn(ctx)`` hears its connect (a
        `WSContext`), message (`WSMessage`) and disconnect events; ``ctx.kind`` says
        which."""

        def register(fn):
            hid = self._handler("ws", fn)
            self._entries.append((self._key(), ("ws", path, hid)))
            return fn

        return register

    def every(self, seconds):
        """A timer: ``fn(now_ms)`` every `seconds` (the host enforces a minimum)."""

        def register(fn):
            hid = self._handler("tick", fn)
            self._timers.append((max(1, int(seconds * 1000)), hid))
            return fn

        return register

    def plugin(self, plugin: Plugin):
        """Adds a plugin; its ``setup`` runs when the host sets the instance up."""
        self._plugins.append((self._key(), plugin))
        return plugin

    # ---- setup ----------------------------------------------------------------------

    def _setup_plugins(self, config):
        for key, plugin in self._plugins:
            _configure(plugin, config)
            self._slot = key
            try:
                plugin.setup(self)
            finally:
                self._slot = None
        self._plugins = []

    def _registration(self):
        t = _host.types
        routes, websockets, middleware, hooks = [], [], [], []
        for _, what in sorted(self._entries, key=lambda e: e[0]):
            kind = what[0]
            if kind == "route":
                methods = [t.Method[m] for m in what[1]]
                routes.append(t.Route(methods, what[2], what[3]))
            elif kind == "mw":
                methods = [t.Method[m] for m in what[1]]
                middleware.append(t.Middleware(methods, what[2], what[3]))
            elif kind == "hook":
                hooks.append(t.Hook(t.EventKind[what[1]], what[2]))
            elif kind == "ws":
                websockets.append(t.WsRoute(what[1], what[2]))
        timers = [t.Timer(ms, hid) for ms, hid in self._timers]
        return t.Registration(self.name, routes, websockets, middleware, hooks, timers, [])

    def handler(self, hid):
        if 1 <= hid <= len(self._handlers):
            return self._handlers[hid - 1]
        raise LookupError(f"no handler {hid}")


def _convert(text, kind):
    """A config value (scalars as text, arrays and tables as JSON) as the field's type."""
    origin = typing.get_origin(kind) or kind
    if origin is str:
        return text
    if origin is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{text!r} is not a boolean")
    if origin in (int, float):
        return origin(text)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _configure(plugin, config):
    """Fills a dataclass plugin's fields from the config table: its ``<name>`` sub-table
    when there is one, else the table's own keys. A value that does not fit the field's
    type fails `setup`, naming the key."""
    if not dataclasses.is_dataclass(plugin):
        return
    table = dict(config)
    sub = table.get(getattr(plugin, "name", ""))
    if sub is not None:
        try:
            parsed = json.loads(sub)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            table = {k: v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    hints = typing.get_type_hints(type(plugin))
    for f in dataclasses.fields(plugin):
        if f.name == "name" or f.name not in table:
            continue
        try:
            value = _convert(table[f.name], hints.get(f.name, str))
        except ValueError as e:
            raise ValueError(f"[plugin] {f.name}: {e}") from None
        setattr(plugin, f.name, value)
