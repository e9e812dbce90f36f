"""Seed 000's WebSocket section as a Berth plugin: per-connection names, ping → pong,
and the chat room. Connections are stored in ``app.state`` as the seed stores them."""

from berth import WSContext, WSMessage, app, on

app.state.rooms = {}  # room_name -> [ws clients]


@on("ws:connect")
def on_connect(ctx: WSContext) -> None:
    print("Client connected")
    ctx.ws.data.username = "anonymous"  # Per-connection state


@on("ws:disconnect")
def on_disconnect(ctx: WSContext) -> None:
    print(f"Client {ctx.ws.data.username} disconnected")


@on("ws:message")
def on_message(ctx: WSMessage) -> None:
    if not isinstance(ctx.data, dict):
        return  # not JSON: nobody replies, so the message is echoed
    msg_type = ctx.data.get("type")

    if msg_type == "ping":
        ctx.reply = {"type": "pong"}
        ctx.stop = True

    elif msg_type == "set_name":
        ctx.ws.data.username = ctx.data.get("name", "anonymous")
        ctx.reply = {"type": "name_set", "name": ctx.ws.data.username}
        ctx.stop = True

    # If stop=False and reply=None, default echo response is sent


@on("ws:message")
def chat_handler(ctx: WSMessage) -> None:
    if not isinstance(ctx.data, dict):
        return
    action = ctx.data.get("action")

    if action == "join":
        room = ctx.data.get("room", "general")
        ctx.ws.data.room = room
        app.state.rooms.setdefault(room, []).append(ctx.ws)
        ctx.reply = {"action": "joined", "room": room}
        ctx.stop = True

    elif action == "message":
        room = getattr(ctx.ws.data, "room", None)
        if room and room in app.state.rooms:
            for client in app.state.rooms[room]:
                if client != ctx.ws:
                    client.send({
                        "action": "message",
                        "from": getattr(ctx.ws.data, "username", "anon"),
                        "text": ctx.data.get("text")
                    })
        ctx.reply = {"action": "sent"}
        ctx.stop = True


@on("ws:disconnect")
def leave_room(ctx: WSContext) -> None:
    room = getattr(ctx.ws.data, "room", None)
    if room and room in app.state.rooms:
        app.state.rooms[room].remove(ctx.ws)
