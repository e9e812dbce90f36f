"""Headless Chromium talks to Berth over a compressed WebSocket.

usage: browser_deflate.py PAGE_URL WS_URL
  PAGE_URL  any page of the server (the origin the socket is opened from)
  WS_URL    ws-echo's /ws/raw

Chromium always offers permessage-deflate; the page reports the extension the server
agreed (`WebSocket.extensions`) and round-trips text and binary messages, small and
large. Prints one line per observation.
"""

import sys

from browser import browser

page_url, ws_url = sys.argv[1], sys.argv[2]

SCRIPT = """async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail("error"); });
  const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
  const out = { extensions: ws.extensions, echoes: [] };
  const text = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ i, text: "chromium says hello" })));
  for (const message of ["hi", text, text.repeat(3)]) {
    ws.send(message);
    out.echoes.push((await next()) === message);
  }
  const bytes = new Uint8Array(70000).map((_, i) => i % 251);
  ws.send(bytes);
  const back = new Uint8Array(await next());
  out.echoes.push(back.length === bytes.length && back.every((b, i) => b === bytes[i]));
  ws.close(1000);
  await new Promise((ok) => { ws.onclose = (e) => { out.close = e.code; ok(); }; });
  return out;
}"""

with browser() as b:
    page = b.new_page()
    page.goto(page_url)
    result = page.evaluate(SCRIPT, ws_url)
    print("extensions:", result["extensions"])
    print("echoes:", result["echoes"])
    print("close:", result["close"])
