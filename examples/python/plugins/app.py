"""Seed 000's plugins section: AuthPlugin, LoggerPlugin and MetricsPlugin, as the seed
writes them, in one Berth plugin. Each dataclass's fields come from its sub-table of
``[plugin.plugins]`` in berth.toml (``[plugin.plugins.auth] secret = "…"``)."""

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from berth import App, Plugin, Request, Response, app


@dataclass
class AuthPlugin(Plugin):
    name: str = "auth"
    secret: str = "default-secret"

    def setup(self, app: App) -> None:
        @app.use
        def check_auth(req: Request, res: Response) -> None:
            if req.path.startswith("/api"):
                if req.headers.get("Authorization") != self.secret:
                    res.status = 401
                    res.body = {"error": "Unauthorized"}
                    res.stop = True

        @app.get("/auth/check")
        def auth_check(req: Request) -> dict:
            return {"body": {"valid": True}}


@dataclass
class LoggerPlugin(Plugin):
    name: str = "logger"
    prefix: str = "[LOG]"

    def setup(self, app: App) -> None:
        @app.on("http:get")
        def log_get(ctx):
            self._log(f"GET {ctx.req.path}")

        @app.on("http:post")
        def log_post(ctx):
            self._log(f"POST {ctx.req.path}")

        @app.on("ws:connect")
        def log_ws_connect(ctx):
            self._log("WS connected")

        @app.on("ws:disconnect")
        def log_ws_disconnect(ctx):
            self._log("WS disconnected")

    def _log(self, message: str) -> None:
        timestamp = datetime.now().strftime("%H:%M:%S")
        print(f"{self.prefix} [{timestamp}] {message}")


@dataclass
class MetricsPlugin(Plugin):
    name: str = "metrics"

    def setup(self, app: App) -> None:
        # In setup, as at module level, this is a default: a new instance keeps the counts.
        app.state.metrics = SimpleNamespace(requests=0, ws_connections=0, ws_messages=0)

        @app.use
        def count_requests(req, res):
            app.state.metrics.requests += 1

        @app.on("ws:connect")
        def count_connect(ctx):
            app.state.metrics.ws_connections += 1

        @app.on("ws:disconnect")
        def count_disconnect(ctx):
            app.state.metrics.ws_connections -= 1

        @app.on("ws:message")
        def count_messages(ctx):
            app.state.metrics.ws_messages += 1

        @app.get("/metrics")
        def get_metrics(req):
            m = app.state.metrics
            return {"body": {
                "requests": m.requests,
                "ws_connections": m.ws_connections,
                "ws_messages": m.ws_messages
            }}


app.plugin(LoggerPlugin())
app.plugin(MetricsPlugin())
app.plugin(AuthPlugin())
