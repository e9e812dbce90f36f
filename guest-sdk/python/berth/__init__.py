"""Berth plugins in Python, with seed 000's API.

```python
from berth import app, get, post, use, on

app.state.visits = 0          # a default: stored only when the host has none

@get("/hello")
def hello(req):
    app.state.visits += 1     # written back when the handler returns
    return {"body": {"message": "Hello, World!", "visits": app.state.visits}}
```

`berth build` turns a folder holding ``app.py`` into a component (componentize-py,
against the host's WIT); the host serves it like a Rust plugin. `print()` writes the
plugin's log lines.
"""

from . import _host
from ._app import App, Plugin
from ._codec import Namespace
from ._guest import HTTPContext, app
from ._http import Headers, Request, Response
from ._state import Unavailable, incr
from ._ws import ServerContext, WSClient, WSContext, WSData, WSMessage, broadcast

get = app.get
post = app.post
put = app.put
delete = app.delete
patch = app.patch
route = app.route
use = app.use
on = app.on
websocket = app.websocket
every = app.every


def publish(topic: str, data, event=None, id=None) -> int:
    """Publishes a Server-Sent Event to `topic` (dicts and lists as JSON); returns how
    many subscribers it reached."""
    from ._codec import to_json

    text = data if isinstance(data, str) else to_json(data)
    return _host.host.publish(topic, text, event, id)


class log:
    """Log lines under the plugin's name (``print`` logs at info too)."""

    @staticmethod
    def debug(message):
        _host.host.log(_host.host.Level.DEBUG, str(message))

    @staticmethod
    def info(message):
        _host.host.log(_host.host.Level.INFO, str(message))

    @staticmethod
    def warn(message):
        _host.host.log(_host.host.Level.WARN, str(message))

    @staticmethod
    def error(message):
        _host.host.log(_host.host.Level.ERROR, str(message))


__all__ = [
    "App", "Plugin", "Request", "Response", "Headers", "Namespace", "HTTPContext",
    "WSClient", "WSContext", "WSData", "WSMessage", "ServerContext",
    "app", "get", "post", "put", "delete", "patch", "route", "use", "on", "websocket",
    "every", "broadcast", "publish", "incr", "log", "Unavailable",
]
