"""A Python plugin for the black-box tests: state it shares with Rust plugins, a
middleware between theirs, what the WASI sandbox grants, and plugins that fail."""

import os
from dataclasses import dataclass

from berth import App, Plugin, app, get, incr, post, use

app.state.interop_visits = 0  # a default: never resets what is stored


@use
def mark(req, res):
    # Runs between the Rust plugins' middleware (load order): its header reaches any
    # response, including one a later Rust middleware answers with.
    res.headers["x-python"] = "seen"
    req.headers["x-trail"] = req.headers.get("x-trail", "") + "python;"
    if req.path == "/interop/stop":
        res.status = 418
        res.body = {"stopped_by": "python"}
        res.stop = True


@get("/interop/state/<key>")
def read_state(req):
    return {"body": {"value": getattr(app.state, req.params["key"], None)}}


@post("/interop/state/<key>")
def write_state(req):
    setattr(app.state, req.params["key"], req.body)
    return {"body": {"ok": True}}


@get("/interop/visits")
def visits(req):
    app.state.interop_visits += 1
    return {"body": {"visits": app.state.interop_visits}}


@get("/interop/trail")
def trail(req):
    return {"body": {"trail": req.headers.get("x-trail")}}


@dataclass
class Setups(Plugin):
    """Counts instances set up (atomically, in the host), so a test can see a new one."""

    name: str = "setups"

    def setup(self, app: App) -> None:
        incr("interop:setups")

        @app.get("/interop/setups")
        def setups(req):
            return {"body": {"setups": getattr(app.state, "interop:setups")}}


app.plugin(Setups())


@get("/interop/sandbox")
def sandbox(req):
    seen = {"env": dict(os.environ), "argv": list(getattr(__import__("sys"), "argv", []))}
    for label, path in [("root", "/"), ("etc", "/etc/passwd"), ("cwd", ".")]:
        try:
            if path.endswith("passwd"):
                with open(path) as f:
                    seen[label] = f.read(10)
            else:
                seen[label] = os.listdir(path)
        except OSError as e:
            seen[label] = f"error: {type(e).__name__}"
    try:
        import socket

        s = socket.create_connection(("127.0.0.1", int(req.query.get("port", "80"))), timeout=1)
        s.close()
        seen["socket"] = "connected"
    except Exception as e:  # noqa: BLE001  (any failure is what the test wants)
        seen["socket"] = f"error: {type(e).__name__}"
    import random
    import time

    seen["time"] = time.time()
    seen["random"] = random.SystemRandom().random()
    return {"body": seen}


@get("/interop/raise")
def fail(req):
    raise RuntimeError("this handler fails")


@get("/interop/loop")
def spin(req):
    while True:
        pass


@get("/interop/oom")
def hog(req):
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))
