"""A real `python -m core serve` on a free loopback port, and a small stdlib HTTP client for it."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import ROOT, free_port, stop, wait_healthy


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class ApiServer:
    port: int
    process: subprocess.Popen

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def post_photo(self, data: bytes, query: str = "", headers: dict | None = None) -> Answer:
        return self.request("POST", f"/v1/segment{query}", data, {"Content-Type": "image/jpeg", **(headers or {})})

    def post_multipart(self, name: str, data: bytes, query: str = "", headers: dict | None = None) -> Answer:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.request("POST", f"/v1/segment{query}", body, {**content_type, **(headers or {})})


@contextmanager
def api_server(*options: str, env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[ApiServer]:
    """`python -m core serve --port P OPTIONS` from the project root, stopped (and waited for) after."""
    port = free_port()
    command = [sys.executable, "-m", "core", "serve", "--port", str(port), *options]
    output = log.open("wb") if log else subprocess.DEVNULL
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=120, path="/healthz")
        yield ApiServer(port, process)
    finally:
        stop(process)
        if log:
            output.close()
