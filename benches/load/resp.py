"""A minimal RESP client for the load scripts: sends commands, reads whole replies (RESP2 and
RESP3, push messages included) as raw bytes."""

import socket


def encode(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


class Conn:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, *args: bytes) -> None:
        self.sock.sendall(encode(*args))

    def _frame_end(self, at: int) -> int:
        """End of the frame starting at `at` in the buffer, or 0 if it is not complete."""
        if b"\r\n" not in self.buf[at:]:
            return 0
        line_end = self.buf.index(b"\r\n", at) + 2
        kind = self.buf[at:at + 1]
        if kind in (b"+", b"-", b":", b"_"):
            return line_end
        length = int(self.buf[at + 1:line_end - 2])
        if kind in (b"$", b"="):
            end = line_end + max(length, 0) + (2 if length >= 0 else 0)
            return end if len(self.buf) >= end else 0
        items = length * 2 if kind == b"%" else length
        for _ in range(max(items, 0)):
            end = self._frame_end(line_end)
            if not end:
                return 0
            line_end = end
        return line_end

    def reply(self) -> bytes:
        while True:
            end = self._frame_end(0) if self.buf else 0
            if end:
                out, self.buf = self.buf[:end], self.buf[end:]
                return out
            self.buf += self.sock.recv(65536)

    def call(self, *args: bytes) -> bytes:
        self.send(*args)
        return self.reply()
