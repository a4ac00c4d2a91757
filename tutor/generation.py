"""Generator backends: llama.cpp on a GGUF, a local transformers model, or an OpenAI-compatible server.

All take chat messages and yield text deltas, so the engine does not care where tokens come from:

- ``LlamaCppGenerator`` runs a GGUF in this process with llama-cpp-python: what users run locally, and
  the default for GGUF presets on a CPU (the quantized kernels decode several times faster than torch).
  The chat template is the GGUF's own (or the preset's, for base models); a LoRA adapter is applied by
  llama.cpp at load from its GGUF export (``finetune/gguf_export.py``).

- ``LocalGenerator`` runs a ``LoadedModel`` in this process with a plain decode loop (prefill once, then
  one token at a time through the KV cache). A hand-written loop rather than ``model.generate`` in a
  thread: it is short, needs no streamer thread, applies our stop strings on text, and lets the
  benchmark time the first token exactly. A ``FairQueue`` serialises generation because Gradio calls from
  several threads and one CPU model cannot usefully run two decodes at once.
- ``RemoteGenerator`` streams from ``POST {url}/v1/chat/completions`` (vLLM, TGI, llama.cpp server,
  Ollama) over server-sent events with httpx: how a deployment outgrows one machine.

Adding a backend is adding a class with ``stream(messages, max_new_tokens, temperature)`` and ``name``.

One CPU model serves one answer at a time; the local backends take turns through a ``FairQueue`` (first
come, first served) and, while a request waits, yield ``QueueWait`` deltas: empty strings that carry how
many requests are ahead, so the chat can say "2 questions ahead of yours" instead of looking frozen.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from knowledge_base.hardware import cpu_supports_bf16
from tutor.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

OPTIMIZATIONS = ("auto", "none", "bf16", "int8", "int4")


def resolve_optimize(optimize: str, device: str) -> str:
    """``auto`` -> ``bf16`` on a CPU with native bf16, else ``none``; other names pass through (validated)."""
    if optimize not in OPTIMIZATIONS:
        raise ConfigError(f"Unknown optimize={optimize!r}: use one of {', '.join(OPTIMIZATIONS)}.")
    if optimize == "auto":
        return "bf16" if device.startswith("cpu") and cpu_supports_bf16() else "none"
    return optimize


class Generator(Protocol):
    """What the engine needs from a backend."""

    name: str
    tokenizer: object | None  # for prompt budgets; None: the prompt builder estimates

    def stream(self, messages: list[dict], max_new_tokens: int, temperature: float, stop: tuple[str, ...] = ()) -> Iterator[str]: ...


@dataclass
class GenerationStats:
    """Filled while a stream runs; read after it ends (benchmarks, timings)."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    first_token_s: float | None = None  # from the call to the first yielded text
    total_s: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        """Tokens after the first, per second of decode (the first token's time is prefill)."""
        if self.first_token_s is None or self.new_tokens < 2:
            return 0.0
        return (self.new_tokens - 1) / max(self.total_s - self.first_token_s, 1e-9)


class QueueWait(str):
    """An empty text delta that says how many requests are ahead (``ahead``); joins as ``""``."""

    ahead: int

    def __new__(cls, ahead: int) -> "QueueWait":
        obj = super().__new__(cls, "")
        obj.ahead = ahead
        return obj


