"""Can this machine answer in time with this model? One short measurement at first start, remembered.

A 2-core CPU prefills the default 1.5B model at 40-140 prompt tokens/s depending on its generation and its
vector instructions (AVX2 or AVX-512): the same default answers in ~4 s on one machine and ~13 s on another
(docs/benchmarks.md). A user cannot know which before students complain, so the app measures once, on the
loaded model: one prompt of ~``probe_tokens`` tokens and a few decoded tokens, from which it estimates the time
of a typical answer (``typical_prompt_tokens`` new prompt tokens, ``typical_answer_tokens`` decoded). Where
that is over ``target_s`` the log says so and names the faster preset; the model is never changed silently.
The figure is kept in the cache (``machine-speed.json``), keyed by CPU, model and thread count, so later
starts cost nothing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SPEED_FILE = "machine-speed.json"
FASTER = {"qwen2.5-1.5b-instruct": "qwen2.5-0.5b-instruct"}  # a preset -> the one that answers faster on a CPU
# Filler of the probe prompt: ordinary course prose, so the token count per word is typical.
_PROBE = ("The course covers tokenization, embeddings, attention, the Transformer, pretraining, fine-tuning with "
          "LoRA, evaluation and retrieval. ")


@dataclass(frozen=True)
class SpeedCheck:
    """What is measured and what counts as fast enough. The typical counts are the regression set's p50
    (docs/benchmarks.md: ~440 new prompt tokens, answers of one to three sentences)."""

    probe_tokens: int = 160
    probe_new_tokens: int = 12
    typical_prompt_tokens: int = 440
    typical_answer_tokens: int = 60
    target_s: float = 6.0


@dataclass(frozen=True)
class MachineSpeed:
    """One measurement: prefill and decode tokens per second of ``model`` on ``cpu``."""

    cpu: str
    model: str
    threads: int
    prefill_tps: float
    decode_tps: float
    measured: str  # ISO date

    def answer_s(self, check: SpeedCheck = SpeedCheck()) -> float:
        """Estimated seconds of a typical answer: its new prompt tokens, then its decoded ones."""
        return check.typical_prompt_tokens / self.prefill_tps + check.typical_answer_tokens / max(self.decode_tps, 1e-9)


def cpu_name() -> str:
    """The CPU's model name and its widest vector instructions, as /proc/cpuinfo gives them."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown CPU")
    return f"{name} ({'AVX-512' if ' avx512f' in info else 'AVX2' if ' avx2' in info else 'no AVX2'})"


def measure(generator, model: str, check: SpeedCheck = SpeedCheck()) -> MachineSpeed:
    """Prefill and decode speed of ``generator`` now. The probe starts with the time, so no cached prompt of
    the backend (llama.cpp keeps the last one) shortens the prefill being measured."""
    # A first call right after loading reads the weights from disk (llama.cpp maps the file): it measured prefill
    # at 14 tokens/s on a machine that does ~60. One token of warm-up first, then the timed probe.
    for _ in generator.stream([{"role": "user", "content": "Hi"}], 1, 0.0):
        pass
    words = check.probe_tokens * 3 // 4  # ~1.3 tokens a word of English prose
    filler = " ".join((_PROBE * (words // len(_PROBE.split()) + 1)).split()[:words])
    messages = [{"role": "user", "content": f"[{time.time_ns()}] {filler}\nSay OK."}]
    for _ in generator.stream(messages, check.probe_new_tokens, 0.0):
        pass
    stats = generator.last_stats
    prefill = stats.prompt_tokens / max(stats.first_token_s or stats.total_s, 1e-9)
    return MachineSpeed(cpu_name(), model, os.cpu_count() or 1, round(prefill, 1),
                        round(stats.decode_tokens_per_s, 1), time.strftime("%Y-%m-%d"))


def check_machine(generator, model: str, cache_dir: Path, check: SpeedCheck = SpeedCheck()) -> MachineSpeed | None:
    """The machine's speed with ``model`` (measured once, then read from ``cache_dir``), logged; a warning
    naming the faster preset where a typical answer would take over ``check.target_s``. None for a backend
    that does not compute here (a remote server) or reports no timings."""
    if getattr(generator, "last_stats", None) is None or not getattr(generator, "runs_here", True):
        return None
    path = Path(cache_dir) / SPEED_FILE
    key = f"{cpu_name()} | {model} | {os.cpu_count()} threads"
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}  # a damaged file is measured again, not an error at start
    if key in known:
        speed = MachineSpeed(**known[key])
    else:
        speed = measure(generator, model, check)
        if speed.prefill_tps <= 0:
            return None
        known[key] = asdict(speed)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=2), encoding="utf-8")
        except OSError as exc:
            log.info("could not keep the machine's speed in %s: %s", path, exc)
    seconds = speed.answer_s(check)
    log.info("%s on %s: prefill %.0f tokens/s, decode %.1f tokens/s, a typical answer ~%.1f s",
             model, speed.cpu, speed.prefill_tps, speed.decode_tps, seconds)
    if seconds > check.target_s:
        faster = FASTER.get(model)
        log.warning("%s needs ~%.0f s for a typical answer on this machine (%s, %d threads); %s", model, seconds,
                    speed.cpu, speed.threads, f"--model {faster} answers about 2.5x faster (less accurately)"
                    if faster else "a smaller model or a GPU server (--remote-url) answers faster")
    return speed
