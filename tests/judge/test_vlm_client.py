"""The VLM judge client against a local OpenAI-compatible server on 127.0.0.1.

Each case: a good reply, malformed JSON, a truncated reply, an out-of-range score, a server
error then success (retry), and a server that never answers (timeout). Failures are errors or
recorded failed items, never a zero score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from judge_fakes import Server, chat_reply

from worldalign.errors import ConfigError
from worldalign.models.judge.vlm_client import (
    Dimension,
    VLMJudgeClient,
    VLMJudgeConfig,
    VLMReplyError,
    VLMTransportError,
    parse_scores,
)

DIMENSIONS = (
    Dimension("instruction_following", "Instruction Following", 3),
    Dimension("physics_adherence", "Physics Adherence", 2),
)
VIDEO = np.zeros((2, 6, 16, 16, 3), dtype=np.uint8)
GOOD = '{"instruction_following": 2, "physics_adherence": 1}'


@pytest.fixture
def serve() -> Iterator[Callable[[list[tuple[int, bytes] | None]], Server]]:
    servers: list[Server] = []

    def start(responses: list[tuple[int, bytes] | None]) -> Server:
        servers.append(Server(responses))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client(server: Server, **overrides: object) -> tuple[VLMJudgeClient, list[float]]:
    waits: list[float] = []
    config = VLMJudgeConfig(
        base_url=server.url, model="judge-vlm", timeout_s=0.5, retries=2, backoff_s=0.25, frames_per_view=2
    )
    config = VLMJudgeConfig(**{**config.__dict__, **overrides})
    return VLMJudgeClient(config, DIMENSIONS, ("oblique", "front"), sleep=waits.append), waits


def test_good_reply_gives_scores_and_the_request_is_an_openai_chat(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLDALIGN_VLM_API_KEY", "secret-key")
    server = serve([(200, chat_reply(GOOD))])
    judge, _ = client(server)
    assert judge.score(VIDEO, "push the puck").tolist() == [2.0, 1.0]
    request = server.requests[0]
    assert request["model"] == "judge-vlm"
    parts = request["messages"][1]["content"]  # type: ignore[index]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 4 and images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "push the puck" in parts[0]["text"]
    assert server.headers[0]["Authorization"] == "Bearer secret-key"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (chat_reply("the scores are 2 and 1"), "not valid JSON"),
        (chat_reply('{"instruction_following": 2, "physics_adh'), "not valid JSON"),
        (
            chat_reply('{"instruction_following": 2, "physics_adherence": 1}', finish_reason="length"),
            "cut at max_tokens",
        ),
        (chat_reply('{"instruction_following": 5, "physics_adherence": 1}'), "outside 0..3"),
        (chat_reply('{"instruction_following": 2}'), "missing"),
        (chat_reply('{"instruction_following": 1.5, "physics_adherence": 1}'), "expected an integer"),
        (b'{"choices": [{"message": {"content": "{\\"instr', "not JSON"),
    ],
)
def test_bad_replies_are_errors_and_recorded_failures_never_zero(serve, reply: bytes, message: str) -> None:
    server = serve([(200, reply), (200, reply)])
    judge, _ = client(server)
    with pytest.raises(VLMReplyError, match=message):
        judge.score(VIDEO, "push the puck")
    [item] = judge.score_many([VIDEO], ["push the puck"])
    assert item.scores is None and "VLMReplyError" in (item.error or "")


def test_server_errors_are_retried_with_backoff(serve) -> None:
    server = serve([(503, b"busy"), (500, b"oops"), (200, chat_reply(f"```json\n{GOOD}\n```"))])
    judge, waits = client(server)
    assert judge.score(VIDEO, "open the door").tolist() == [2.0, 1.0]
    assert waits == [0.25, 0.5]


def test_a_server_that_never_answers_times_out_into_a_failed_item(serve) -> None:
    server = serve([None, None])
    judge, waits = client(server, retries=1, timeout_s=0.2)
    [item] = judge.score_many([VIDEO], ["open the door"])
    assert item.scores is None
    assert "VLMTransportError" in (item.error or "") and "within 0.2 s" in (item.error or "")
    assert waits == [0.25]


def test_client_errors_are_not_retried(serve) -> None:
    server = serve([(401, b'{"error": "bad key"}')])
    judge, waits = client(server)
    with pytest.raises(VLMTransportError, match="HTTP 401"):
        judge.score(VIDEO, "open the door")
    assert waits == []


def test_bad_input_is_refused_before_any_request() -> None:
    judge = VLMJudgeClient(
        VLMJudgeConfig("http://127.0.0.1:9", "m"), DIMENSIONS, ("oblique", "front"), sleep=lambda s: None
    )
    with pytest.raises(ConfigError, match="instruction is empty"):
        judge.score(VIDEO, "  ")
    with pytest.raises(ConfigError, match=r"\(2, T, H, W, 3\)"):
        judge.score(VIDEO[:1], "push")
    with pytest.raises(ConfigError, match="http"):
        VLMJudgeClient(VLMJudgeConfig("127.0.0.1:8000", "m"), DIMENSIONS, ("front",))


def test_parse_scores_accepts_only_the_exact_object() -> None:
    assert parse_scores(f"  {GOOD}\n", DIMENSIONS).tolist() == [2.0, 1.0]
    with pytest.raises(VLMReplyError, match="unexpected"):
        parse_scores('{"instruction_following": 2, "physics_adherence": 1, "bonus": 3}', DIMENSIONS)
    with pytest.raises(VLMReplyError, match="object"):
        parse_scores("[2, 1]", DIMENSIONS)
    with pytest.raises(VLMReplyError, match="integer"):
        parse_scores('{"instruction_following": true, "physics_adherence": 1}', DIMENSIONS)
