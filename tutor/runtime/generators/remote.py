"""The remote backend: an OpenAI-compatible chat-completions server, streamed over server-sent events.

``RemoteGenerator`` streams from ``POST {url}/v1/chat/completions`` (vLLM, TGI, llama.cpp server,
Ollama) with httpx: how a deployment outgrows one machine. The server does its own batching, so no
``FairQueue`` here; the remote model's tokenizer is not at hand, so the prompt builder estimates tokens.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Iterator

from basics.errors import ConfigError, ModelError
from tutor.runtime.generators.base import GenerationStats

@dataclass
class RemoteConfig:
    """Where an OpenAI-compatible chat-completions server lives."""

    url: str = field(metadata={"help": "Base URL, e.g. http://gpu-box:8000 or http://gpu-box:8000/v1"})
    model: str = field(default="", metadata={"help": "Model name the server knows (vLLM/Ollama need it)."})
    api_key: str | None = field(default=None, metadata={"help": "Bearer token, if the server wants one."})
    timeout_s: float = field(default=120.0, metadata={"help": "Connect/read timeout per request."})


def chat_completions_url(url: str) -> str:
    """Accept a server root, a ``/v1`` base, or the full endpoint; return the full endpoint."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


class RemoteGenerator:
    """Streams from an OpenAI-compatible ``/v1/chat/completions`` endpoint (SSE)."""

    tokenizer = None  # the remote model's tokenizer is not here; the prompt builder estimates tokens
    runs_here = False  # its speed is the server's, not this machine's (tutor.runtime.machine measures local backends)

    def __init__(self, config: RemoteConfig, stops: tuple[str, ...] = ()):
        if not config.url.startswith(("http://", "https://")):
            raise ConfigError(f"remote_url {config.url!r} must start with http:// or https://")
        self.config = config
        self.endpoint = chat_completions_url(config.url)
        self.name = f"remote:{config.model or 'default'}@{config.url}"
        self.stops = stops
        self.last_stats = GenerationStats()

    def stream(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, stop: tuple[str, ...] = ()) -> Iterator[str]:
        import httpx

        stops = tuple(dict.fromkeys(self.stops + tuple(stop)))
        stats = self.last_stats = GenerationStats()
        t0 = time.perf_counter()
        body = {"messages": messages, "stream": True, "max_tokens": max_new_tokens, "temperature": temperature}
        if self.config.model:
            body["model"] = self.config.model
        if stops:
            body["stop"] = list(stops)[:4]  # the OpenAI API accepts at most four
        headers = {"Accept": "text/event-stream"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        try:
            with httpx.stream("POST", self.endpoint, json=body, headers=headers, timeout=self.config.timeout_s) as resp:
                if resp.status_code != 200:
                    detail = resp.read().decode("utf-8", "replace")[:300]
                    raise ModelError(f"Remote model at {self.endpoint} answered HTTP {resp.status_code}: {detail}")
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except json.JSONDecodeError as exc:
                        raise ModelError(f"Remote model at {self.endpoint} sent a malformed event: {data[:200]!r}") from exc
                    if chunk.get("error"):
                        raise ModelError(f"Remote model at {self.endpoint} failed: {chunk['error']}")
                    for choice in chunk.get("choices", []):
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            if stats.first_token_s is None:
                                stats.first_token_s = time.perf_counter() - t0
                            stats.new_tokens += 1  # one event is one token on the servers we know
                            yield delta
        except httpx.HTTPError as exc:
            raise ModelError(f"Could not reach the remote model at {self.endpoint}: {exc}") from exc
        finally:
            stats.total_s = time.perf_counter() - t0
