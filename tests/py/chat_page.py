"""The chat page in headless Chromium, talking to a Python client in the same room.

usage: chat_page.py PAGE_URL WS_URL SCREENSHOT
  PAGE_URL    http://host:port/chat (the chat plugin's page)
  WS_URL      where the page connects: the dedicated WebSocket port, or /chat/ws without one
  SCREENSHOT  where to save a PNG of the page at the end
"""

import json
import sys

from websockets.sync.client import connect

from browser import browser

page_url, ws_url, shot = sys.argv[1], sys.argv[2], sys.argv[3]

with browser() as b, connect(ws_url) as client:
    page = b.new_page()
    page.goto(page_url)
    page.wait_for_function("document.getElementById('status').textContent === 'connected'", timeout=10000)
    page.fill("#name", "browser")
    page.fill("#room", "lobby")
    page.click("#join button")
    page.wait_for_function("document.getElementById('status').textContent === 'in room lobby'", timeout=10000)

    client.send(json.dumps({"type": "set_name", "name": "tester"}))
    client.recv(timeout=10)
    client.send(json.dumps({"action": "join", "room": "lobby"}))
    client.recv(timeout=10)

    # The client speaks: the page shows it.
    client.send(json.dumps({"action": "message", "text": "hello from python"}))
    assert json.loads(client.recv(timeout=10)) == {"action": "sent"}
    page.wait_for_selector("#log li.message", timeout=10000)
    print("browser saw:", page.inner_text("#log li.message"))

    # The page speaks: the client gets it.
    page.fill("#text", "hello from chromium")
    page.click("#send button")
    print("client saw:", json.loads(client.recv(timeout=10)))

    page.screenshot(path=shot)