class FairQueue:
    """First-come, first-served turns on one model; waiting callers learn their place in line.

    ``threading.Lock`` wakes waiters in no particular order, so under load one student could wait
    through many others' answers. Tickets make the order the arrival order.
    """

    def __init__(self, poll_s: float = 0.5):
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self.poll_s = poll_s

    def turn(self) -> Iterator[int]:
        """Wait for this caller's turn, yielding the number of requests ahead every ``poll_s`` while waiting.

        Use as ``for ahead in queue.turn(): ...`` then ``queue.done()`` in a ``finally`` (``serve`` does both).
        """
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
        try:
            while True:
                with self._cond:
                    if self._serving == ticket:
                        return
                    ahead = ticket - self._serving
                yield ahead
                with self._cond:
                    if self._serving != ticket:
                        self._cond.wait(self.poll_s)
        except GeneratorExit:  # the caller left the line: pass its turn on when it comes
            threading.Thread(target=self._skip, args=(ticket,), daemon=True).start()
            raise

    def serve(self, inner: Iterator[str]) -> Iterator[str]:
        """Run the generator ``inner`` in this caller's turn, yielding ``QueueWait`` deltas while it waits.

        ``inner`` must be a generator (nothing runs before its first ``next``), so no model work starts
        before the turn; closing the stream mid-answer closes ``inner`` and passes the turn on.
        """
        for ahead in self.turn():
            yield QueueWait(ahead)
        try:
            yield from inner
        finally:
            self.done()

    def _skip(self, ticket: int) -> None:
        with self._cond:
            while self._serving != ticket:
                self._cond.wait()
            self._serving += 1
            self._cond.notify_all()

    def done(self) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Requests in line, the one being served included."""
        with self._cond:
            return self._next_ticket - self._serving


def _holdback(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters of ``text`` could be the start of a stop string (must not be shown yet)."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop), len(text)), 0, -1):
            if text.endswith(stop[:n]):
                keep = max(keep, n)
                break
    return keep


def optimize_model(model, optimize: str, device: str):
    """Apply a CPU speed-up by name (measured in docs/benchmarks.md, section Generation).

    ``bf16``: cast weights to bfloat16 (fast where the CPU has AVX512-BF16/AMX, slow elsewhere).
    ``int8``: dynamic int8 quantization of every ``nn.Linear`` (weights int8, activations quantized on
    the fly); CPU only, inference only. ``int4``: 4-bit weight-only groups (``tutor/int4.py``), the
    format the bundled GGUFs were shipped in. ``auto``: see ``resolve_optimize``.
    """
    import torch

    optimize = resolve_optimize(optimize, device)
    if optimize == "none" or not device.startswith("cpu"):
        return model
    if hasattr(model, "merge_and_unload"):
        # A LoRA adapter is merged into the base weights first: int8 would replace the adapter's own small
        # Linear layers (peft reads their ``.weight``), and a merged model is faster for inference anyway.
        model = model.merge_and_unload()
    if optimize == "bf16":
        return model.to(torch.bfloat16)
    if optimize == "int4":
        from tutor.int4 import quantize_int4

        return quantize_int4(model)
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class LocalGenerator:
    """Streams from a ``LoadedModel`` with greedy (temperature 0) or sampled decoding."""

    def __init__(self, loaded, optimize: str = "none", repetition_penalty: float = 1.1, seed: int = 0):
        self.loaded = loaded
        self.name = loaded.name + (f"+{loaded.adapter}" if loaded.adapter else "")
        self.tokenizer = loaded.tokenizer
        self.device = loaded.device
        self.optimize = resolve_optimize(optimize, loaded.device)
        self.model = optimize_model(loaded.model, self.optimize, loaded.device)
        # Only the last position's logits are needed: on the prompt this skips a (prompt x vocabulary) matmul,
        # which for Gemma's 262k-token vocabulary was most of the time to first token.
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        self.logits_kwargs = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(base.forward).parameters else {}
        self.repetition_penalty = repetition_penalty
        self.seed = seed
        self.stops = tuple(loaded.stop)
        self.queue = FairQueue()
        self.last_stats = GenerationStats()
        eos = self.model.generation_config.eos_token_id if getattr(self.model, "generation_config", None) else None
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        for token in ("<end_of_turn>", "<|im_end|>"):  # chat-turn ends of the bundled families
            tid = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                eos_ids.add(tid)
        self.eos_ids = eos_ids

    def encode(self, messages: list[dict]):
        """Chat messages -> input ids (1, T) with the model's (or our) chat template."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
        return ids["input_ids"].to(self.device)

    def stream(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Yield text deltas; stops at EOS, a stop string (the preset's and ``stop``), or ``max_new_tokens``."""
        stops = tuple(dict.fromkeys(self.stops + tuple(stop)))
        yield from self.queue.serve(self._decode(messages, max_new_tokens, temperature, stops))

    def _decode(self, messages, max_new_tokens, temperature, stops) -> Iterator[str]:
        import torch

        with torch.inference_mode():
            stats = self.last_stats = GenerationStats()
            t0 = time.perf_counter()
            input_ids = self.encode(messages)
            stats.prompt_tokens = input_ids.shape[1]
            generator = torch.Generator(device="cpu").manual_seed(self.seed)
            generated: list[int] = []
            shown = ""
            past = None
            next_input = input_ids
            for _ in range(max_new_tokens):
                out = self.model(input_ids=next_input, past_key_values=past, use_cache=True, **self.logits_kwargs)
                past = out.past_key_values
                logits = out.logits[0, -1].float()
                if self.repetition_penalty != 1.0 and generated:
                    seen = torch.tensor(sorted(set(generated)), device=logits.device)
                    picked = logits[seen]
                    logits[seen] = torch.where(picked > 0, picked / self.repetition_penalty, picked * self.repetition_penalty)
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1).cpu()
                    token = int(torch.multinomial(probs, 1, generator=generator))
                else:
                    token = int(torch.argmax(logits))
                if token in self.eos_ids:
                    break
                generated.append(token)
                stats.new_tokens += 1
                next_input = torch.tensor([[token]], device=self.device)
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                    continue
                cut = min((text.find(s) for s in stops if s in text), default=-1)
                if cut >= 0:
                    text = text[:cut]
                visible = text[: len(text) - _holdback(text, stops)] if stops else text
                if len(visible) > len(shown) and visible.startswith(shown):
                    if stats.first_token_s is None:
                        stats.first_token_s = time.perf_counter() - t0
                    yield visible[len(shown):]
                    shown = visible
                if cut >= 0:
                    break
            final = self.tokenizer.decode(generated, skip_special_tokens=True)
            cut = min((final.find(s) for s in stops if s in final), default=-1)
            final = final[:cut] if cut >= 0 else final
            if len(final) > len(shown) and final.startswith(shown):  # the held-back tail was no stop after all
                if stats.first_token_s is None:
                    stats.first_token_s = time.perf_counter() - t0
                yield final[len(shown):]
            stats.total_s = time.perf_counter() - t0


class LlamaTokenizer:
    """The two tokenizer calls the prompt builder makes (``encode``, ``decode``), answered by llama.cpp."""

    def __init__(self, llm):
        self.llm = llm

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_special_tokens, special=False)

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.llm.detokenize(list(ids)).decode("utf-8", errors="ignore")


