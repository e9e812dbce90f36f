"""The component's exports (`guest` in wit/plugin.wit): each call finds the handler by
id, wraps the WIT values in the seed's objects, calls it, and turns what it returned or
set back into WIT values. `app.state` is committed when a handler returns."""

import traceback

from componentize_py_types import Err
from wit_world import exports

from . import _host, _http, _state, _ws
from ._app import App

app = App()


class HTTPContext:
    """``http:*`` hooks: ``ctx.req`` and ``ctx.res`` (set ``ctx.res.stop`` to answer)."""

    def __init__(self, req, res):
        self.req = req
        self.res = res


class _Streams:
    """Generators behind streamed bodies, by stream id (the instance is pinned to the
    stream while it runs)."""

    def __init__(self):
        self.next_id = 0
        self.live = {}

    def add(self, gen):
        self.next_id += 1
        self.live[self.next_id] = iter(gen)
        return self.next_id


_streams = _Streams()


class _Call:
    """One export call: the host is live, and state is committed on a normal return."""

    def __enter__(self):
        _host.live = True
        _state.begin(app.state)

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                _state.commit(app.state)
        finally:
            _host.live = False
        return False


def _respond(res):
    return _http.to_wit(_http.coerce(res), _streams)


def _unavailable(e):
    """What a call answers when it hit an unreachable state store and did not catch
    `berth.Unavailable`: 503, as a Rust plugin's ``?`` does."""
    return _http.to_wit(_http.Response.error(str(e), 503))


class Guest(exports.Guest):
    def setup(self, config):
        try:
            # Not live yet: what a plugin's setup assigns to app.state is a default.
            app._setup_plugins(config)
            with _Call():
                _state.apply_defaults(app.state)
                return app._registration()
        except Exception as e:
            traceback.print_exc()
            raise Err(f"{type(e).__name__}: {e}")

    def handle(self, handler, req):
        try:
            with _Call():
                kind, fn = app.handler(handler)
                return _respond(fn(_http.Request(req)))
        except _state.Unavailable as e:
            return _unavailable(e)

    def before(self, handler, req):
        try:
            return self._before(handler, req)
        except _state.Unavailable as e:
            return _host.types.BeforeOutcome_Respond(_unavailable(e))

    def _before(self, handler, req):
        t = _host.types
        with _Call():
            kind, fn = app.handler(handler)
            request = _http.Request(req)
            res = _http.Response(200)
            if kind == "hook_before":
                fn(HTTPContext(request, res))
            else:
                fn(request, res)
            if res.stop:
                return t.BeforeOutcome_Respond(_http.to_wit(res, _streams))
            return t.BeforeOutcome_Proceed(
                t.Proceed(request.header_changes(), list(res.headers.items()))
            )

    def after(self, handler, req, resp):
        try:
            with _Call():
                kind, fn = app.handler(handler)
                res = _http.from_wit(resp)
                fn(HTTPContext(_http.Request(req), res))
                return _http.to_wit(res, _streams)
        except _state.Unavailable as e:
            return _unavailable(e)

    def on_event(self, handler, ev):
        t = _host.types
        with _Call():
            kind, fn = app.handler(handler)
            outcome = t.EventOutcome(None, False, None)
            if isinstance(ev, t.Event_Tick):
                fn(ev.value)
                return outcome
            ctx = _context(ev)
            if ctx is None:
                fn(None)
                return outcome
            fn(ctx)
            if isinstance(ctx, _ws.WSMessage):
                if ctx.reply is not None:
                    outcome.reply = _ws.payload(ctx.reply)
                outcome.stop = bool(ctx.stop)
            elif isinstance(ctx, _ws.WSContext) and ctx.refused is not None:
                outcome.refuse = t.Refusal(int(ctx.refused[0]), str(ctx.refused[1]))
            return outcome

    def next_chunk(self, stream):
        with _Call():
            gen = _streams.live.get(stream)
            if gen is None:
                return None
            for chunk in gen:
                if isinstance(chunk, str):
                    chunk = chunk.encode()
                if chunk:
                    return bytes(chunk)
            del _streams.live[stream]
            return None


def _context(ev):
    t = _host.types
    if isinstance(ev, t.Event_ServerStart):
        ctx = _ws.ServerContext(ev.value.http_addr, ev.value.ws_addr)
        ctx.kind = "start"
    elif isinstance(ev, t.Event_ServerStop):
        ctx = _ws.ServerContext()
        ctx.kind = "stop"
    elif isinstance(ev, t.Event_WsConnect):
        c = ev.value
        ctx = _ws.WSContext(c.conn, c.path, dict(c.query_pairs), _http.Headers(c.headers))
        ctx.kind = "connect"
    elif isinstance(ev, t.Event_WsMessage):
        m = ev.value
        ctx = _ws.WSMessage(m.conn, m.path, _ws.parse_payload(m.payload))
        ctx.kind = "message"
    elif isinstance(ev, t.Event_WsDisconnect):
        d = ev.value
        ctx = _ws.WSContext(d.conn, d.path, code=d.code, reason=d.reason)
        ctx.kind = "disconnect"
    else:
        return None
    return ctx
