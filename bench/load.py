"""Load test of the web app: N concurrent student sessions through ``gradio_client`` on loopback.

Starts the real app (``app.build_app`` + ``app.launch``) in this process on a free port with a fresh data
directory (the sample course), unless ``--url`` points at a running one. Each session is its own
``gradio_client.Client`` (its own Gradio session) and asks ``--questions`` questions in a row, the way a
student does. Baseline, measured in the same run: the same questions asked by ONE session, one after the
other. Reports p50 / p95 latency, throughput and errors, and the ratios against the baseline.

    python bench/load.py --sessions 20            # the figures in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TUTOR_CACHE_DIR", str(ROOT / ".cache" / "test-models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Our own questions about the sample course (worded unlike its FAQ, so most go through retrieval and
# generation rather than the FAQ shortcut).
QUESTIONS = [
    "Why would a tokenizer split a rare surname into several pieces?",
    "What does attention let each token do?",
    "How many numbers represent one token in SmolLM2-135M?",
    "Why is the Transformer faster to train than a recurrent network?",
    "What is the training objective of a language model during pretraining?",
    "Which matrices does LoRA add to the model, and why is that cheap?",
    "How is exact match different from F1 when scoring answers?",
    "Why does retrieval-augmented generation cite its sources?",
    "When are the office hours for this course?",
    "What happens to the vocabulary size when byte-pair encoding merges pairs?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def student(url: str, course: str, questions: list[str]) -> list[tuple[float, str | None]]:
    """One session asking its questions in turn; (seconds, error or None) per question."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    out = []
    for q in questions:
        started = time.perf_counter()
        try:
            chat, _question_box, notice = client.predict(q, course, api_name="/ask")
            last = chat[-1] if chat else {}
            content = last.get("content") if isinstance(last, dict) else None
            text = content if isinstance(content, str) else str(content or "")
            err = None if text.strip() and not notice and not text.startswith("⚠️") else f"bad answer: {notice or text[:80]}"
        except Exception as exc:  # noqa: BLE001 - counted as an error, the run goes on
            err = f"{type(exc).__name__}: {exc}"
        out.append((time.perf_counter() - started, err))
    client.close()
    return out


def run_phase(url: str, course: str, sessions: int, per_session: int) -> dict:
    plans = [[QUESTIONS[(s * per_session + i) % len(QUESTIONS)] for i in range(per_session)] for s in range(sessions)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        results = [r for rs in pool.map(lambda p: student(url, course, p), plans) for r in rs]
    wall = time.perf_counter() - started
    lat = [t for t, e in results if e is None]
    errors = [e for _, e in results if e is not None]
    return {
        "sessions": sessions, "requests": len(results), "answered": len(lat), "errors": len(errors),
        "error_samples": errors[:3], "wall_s": wall,
        "p50_s": percentile(lat, 50) if lat else float("nan"), "p95_s": percentile(lat, 95) if lat else float("nan"),
        "throughput_rpm": 60 * len(lat) / wall,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--questions", type=int, default=1, help="questions per session")
    p.add_argument("--baseline-questions", type=int, default=4, help="questions asked by the single baseline session")
    p.add_argument("--course", default="sample")
    p.add_argument("--concurrency", type=int, default=None, help="AppConfig.chat_concurrency (answers generated at once)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="EngineConfig.max_new_tokens for the run")
    p.add_argument("--url", default=None, help="a running app; default: start one here with a fresh data dir")
    a = p.parse_args()

    import app

    server = None
    url = a.url
    if url is None:
        config = app.AppConfig(data_dir=tempfile.mkdtemp(prefix="tutor-load-"))
        if a.concurrency:
            config.chat_concurrency = a.concurrency
        if a.max_new_tokens:
            config.engine_options = {"max_new_tokens": a.max_new_tokens}
        config.port = __import__("socket").create_server(("127.0.0.1", 0)).getsockname()[1]
        server = app.launch(config, block=False)
        url = f"http://127.0.0.1:{config.port}/"
    load_before = os.getloadavg()
    print(f"app at {url}; loadavg before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    student(url, a.course, QUESTIONS[:1])  # warm-up: first generation pays one-time costs
    base = run_phase(url, a.course, 1, a.baseline_questions)
    print(f"baseline (1 session, {base['requests']} questions in a row): p50 {base['p50_s']:.2f}s p95 {base['p95_s']:.2f}s "
          f"throughput {base['throughput_rpm']:.1f}/min errors {base['errors']}", flush=True)
    load = run_phase(url, a.course, a.sessions, a.questions)
    print(f"load ({load['sessions']} concurrent sessions, {load['requests']} questions): answered {load['answered']} "
          f"errors {load['errors']} p50 {load['p50_s']:.2f}s p95 {load['p95_s']:.2f}s throughput {load['throughput_rpm']:.1f}/min "
          f"wall {load['wall_s']:.1f}s", flush=True)
    if load["error_samples"]:
        print("error samples:", load["error_samples"])
    print(f"ratios vs baseline: throughput x{load['throughput_rpm'] / base['throughput_rpm']:.2f}, "
          f"p50 latency x{load['p50_s'] / base['p50_s']:.2f}, p95 latency x{load['p95_s'] / base['p95_s']:.2f}")
    la = os.getloadavg()
    print(f"loadavg after: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; cores: {os.cpu_count()}")
    print("command: python bench/load.py " + " ".join(sys.argv[1:]))
    if server is not None:
        server.close()
    sys.exit(1 if load["errors"] else 0)


if __name__ == "__main__":
    main()
