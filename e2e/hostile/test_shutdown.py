"""Last: after all of the attacks, SIGTERM still drains the node and it exits, with a socket open, a request head
half sent and a connection that the client closed half-way."""

from conftest import register
from wire import Ended, WebSocket, connect


def test_sigterm_stops_the_node_within_10_s(server):
    node = server
    node.restart_if_broken()
    user = register(node, "last")
    ws = WebSocket.open(node.port, user["access"])
    half = connect(node.port, source="127.0.0.12")
    half.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    with connect(node.port, source="127.0.0.12") as dropped:
        dropped.sendall(b"GET /heal")
    try:
        taken = node.terminate(timeout=10)
        assert taken is not None, "the node did not exit within 10 s of SIGTERM"
        try:
            code = ws.close_code(timeout=1)
        except (Ended, TimeoutError):
            code = None
        assert code in (1012, None), f"the open socket was closed with {code}"
    finally:
        ws.close()
        half.close()
