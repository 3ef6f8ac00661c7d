"""Constants, a fake instruction encoder and a local chat server shared by the judge tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from worldalign.judge_bench.labels import DIMENSION_KEYS, MAX_SCORES  # noqa: F401  (the judge tests import it from here)

KEYS = DIMENSION_KEYS
VIEWS = ("oblique", "front")


class FakeEncoder:
    """``encode(texts) -> (B, 384)``: a fixed random vector per text (what the judge needs of MiniLM)."""

    def encode(self, instructions: Sequence[str]) -> torch.Tensor:
        rows = [torch.randn(384, generator=torch.Generator().manual_seed(sum(map(ord, text)))) for text in instructions]
        return torch.stack(rows) if rows else torch.empty(0, 384)


def chat_reply(content: str, finish_reason: str = "stop") -> bytes:
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}]}
    ).encode()


class Server:
    """A local chat server answering each POST with the next of ``responses`` (status, body) or hanging."""

    def __init__(self, responses: list[tuple[int, bytes] | None]) -> None:
        self.responses = list(responses)
        self.requests: list[dict[str, object]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append(json.loads(body))
                server.headers.append(dict(self.headers))
                response = server.responses.pop(0)
                if response is None:
                    server.release.wait(timeout=10)  # hang until the test is over: the client must time out
                    return
                status, payload = response
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
