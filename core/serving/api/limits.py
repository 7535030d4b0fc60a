"""What one client can make the server hold: a capped request body, a capped number of photos."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from core.errors import PetSegError
from core.serving.api.batching import Overloaded


class BodyTooLarge(PetSegError, ValueError):
    """A request body over the server's limit."""


class BodyLimit:
    """ASGI middleware: a body announced (Content-Length) or found (chunked) to exceed `limit` bytes
    is refused with 413 before it is read whole; its bytes past the limit are never buffered."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    def _message(self) -> str:
        return f"request body is larger than {self.limit / 2**20:.0f} MB, the server's limit; send a smaller photo"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            from fastapi.responses import JSONResponse

            response = JSONResponse({"error": self._message()}, status_code=413, headers={"Connection": "close"})
            return await response(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)


class PhotoSlots:
    """At most `capacity` photos decoded or being segmented at once; one more is refused (503)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.held = capacity, 0

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self.held >= self.capacity:  # one event loop: no lock needed between check and increment
            raise Overloaded(f"the server is segmenting {self.capacity} photos already; retry shortly")
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1
