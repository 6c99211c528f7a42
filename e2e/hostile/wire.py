"""HTTP and WebSocket by hand, on plain sockets, for clients that break the rules on purpose: half a request,
a trickled body, frames with RSV bits, unmasked or with reserved opcodes, bad close codes, pings never read.
Everything targets loopback; `source` picks the client's address (any of 127.0.0.0/8), so that the per-address
limits one test hits do not touch another's."""

import base64
import dataclasses
import hashlib
import http.client
import json
import os
import select
import socket
import struct
import time

HOST = "127.0.0.1"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def connect(port, source=HOST, timeout=5.0, rcvbuf=None):
    """A TCP connection to the node. `rcvbuf` shrinks the receive buffer (before the handshake, so the window stays
    small), for a client that reads slowly or not at all."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect((HOST, port))
    return sock


def closed_within(sock, seconds):
    """Reads until the peer closes (EOF or reset); returns (seconds it took, the bytes read), or (None, bytes) when the
    connection was still open after `seconds`."""
    start, received = time.monotonic(), b""
    while time.monotonic() - start < seconds:
        ready, _, _ = select.select([sock], [], [], max(0.0, seconds - (time.monotonic() - start)))
        if not ready:
            break
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start, received
        if not chunk:
            return time.monotonic() - start, received
        received += chunk
    return None, received


def parse_response(data):
    """(status, headers with lowercase names, body) of the first HTTP response in `data`; None when there is none."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator or not head.startswith(b"HTTP/1."):
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def read_response(sock, timeout=5.0):
    """The next HTTP response on `sock` (head and Content-Length body) as (status, headers, body), or None when the
    connection ends or `timeout` passes first."""
    deadline, received = time.monotonic() + timeout, b""
    while True:
        response = parse_response(received)
        if response and len(response[2]) >= int(response[1].get("content-length", "0")):
            return response
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except (OSError, socket.timeout):
            return None
        if not chunk:
            return None
        received += chunk


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def code(self):
        """The error code of a JSON error body, or None."""
        value = self.json
        return value.get("error", {}).get("code") if isinstance(value, dict) else None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def call(port, method, path, body=None, token=None, source=HOST, raw=None, content_type="application/json", headers=None,
         timeout=15.0):
    """One REST request on a connection of its own. `body` is sent as JSON (UTF-8, not escaped), `raw` as it is."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout, source_address=(source, 0))
    fields = {}
    if token:
        fields["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else None if body is None else json.dumps(body, ensure_ascii=False).encode()
    if data is not None and content_type:
        fields["Content-Type"] = content_type
    fields.update(headers or {})
    try:
        connection.request(method, path, body=data, headers=fields)
        response = connection.getresponse()
        return Reply(response.status, {name.lower(): value for name, value in response.getheaders()}, response.read())
    finally:
        connection.close()


# WebSocket frames (RFC 6455, 5.2), built by hand so that any bit may be wrong.

def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None):
    """One frame: `rsv` is the three RSV bits (4 = RSV1), `mask=False` leaves a client frame unmasked."""
    if isinstance(payload, str):
        payload = payload.encode()
    first = (0x80 if fin else 0) | (rsv << 4) | (opcode & 0x0F)
    size = len(payload)
    mask_bit = 0x80 if mask else 0
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = key or os.urandom(4)
    stream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big") if size else b""
    return head + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Refused(Exception):
    """An upgrade answered with an HTTP error instead of 101."""

    def __init__(self, status, headers, body):
        super().__init__(f"upgrade refused: {status} {body[:200]!r}")
        self.reply = Reply(status, headers, body)


class Closed(Exception):
    """The server's close frame: its code (None for an empty payload) and reason."""

    def __init__(self, code, reason=b""):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class Ended(Exception):
    """The TCP connection ended (EOF or reset) without a close frame."""


def upgrade_head(port, token=None, origin=None, protocols=None, key=None, path="/ws"):
    protocols = protocols if protocols is not None else ["parley.v1"] + ([f"bearer.{token}"] if token else [])
    lines = [
        f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key or base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13",
    ]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class WebSocket:
    """A `parley.v1` socket. `next()` answers pings (unless `auto_pong` is off) and returns the next JSON frame;
    a close frame raises `Closed`, the end of the connection `Ended`."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.buffer = leftover
        self.auto_pong = True
        self.hello = None

    @classmethod
    def open(cls, port, token, source=HOST, origin=None, rcvbuf=None, timeout=10.0, hello=True):
        sock = connect(port, source=source, timeout=timeout, rcvbuf=rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(upgrade_head(port, token, origin=origin, key=key))
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536) if time.monotonic() < deadline else b""
            if not chunk:
                sock.close()
                raise Ended(f"no answer to the upgrade: {data!r}")
            data += chunk
        status, headers, rest = parse_response(data)
        if status != 101:
            length = int(headers.get("content-length", "0"))
            while len(rest) < length and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            sock.close()
            raise Refused(status, headers, rest)
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert headers.get("sec-websocket-accept") == accept, headers
        socket_ = cls(sock, rest)
        if hello:
            socket_.hello = socket_.next(timeout)
            assert socket_.hello["type"] == "hello", socket_.hello
        return socket_

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, value, **options):
        self.sock.sendall(frame(TEXT, json.dumps(value, ensure_ascii=False).encode(), **options))

    def _fill(self, count, deadline):
        while len(self.buffer) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no frame within the time allowed ({len(self.buffer)} bytes buffered)")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                raise TimeoutError("no frame within the time allowed") from None
            except (ConnectionResetError, BrokenPipeError) as error:
                raise Ended(f"connection reset: {error}") from None
            if not chunk:
                raise Ended("connection closed without a close frame")
            self.buffer += chunk

    def read_frame(self, timeout=10.0):
        """(fin, rsv, opcode, payload) of the next frame from the server."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        first, second = self.buffer[0], self.buffer[1]
        size, offset = second & 0x7F, 2
        if size == 126:
            self._fill(4, deadline)
            size, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif size == 127:
            self._fill(10, deadline)
            size, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
        key = b""
        if second & 0x80:
            self._fill(offset + 4, deadline)
            key, offset = self.buffer[offset:offset + 4], offset + 4
        self._fill(offset + size, deadline)
        payload, self.buffer = self.buffer[offset:offset + size], self.buffer[offset + size:]
        if key:
            payload = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
        return bool(first & 0x80), (first >> 4) & 0x7, first & 0x0F, payload

    def next(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            _, _, opcode, payload = self.read_frame(max(0.0, deadline - time.monotonic()))
            if opcode == TEXT:
                return json.loads(payload)
            if opcode == CLOSE:
                raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None, payload[2:])
            if opcode == PING and self.auto_pong:
                self.sock.sendall(frame(PONG, payload))

    def until(self, predicate, timeout=10.0):
        """The first frame that `predicate` accepts; the others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.next(max(0.0, deadline - time.monotonic()))
            if predicate(value):
                return value

    def request(self, value, timeout=10.0):
        """Sends a frame with an id and returns its reply (or error frame); what comes before it is skipped."""
        value = {"id": os.urandom(4).hex(), **value}
        self.send(value)
        return self.until(lambda reply: reply.get("re") == value["id"], timeout)

    def close_code(self, timeout=10.0):
        """Reads until the server's close frame and returns its code; raises `Ended` or `TimeoutError` otherwise."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.next(max(0.0, deadline - time.monotonic()))
        except Closed as closed:
            return closed.code

    def ends_within(self, seconds):
        """Whether the TCP connection ends (EOF or reset) within `seconds`, whatever else arrives first."""
        taken, _ = closed_within(self.sock, seconds)
        return taken is not None
