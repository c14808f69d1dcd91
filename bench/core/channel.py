"""A control channel between the parent and a worker it steers step by step (``bench ab``'s lockstep
pairs): JSON lines over one end of a ``socket.socketpair``, whose other end the worker inherits.

Both halves use this module; it imports nothing beyond the standard library. A closed socket (the
other side died) or a silent one (past ``timeout``) raises :class:`ChannelClosed`, never hangs.
"""

from __future__ import annotations

import json
import socket
from typing import Any


class ChannelClosed(Exception):
    """The other side closed the channel, died, or did not answer in time."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    def pair(cls) -> tuple[Channel, socket.socket]:
        """The parent's channel and the socket to hand to the worker (``pass_fds``; close it after)."""
        mine, theirs = socket.socketpair()
        return cls(mine), theirs

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        return cls(socket.socket(fileno=fd))

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.sock.sendall((json.dumps(message) + "\n").encode())
        except OSError as exc:
            raise ChannelClosed(f"the other side is gone ({exc})") from exc

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        self.sock.settimeout(timeout)
        while b"\n" not in self._buffer:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError as exc:
                raise ChannelClosed(f"no answer within {timeout:g} s") from exc
            except OSError as exc:
                raise ChannelClosed(f"the other side is gone ({exc})") from exc
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        self.sock.close()
