"""permessage-deflate (RFC 7692) from outside, against ws-echo's routes.

usage: ws_deflate.py MODE BASE_URL LIMIT
  MODE      on        compression negotiated: compressed echo and broadcast, zip bombs
            off       `[server.websocket] permessage_deflate = false`: never negotiated
            declined  the embedded runtime, which has no deflate: never negotiated
  BASE_URL  ws://host:port (ws-echo's /ws/raw and /ws/chat are used)
  LIMIT     the server's ws_max_message

Two clients: Python's `websockets` (compression on by default, as browsers), and a raw
socket client written here with the standard library's zlib, which sees each frame's
RSV1 bit, so "the server's messages really are compressed" is checked on the wire.
Prints one line per observation; the Rust test compares them.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import zlib
from urllib.parse import urlparse

from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

mode, base, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urlparse(base)


class Raw:
    """A WebSocket client on a plain socket: handshake, masked frames, RSV1 visible."""

    def __init__(self, path, offer):
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {url.hostname}:{url.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if offer:
            lines.append(f"Sec-WebSocket-Extensions: {offer}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise SystemExit("connection closed during the handshake")
            head += chunk
        status, *fields = head.decode().split("\r\n")
        assert status.startswith("HTTP/1.1 101"), status
        self.headers = {}
        for field in fields:
            if ":" in field:
                name, value = field.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        assert self.headers.get("sec-websocket-accept") == accept
        # One compressor and one inflater for the connection: context takeover.
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.inflate = zlib.decompressobj(-15)

    def extension(self):
        return self.headers.get("sec-websocket-extensions", "none")

    def frame(self, opcode, payload, fin=True, rsv1=False):
        head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def compressed(self, data):
        """`data` deflated as one message (the trailing 00 00 ff ff removed, §7.2.1)."""
        out = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data += chunk
        return data

    def read(self):
        """One frame: (opcode, rsv1, payload as sent)."""
        b0, b1 = self.exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.exactly(8))[0]
        assert not b1 & 0x80, "the server masked a frame"
        return b0 & 0x0F, bool(b0 & 0x40), self.exactly(n)

    def message(self):
        """The next data message: (opcode, was it compressed, payload inflated)."""
        opcode, rsv1, payload = self.read()
        while opcode in (0x9, 0xA):  # pings and pongs
            opcode, rsv1, payload = self.read()
        if opcode == 0x8:
            return opcode, rsv1, payload
        if rsv1:
            payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
        return opcode, rsv1, payload

    def close_code(self):
        """Reads to the server's close frame; its code."""
        while True:
            opcode, _, payload = self.read()
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


# Text that compresses the way chat and JSON traffic does.
TEXT = json.dumps([{"user": f"user{i % 7}", "text": "hello, compressed world"} for i in range(40)])

if mode == "on":
    # Chromium's offer.
    raw = Raw("/ws/raw", "permessage-deflate; client_max_window_bits")
    print("raw 101:", raw.extension())
    for i in range(3):
        message = f"{i} {TEXT}".encode()
        raw.frame(0x1, raw.compressed(message), rsv1=True)
        opcode, rsv1, echoed = raw.message()
        print(f"raw echo {i}: opcode {opcode}, compressed {rsv1}, same {echoed == message}")
    # An uncompressed message on a compressing connection is fine too (RSV1 is per message).
    raw.frame(0x2, b"\x01\x02\x03")
    opcode, rsv1, echoed = raw.message()
    print(f"raw plain: opcode {opcode}, same {echoed == bytes([1, 2, 3])}")

    # A broadcast reaches each compressing client compressed.
    one = Raw("/ws/chat", "permessage-deflate")
    two = Raw("/ws/chat", "permessage-deflate; server_no_context_takeover")
    print("chat 101:", one.extension(), "|", two.extension())
    one.frame(0x1, one.compressed(TEXT.encode()), rsv1=True)
    for name, client in (("one", one), ("two", two)):
        opcode, rsv1, got = client.message()
        print(f"broadcast to {name}: compressed {rsv1}, same {got == TEXT.encode()}")

    # Zip bombs: a few KiB on the wire that inflate past the limit. One frame, then one
    # message in many small frames; both close 1009.
    # The first is as big as one frame within the limit can be: about 1000 times the
    # limit inflated (the caller watches the server's peak memory meanwhile).
    bomb = Raw("/ws/raw", "permessage-deflate")
    inflated = 1000 * (limit - 4096)
    body = bomb.compressed(bytes(inflated))
    print(f"bomb: {len(body) < limit} (wire {len(body)} bytes for {inflated})")
    bomb.frame(0x2, body, rsv1=True)
    print("bomb close:", bomb.close_code())
    bomb = Raw("/ws/raw", "permessage-deflate")
    body = bomb.compressed(bytes(limit * 64))
    parts = [body[i : i + 256] for i in range(0, len(body), 256)]
    for i, part in enumerate(parts):
        try:
            bomb.frame(0x2 if i == 0 else 0x0, part, fin=i == len(parts) - 1, rsv1=i == 0)
        except OSError:
            break  # closed part-way, as it should be
    print("fragmented bomb close:", bomb.close_code())
    # Exactly the limit, inflated, still goes through.
    edge = Raw("/ws/raw", "permessage-deflate")
    edge.frame(0x2, edge.compressed(bytes(limit)), rsv1=True)
    opcode, rsv1, echoed = edge.message()
    print(f"at the limit: compressed {rsv1}, same {echoed == bytes(limit)}")

    # Python's websockets negotiates by default, like a browser.
    with connect(base + "/ws/raw", max_size=None) as ws:
        print("websockets 101:", ws.response.headers.get("Sec-WebSocket-Extensions"))
        ws.send(TEXT)
        print("websockets echo:", ws.recv(timeout=10) == TEXT)
        ws.send(bytes(limit * 16))
        try:
            ws.recv(timeout=10)
            print("websockets bomb: answered")
        except ConnectionClosedError as closed:
            print("websockets bomb close:", closed.rcvd.code if closed.rcvd else None)
else:
    raw = Raw("/ws/raw", "permessage-deflate; client_max_window_bits")
    print("raw 101:", raw.extension())
    raw.frame(0x1, TEXT.encode())
    opcode, rsv1, echoed = raw.message()
    print(f"raw echo: compressed {rsv1}, same {echoed == TEXT.encode()}")
    # RSV1 without the extension is a protocol error.
    raw.frame(0x1, raw.compressed(TEXT.encode()), rsv1=True)
    print("rsv1 close:", raw.close_code())
    with connect(base + "/ws/raw") as ws:
        print("websockets 101:", ws.response.headers.get("Sec-WebSocket-Extensions"))
        ws.send(TEXT)
        print("websockets echo:", ws.recv(timeout=10) == TEXT)