@dataclass
class LlamaCppConfig:
    """How llama.cpp runs a GGUF. Defaults suit a 2-core CPU; ``n_gpu_layers=-1`` offloads everything."""

    n_ctx: int = 4096  # prompt + answer; a longer prompt is an error that says so
    n_threads: int | None = None  # None: every core
    n_batch: int = 512
    n_gpu_layers: int = 0
    seed: int = 0


class LlamaCppGenerator:
    """Streams from a GGUF through llama-cpp-python, in this process.

    The prompt is rendered here with the chat template (the preset's for base models, else the one stored
    in the GGUF) and tokenized once, so the prompt builder's token counts and the context check are exact.
    llama-cpp-python keeps the KV cache of the previous prompt and re-evaluates only what changed, so the
    shared system rules are not prefilled again on every question.
    """

    def __init__(self, gguf_path: str, name: str, chat_template: str | None = None, stops: tuple[str, ...] = (),
                 lora_path: str | None = None, adapter: str | None = None, repetition_penalty: float = 1.0,
                 config: LlamaCppConfig | None = None):
        import os

        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: run `bash .ci/setup` (it compiles it, ~4 min).") from exc
        self.config = config or LlamaCppConfig()
        cfg = self.config
        try:
            self.llm = Llama(model_path=str(gguf_path), n_ctx=cfg.n_ctx, n_batch=cfg.n_batch,
                             n_threads=cfg.n_threads or os.cpu_count() or 1, n_gpu_layers=cfg.n_gpu_layers,
                             seed=cfg.seed, lora_path=str(lora_path) if lora_path else None, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {gguf_path}" + (f" with adapter {lora_path}" if lora_path else "")
                             + f": {exc}. Is it a GGUF model (and the adapter exported for this base)?") from exc
        template = chat_template or self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{gguf_path} has no chat template (tokenizer.chat_template): it is not a chat model. "
                             "Use a chat/instruct GGUF, or a preset that brings its own prompt format.")
        bos = self._token_text(self.llm.token_bos())
        eos = self._token_text(self.llm.token_eos())
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
        self.name = name + (f"+{adapter}" if adapter else "")
        self.tokenizer = LlamaTokenizer(self.llm)
        self.stops = tuple(stops)
        self.repetition_penalty = repetition_penalty
        self.queue = FairQueue()
        self.last_stats = GenerationStats()
        self.last_prompt: list[int] = []

    def _token_text(self, token: int) -> str:
        if token is None or token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def encode(self, messages: list[dict]) -> list[int]:
        """Chat messages -> prompt token ids (the template writes BOS itself where the model wants one)."""
        prompt = self.formatter(messages=messages).prompt
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def stream(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Yield text deltas; stops at the end of the turn, a stop string, or ``max_new_tokens``."""
        stops = list(dict.fromkeys(self.stops + tuple(stop)))
        tokens = self.encode(messages)
        room = self.config.n_ctx - max_new_tokens
        if len(tokens) > room:
            raise ModelError(f"The prompt is {len(tokens)} tokens; with {max_new_tokens} for the answer the model's "
                             f"window of {self.config.n_ctx} is exceeded. Lower context_budget_tokens or raise n_ctx.")
        yield from self.queue.serve(self._complete(tokens, max_new_tokens, temperature, stops))

    def _complete(self, tokens: list[int], max_new_tokens: int, temperature: float, stops: list[str]) -> Iterator[str]:
        stats = self.last_stats = GenerationStats(prompt_tokens=len(tokens))
        self.last_prompt = tokens  # for benchmarks that replay the same prompt elsewhere
        t0 = time.perf_counter()
        try:
            chunks = self.llm.create_completion(
                tokens, max_tokens=max_new_tokens, temperature=temperature, top_k=40 if temperature > 0 else 1,
                stop=stops or None, stream=True, seed=self.config.seed, repeat_penalty=self.repetition_penalty,
            )
            for chunk in chunks:
                text = chunk["choices"][0].get("text") or ""
                if text:  # the closing chunk carries only the finish reason
                    stats.new_tokens += 1
                    if stats.first_token_s is None:
                        stats.first_token_s = time.perf_counter() - t0
                    yield text
        finally:
            stats.total_s = time.perf_counter() - t0


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
