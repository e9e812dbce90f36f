"""Seed examples through Python's `websockets` client (the seeds' own test style).

usage: ws_clients.py CHAT_URL BASE_URL
  CHAT_URL  the dedicated WebSocket port of examples/seed000-chat (ws://host:port/)
  BASE_URL  the HTTP port of examples/seed002-full as ws://host:port

Prints one line per observation; the Rust test compares them.
"""

import json
import sys

from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosedOK

chat_url, base = sys.argv[1], sys.argv[2]

# Seed 000, "WebSocket Testing": ping → pong; anything unanswered is echoed.
with connect(chat_url) as ws:
    ws.send(json.dumps({"type": "ping"}))
    print("pong:", json.loads(ws.recv(timeout=10)))
    ws.send(json.dumps({"hello": "python"}))
    print("echo:", ws.recv(timeout=10))

# Seed 000, "Chat Room Example": two clients in one room.
with connect(chat_url) as one, connect(chat_url) as two:
    one.send(json.dumps({"type": "set_name", "name": "py-one"}))
    one.recv(timeout=10)
    for ws in (one, two):
        ws.send(json.dumps({"action": "join", "room": "py"}))
        joined = json.loads(ws.recv(timeout=10))
    print("joined:", joined)
    one.send(json.dumps({"action": "message", "text": "from python"}))
    assert json.loads(one.recv(timeout=10)) == {"action": "sent"}
    print("message:", json.loads(two.recv(timeout=10)))

# Seed 002, "WebSockets": /ws/echo greets then echoes; /ws/binary inverts; bye closes.
with connect(base + "/ws/echo") as ws:
    print("welcome:", ws.recv(timeout=10))
    ws.send("hi")
    print("echo:", ws.recv(timeout=10))

with connect(base + "/ws/binary") as ws:
    ws.send(bytes([1, 2, 3]))
    print("binary:", ws.recv(timeout=10).hex())

with connect(base + "/ws") as ws:
    ws.recv(timeout=10)  # Connected!
    ws.send("bye")
    try:
        ws.recv(timeout=10)
        print("close: none")
    except ConnectionClosedOK as closed:
        print("close:", closed.rcvd.code, closed.rcvd.reason)
