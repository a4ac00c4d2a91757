"""The transformers backend: a ``LoadedModel`` decoded in this process, with CPU speed-ups by name.

``LocalGenerator`` runs a ``LoadedModel`` (``tutor/runtime/models.py``) with a plain decode loop (prefill once,
then one token at a time through the KV cache). A hand-written loop rather than ``model.generate`` in a
thread: it is short, needs no streamer thread, applies our stop strings on text, and lets the benchmark
time the first token exactly. A ``FairQueue`` serialises generation because Gradio calls from several
threads and one CPU model cannot usefully run two decodes at once.

This is the backend for HF directories and ids, CUDA, and models fresh from training (a peft adapter
applied in torch); ``optimize`` (auto / none / bf16 / int8 / int4) picks a CPU speed-up, measured in
docs/benchmarks.md, section Generation.
"""

from __future__ import annotations

import inspect
import time
from typing import TYPE_CHECKING, Iterator

from basics.errors import ConfigError
from basics.hardware import cpu_supports_bf16
from tutor.runtime.generators.base import FairQueue, GenerationStats

if TYPE_CHECKING:
    import torch

    from tutor.runtime.models import LoadedModel

OPTIMIZATIONS = ("auto", "none", "bf16", "int8", "int4")


def resolve_optimize(optimize: str, device: str) -> str:
    """``auto`` -> ``bf16`` on a CPU with native bf16, else ``none``; other names pass through (validated)."""
    if optimize not in OPTIMIZATIONS:
        raise ConfigError(f"Unknown optimize={optimize!r}: use one of {', '.join(OPTIMIZATIONS)}.")
    if optimize == "auto":
        return "bf16" if device.startswith("cpu") and cpu_supports_bf16() else "none"
    return optimize


def _holdback(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters of ``text`` could be the start of a stop string (must not be shown yet)."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop), len(text)), 0, -1):
            if text.endswith(stop[:n]):
                keep = max(keep, n)
                break
    return keep


def optimize_model(model: "torch.nn.Module", optimize: str, device: str) -> "torch.nn.Module":
    """Apply a CPU speed-up by name (measured in docs/benchmarks.md, section Generation).

    ``bf16``: cast weights to bfloat16 (fast where the CPU has AVX512-BF16/AMX, slow elsewhere).
    ``int8``: dynamic int8 quantization of every ``nn.Linear`` (weights int8, activations quantized on
    the fly); CPU only, inference only. ``int4``: 4-bit weight-only groups (``tutor/runtime/int4.py``), the
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
        from tutor.runtime.int4 import quantize_int4

        return quantize_int4(model)
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class LocalGenerator:
    """Streams from a ``LoadedModel`` with greedy (temperature 0) or sampled decoding."""

    def __init__(self, loaded: "LoadedModel", optimize: str = "none", repetition_penalty: float = 1.1, seed: int = 0):
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

    def encode(self, messages: list[dict]) -> "torch.Tensor":
        """Chat messages -> input ids (1, T) with the model's (or our) chat template."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
        return ids["input_ids"].to(self.device)

    def stream(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, stop: tuple[str, ...] = ()) -> Iterator[str]:
        """Yield text deltas; stops at EOS, a stop string (the preset's and ``stop``), or ``max_new_tokens``."""
        stops = tuple(dict.fromkeys(self.stops + tuple(stop)))
        yield from self.queue.serve(self._decode(messages, max_new_tokens, temperature, stops))

    def _decode(self, messages: list[dict], max_new_tokens: int, temperature: float, stops: tuple[str, ...]) -> Iterator[str]:
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
