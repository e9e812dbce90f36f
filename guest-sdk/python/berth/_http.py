"""Requests and responses: seed 000's ``req``/``res`` and seed 002's ``Response``."""

import copy

from . import _codec, _host

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]


class Headers(dict):
    """Header names compare case-insensitively (the host sends them lower-case)."""

    def __init__(self, pairs=()):
        super().__init__()
        for k, v in pairs:
            self[k] = v

    def __setitem__(self, key, value):
        super().__setitem__(key.lower(), str(value))

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return isinstance(key, str) and super().__contains__(key.lower())

    def __delitem__(self, key):
        super().__delitem__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)

    def pop(self, key, *default):
        return super().pop(key.lower(), *default)


def parse_body(raw: bytes):
    """Seed 000's ``req.body``: None when empty, parsed JSON when it is JSON, else the
    text (bytes when it is not UTF-8)."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    try:
        return _codec.parse_json(text)
    except ValueError:
        return text


class Request:
    """What a handler gets: ``method``, ``path``, ``query`` (first value per name),
    ``headers``, ``body`` (see `parse_body`), ``raw`` (the bytes), ``text``,
    ``params`` (``<name>`` segments), ``ip``, ``id``."""

    def __init__(self, wit_req):
        self.id = wit_req.id
        self.method = METHODS[wit_req.method.value]
        self.path = wit_req.path
        self.query_string = wit_req.query
        self.query = {}
        for k, v in wit_req.query_pairs:
            self.query.setdefault(k, v)
        self.query_pairs = list(wit_req.query_pairs)
        self.params = dict(wit_req.params)
        self.path_params = self.params
        self.headers = Headers(wit_req.headers)
        self._orig_headers = dict(self.headers)
        self.raw = bytes(wit_req.body)
        self.body = parse_body(self.raw)
        self.remote_addr = wit_req.remote_addr
        self.ip = wit_req.remote_addr.rsplit(":", 1)[0].strip("[]")

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    @property
    def json(self):
        return self.body if not isinstance(self.body, (str, bytes)) else None

    def header_changes(self):
        """Headers a middleware set or changed, for the requests that follow."""
        return [(k, v) for k, v in self.headers.items() if self._orig_headers.get(k) != v]


class Response:
    """Seed 000's ``res`` (``status``, ``body``, ``headers``, ``stop``) and seed 002's
    factories. A body that is a dict, list, number or bool is sent as JSON; text as
    ``text/plain``; bytes as they are."""

    def __init__(self, status=200, body=None, headers=None, stop=False):
        self.status = status
        self.body = body
        self.headers = Headers((headers or {}).items())
        self.stop = stop
        self._stream = None  # a generator: the body is pulled chunk by chunk
        self._sse = None  # a topic: the connection hears what is published to it
        self._kept = None  # (body as parsed, WIT body) of a response passed to `after`

    def add_header(self, name, value):
        self.headers[name] = value
        return self

    @classmethod
    def json(cls, data, status=200):
        return cls(status, data, {"content-type": "application/json"})

    @classmethod
    def html(cls, content, status=200):
        return cls(status, content, {"content-type": "text/html; charset=utf-8"})

    @classmethod
    def plain(cls, content, status=200):
        return cls(status, content, {"content-type": "text/plain; charset=utf-8"})

    @classmethod
    def error(cls, message, status=400):
        return cls.json({"error": message, "code": status}, status)

    @classmethod
    def redirect(cls, location, status=302):
        return cls(status, None, {"location": location})

    @classmethod
    def stream(cls, generator, content_type="text/plain"):
        r = cls(200, None, {"content-type": content_type})
        r._stream = generator
        return r

    @classmethod
    def sse(cls, topic):
        """Server-Sent Events: the client hears every event any plugin publishes to
        `topic` (`berth.publish`)."""
        r = cls(200, None)
        r._sse = topic
        return r


def coerce(result) -> Response:
    """A handler's return value as a `Response`: a seed 000 dict, a `Response`, or None."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(204)
    if isinstance(result, dict) and set(result) <= {"status", "body", "headers"}:
        return Response(result.get("status", 200), result.get("body"), result.get("headers"))
    return Response(200, result)


def encode_body(body, headers):
    """(bytes, content type or None) for a body."""
    if body is None:
        return b"", None
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return _codec.to_json(body).encode(), "application/json"


def to_wit(res: Response, streams=None):
    """A `Response` as the WIT record; a streamed body is registered in `streams`."""
    t = _host.types
    headers = Headers(res.headers.items())
    if res._sse is not None:
        body = t.Body_Sse(res._sse)
    elif res._stream is not None and streams is not None:
        body = t.Body_Stream(streams.add(res._stream))
    elif res._kept is not None and res.body == res._kept[0]:
        body = res._kept[1]
    else:
        data, ctype = encode_body(res.body, headers)
        if ctype and "content-type" not in headers:
            headers["content-type"] = ctype
        body = t.Body_Bytes(data)
    return t.Response(int(res.status), list(headers.items()), body)


def from_wit(wit_resp) -> Response:
    """A response the host passes to an after-hook, as a `Response` whose body is parsed
    (JSON or text) when it is bytes; left as it is, the original body goes back."""
    res = Response(wit_resp.status, None, dict(wit_resp.headers))
    if isinstance(wit_resp.body, _host.types.Body_Bytes):
        res.body = parse_body(bytes(wit_resp.body.value))
    res._kept = (copy.deepcopy(res.body), wit_resp.body)
    return res
