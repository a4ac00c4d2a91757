"""The llama.cpp backend: a GGUF run in this process with llama-cpp-python, and its LoRA adapters.

``LlamaCppGenerator`` is what users run locally, and the default for GGUF presets on a CPU (the quantized
kernels decode several times faster than torch, docs/benchmarks.md). The chat template is the GGUF's own
(or the preset's, for base models); a LoRA adapter is applied by llama.cpp at load from its GGUF export
(``tutor/runtime/lora_gguf.py``), which ``adapter_gguf`` writes next to the peft adapter on first use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from basics.errors import ModelError
from tutor.runtime.generators.base import FairQueue, GenerationStats

if TYPE_CHECKING:
    from llama_cpp import Llama

ADAPTER_GGUF = "adapter.gguf"


def adapter_gguf(adapter_dir: Path, base_gguf: Path) -> Path:
    """The adapter's llama.cpp export, written next to it on first use (atomic; seconds)."""
    target = Path(adapter_dir) / ADAPTER_GGUF
    weights = Path(adapter_dir) / "adapter_model.safetensors"
    if target.is_file() and (not weights.is_file() or target.stat().st_mtime >= weights.stat().st_mtime):
        return target
    from tutor.runtime.lora_gguf import export_lora_gguf

    return export_lora_gguf(Path(adapter_dir), target, base_gguf=Path(base_gguf))


class LlamaTokenizer:
    """The two tokenizer calls the prompt builder makes (``encode``, ``decode``), answered by llama.cpp."""

    def __init__(self, llm: "Llama"):
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

    def __init__(self, gguf_path: str | Path, name: str, chat_template: str | None = None, stops: tuple[str, ...] = (),
                 lora_path: str | Path | None = None, adapter: str | None = None, repetition_penalty: float = 1.0,
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
        self.last_stops: list[str] = []

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

    def choose(self, messages: list[dict], options: tuple[str, ...]) -> dict[str, float]:
        """The model's probability of each option as the first token of its reply, normalised over ``options``
        (the support judge's yes/no). One forward pass over what the last request did not share with this
        one: a judge prompt that extends the answer's own prompt costs only its new tokens."""
        import numpy as np

        tokens = self.encode(messages)
        # Each option as the reply's first token in every case it may be written ("yes", "Yes", "YES")
        firsts = [sorted({self.llm.tokenize(v.encode("utf-8"), add_bos=False, special=False)[0]
                          for v in (o, o.capitalize(), o.upper())}) for o in options]
        for _ in self.queue.turn():
            pass  # (a judge waits its turn like an answer; it is not streamed, so there is nobody to tell)
        try:
            llm = self.llm
            shared = llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)
            llm.n_tokens = min(shared, len(tokens) - 1)  # at least one token is evaluated: its logits are read
            llm.eval(tokens[llm.n_tokens:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        finally:
            self.queue.done()
        top = logits.max()
        odds = np.array([np.exp(logits[ids] - top).sum() for ids in firsts])
        return dict(zip(options, (odds / odds.sum()).tolist()))

    def _complete(self, tokens: list[int], max_new_tokens: int, temperature: float, stops: list[str]) -> Iterator[str]:
        stats = self.last_stats = GenerationStats(prompt_tokens=len(tokens))
        self.last_prompt, self.last_stops = tokens, stops  # for benchmarks that replay the same request elsewhere
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
            stats.ran_out = True
        finally:
            stats.total_s = time.perf_counter() - t0
