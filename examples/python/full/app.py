"""Seed 000's Full Example as a Berth plugin. Changes from the seed: no ``Server``
(the host serves), the plugin is added at module level, and a body that is not a JSON
object is answered 400 instead of failing."""

from dataclasses import dataclass
from time import time

from berth import App, Plugin, Request, Response, WSContext, WSMessage, app, get, on, post, use

#  Plugins


@dataclass
class AuthPlugin(Plugin):
    name: str = "auth"
    api_key: str = "secret"

    def setup(self, app: App) -> None:
        @app.use
        def check_api_key(req: Request, res: Response) -> None:
            if req.path.startswith("/api"):
                if req.headers.get("X-API-Key") != self.api_key:
                    res.status = 401
                    res.body = {"error": "Invalid API key"}
                    res.stop = True

#  State


app.state.users = {}
app.state.ws_clients = []

#  Middleware


@use
def logger(req: Request, res: Response) -> None:
    print(f"[{time():.0f}] {req.method} {req.path}")

#  Routes


@get("/")
def index(req: Request) -> dict:
    return {"body": {"message": "Welcome to the API"}}


@get("/api/users")
def list_users(req: Request) -> dict:
    return {"body": {"users": list(app.state.users.values())}}


@post("/api/users")
def create_user(req: Request) -> dict:
    if req.body is None or isinstance(req.body, (str, bytes)):
        return {"status": 400, "body": {"error": "Invalid JSON body", "code": 400}}
    if not isinstance(req.body, dict):
        return {"status": 400, "body": {"error": "JSON object body required", "code": 400}}
    user_id = str(len(app.state.users) + 1)
    user = {"id": user_id, **req.body}
    app.state.users[user_id] = user

    # Notify WebSocket clients
    for ws in app.state.ws_clients:
        ws.send({"event": "user_created", "user": user})

    return {"status": 201, "body": user}

#  WebSocket


@on("ws:connect")
def ws_connect(ctx: WSContext) -> None:
    app.state.ws_clients.append(ctx.ws)
    ctx.ws.data.connected_at = time()


@on("ws:disconnect")
def ws_disconnect(ctx: WSContext) -> None:
    app.state.ws_clients.remove(ctx.ws)


@on("ws:message")
def ws_message(ctx: WSMessage) -> None:
    if isinstance(ctx.data, dict) and ctx.data.get("type") == "ping":
        ctx.reply = {"type": "pong", "time": time()}
        ctx.stop = True

#  Start


app.plugin(AuthPlugin(api_key="my-secret-key"))
