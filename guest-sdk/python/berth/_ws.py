"""WebSocket connections and the contexts seed 000's ``ws:*`` hooks receive."""

from . import _codec, _host


def payload(value):
    """A reply or a send as a WIT payload: bytes go binary, text as it is, anything
    else as JSON text."""
    t = _host.types
    if isinstance(value, (bytes, bytearray, memoryview)):
        return t.WsPayload_Binary(bytes(value))
    if isinstance(value, str):
        return t.WsPayload_Text(value)
    return t.WsPayload_Text(_codec.to_json(value))


def parse_payload(p):
    """A received payload: text that is JSON as Python values, other text as text,
    binary as bytes."""
    if isinstance(p, _host.types.WsPayload_Binary):
        return bytes(p.value)
    try:
        return _codec.parse_json(p.value)
    except ValueError:
        return p.value


class WSData:
    """Per-connection data (``ctx.ws.data.username = "ada"``), kept by the host for as
    long as the connection lives and seen by every plugin."""

    def __init__(self, conn: int):
        object.__setattr__(self, "_conn", conn)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raw = _host.host.ws_data_get(object.__getattribute__(self, "_conn"), name)
        if raw is None:
            raise AttributeError(name)
        return _codec.loads(raw)

    def __setattr__(self, name, value):
        conn = object.__getattribute__(self, "_conn")
        try:
            _host.host.ws_data_set(conn, name, None if value is None else _codec.dumps(value))
        except Exception:  # the connection is gone: nothing to tag
            pass

    def __delattr__(self, name):
        self.__setattr__(name, None)


class WSClient:
    """One WebSocket connection, by the host's id. Equal to any other handle on the same
    connection, and storable in ``app.state``."""

    __slots__ = ("id",)

    def __init__(self, conn: int):
        self.id = conn

    def __eq__(self, other):
        return isinstance(other, WSClient) and other.id == self.id

    def __hash__(self):
        return hash(("ws", self.id))

    def __repr__(self):
        return f"WSClient({self.id})"

    @property
    def data(self) -> WSData:
        return WSData(self.id)

    def send(self, data, opcode: int = 1) -> bool:
        """Queues `data` (dicts and lists as JSON; bytes, or ``opcode=2``, binary).
        False when the connection is gone."""
        if opcode == 2 and isinstance(data, str):
            data = data.encode()
        try:
            _host.host.ws_send(self.id, payload(data))
            return True
        except Exception:
            return False

    def close(self, code: int = 1000, reason: str = "") -> bool:
        """Closes the connection. False when it is gone already."""
        try:
            _host.host.ws_close(self.id, code, reason)
            return True
        except Exception:
            return False

    def join(self, room: str) -> bool:
        """Adds the connection to a host room (see `broadcast`)."""
        try:
            _host.host.ws_join(self.id, room)
            return True
        except Exception:
            return False

    def leave(self, room: str) -> bool:
        """Takes the connection out of a host room."""
        try:
            _host.host.ws_leave(self.id, room)
            return True
        except Exception:
            return False


def broadcast(data, room=None, exclude=None) -> int:
    """Sends to every connection in `room` (every connection when None) except
    `exclude`; returns how many it was queued for."""
    except_ = exclude.id if isinstance(exclude, WSClient) else exclude
    return _host.host.ws_broadcast(room, payload(data), except_)


class WSContext:
    """``ws:connect`` and ``ws:disconnect``: ``ctx.ws`` (and, on connect, the request's
    path, query and headers; ``ctx.refuse(status)`` turns the client away)."""

    def __init__(self, conn, path="", query=None, headers=None, code=None, reason=""):
        self.ws = WSClient(conn)
        self.path = path
        self.query = query or {}
        self.headers = headers or {}
        self.code = code
        self.reason = reason
        self.refused = None

    def refuse(self, status: int = 403, reason: str = "Forbidden"):
        self.refused = (status, reason)


class WSMessage:
    """``ws:message``: ``ctx.ws``, ``ctx.data`` (parsed JSON, else text or bytes); set
    ``ctx.reply`` to answer and ``ctx.stop`` to end the chain (no echo)."""

    def __init__(self, conn, path, data):
        self.ws = WSClient(conn)
        self.path = path
        self.data = data
        self.reply = None
        self.stop = False


class ServerContext:
    """``server:start`` and ``server:stop``: the listeners' addresses (start only)."""

    def __init__(self, http_addr=None, ws_addr=None):
        self.http_addr = http_addr
        self.ws_addr = ws_addr
        self.server = self
