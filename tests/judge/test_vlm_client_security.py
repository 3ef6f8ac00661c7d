"""The VLM client keeps the API key safe: plain http:// only to this machine, and no
Authorization header forwarded on a redirect to another origin (real HTTP servers on loopback)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from worldalign.errors import ConfigError
from worldalign.models.judge.vlm_client import Dimension, VLMJudgeClient, VLMJudgeConfig

DIMENSIONS = (Dimension("physics_adherence", "Physics Adherence", 2),)
VIDEO = np.zeros((1, 4, 8, 8, 3), dtype=np.uint8)
REPLY = json.dumps({"choices": [{"message": {"content": '{"physics_adherence": 2}'}, "finish_reason": "stop"}]})


class RecordingServer:
    """An HTTP server on 127.0.0.1 that records each request's headers and either redirects it
    (302 to ``redirect_to``) or answers it with a valid chat reply."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                server.headers.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if server.redirect_to is not None and not self.path.startswith("/final"):
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = REPLY.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        self.redirect_to = redirect_to
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[list[RecordingServer]]:
    started: list[RecordingServer] = []
    yield started
    for server in started:
        server.close()


def judge(base_url: str) -> VLMJudgeClient:
    config = VLMJudgeConfig(base_url=base_url, model="m", timeout_s=2.0, retries=0, frames_per_view=1)
    return VLMJudgeClient(config, DIMENSIONS, ("front",))


def authorization(headers: dict[str, str]) -> str | None:
    return next((value for name, value in headers.items() if name.lower() == "authorization"), None)


def test_a_redirect_to_another_host_and_port_does_not_carry_the_api_key(
    servers: list[RecordingServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLDALIGN_VLM_API_KEY", "secret-key")
    other = RecordingServer()  # reached as "localhost": another host name and another port
    servers.append(other)
    first = RecordingServer(redirect_to=f"http://localhost:{other.port}/final")
    servers.append(first)
    assert judge(f"http://127.0.0.1:{first.port}").score(VIDEO, "push the puck").tolist() == [2.0]
    assert authorization(first.headers[0]) == "Bearer secret-key"
    assert len(other.headers) == 1 and authorization(other.headers[0]) is None


def test_a_redirect_within_the_same_origin_keeps_the_api_key(
    servers: list[RecordingServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLDALIGN_VLM_API_KEY", "secret-key")
    server = RecordingServer()
    servers.append(server)
    server.redirect_to = f"http://127.0.0.1:{server.port}/final"
    assert judge(f"http://127.0.0.1:{server.port}").score(VIDEO, "push the puck").tolist() == [2.0]
    assert [authorization(headers) for headers in server.headers] == ["Bearer secret-key"] * 2


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.5:8000", "http://127.0.0.1.example.com"])
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"plain http:// would send the API key in clear text; expected https://"):
        judge(url)


@pytest.mark.parametrize(
    "url", ["https://api.example.com", "http://127.0.0.1:8000", "http://127.3.2.1", "http://[::1]:8000", "http://localhost"]
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert judge(url).url == url + "/v1/chat/completions"


def test_a_url_without_scheme_or_host_is_refused() -> None:
    for url in ("ftp://example.com", "https://", "example.com"):
        with pytest.raises(ConfigError, match="expected https://HOST"):
            judge(url)
