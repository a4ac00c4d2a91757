"""The llama.cpp backend (LlamaCppGenerator, tutor/runtime/generators/llamacpp.py) on the real bundled GGUFs, the
backend choice (tutor/runtime/backends.py) and the fair queue that makes waiting visible (tutor/runtime/generators/base.py)."""

from __future__ import annotations

import threading
import time

import pytest

from tutor.runtime.backends import pick_backend
from basics.errors import ConfigError, ModelError
from tutor.runtime.generators.base import FairQueue, QueueWait
from tutor.runtime.generators.llamacpp import LlamaCppConfig, LlamaCppGenerator
from tutor.runtime.models import PRESETS

from conftest import MODEL_CACHE

MESSAGES = [{"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def small():
    path = PRESETS["qwen2.5-0.5b-instruct"].gguf_path(MODEL_CACHE)
    return LlamaCppGenerator(str(path), "qwen2.5-0.5b-instruct", config=LlamaCppConfig(n_ctx=1024))


def test_backend_choice():
    assert pick_backend("auto", "qwen2.5-1.5b-instruct", "cpu") == "llamacpp"
    assert pick_backend("auto", "/models/x.gguf", "cpu") == "llamacpp"
    assert pick_backend("auto", "/models/hf-dir", "cpu") == "transformers"
    assert pick_backend("transformers", "qwen2.5-1.5b-instruct", "cpu") == "transformers"
    with pytest.raises(ConfigError, match="Unknown backend"):
        pick_backend("onnx", "x", "cpu")


@pytest.mark.slow
def test_streams_greedy_repeatably_with_the_gguf_chat_template(small):
    prompt = small.formatter(messages=MESSAGES).prompt
    assert "<|im_start|>system" in prompt and prompt.endswith("<|im_start|>assistant\n")  # the GGUF's own template
    first = list(small.stream(MESSAGES, max_new_tokens=24))
    assert len(first) > 1 and "Paris" in "".join(first)
    assert "".join(small.stream(MESSAGES, max_new_tokens=24)) == "".join(first)  # greedy and seeded
    stats = small.last_stats
    assert stats.prompt_tokens == len(small.encode(MESSAGES)) and 0 < stats.new_tokens <= 24
    assert small.tokenizer.decode(small.tokenizer.encode("B214 room")) == "B214 room"


@pytest.mark.slow
def test_stop_strings_and_token_limit(small):
    full = "".join(small.stream(MESSAGES, max_new_tokens=24))
    word = full.split()[1]
    cut = "".join(small.stream(MESSAGES, max_new_tokens=24, stop=(word,)))
    assert word not in cut and full.startswith(cut)
    assert small.last_stats.new_tokens <= 3 or len(cut) < len(full)
    one = list(small.stream(MESSAGES, max_new_tokens=1))
    assert small.last_stats.new_tokens == 1 and len("".join(one)) < len(full)


@pytest.mark.slow
def test_prompt_longer_than_the_window_is_a_clear_error(small):
    long = [{"role": "user", "content": "word " * 1200}]
    with pytest.raises(ModelError, match="window of 1024"):
        list(small.stream(long, max_new_tokens=32))
    assert small.queue.waiting == 0  # the refused request never took a turn


def test_a_file_that_is_not_a_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelError, match=r"could not load .*model\.gguf"):
        LlamaCppGenerator(str(bad), "broken")


def test_fair_queue_serves_in_arrival_order_and_tells_the_wait():
    queue = FairQueue(poll_s=0.05)
    served: list[int] = []
    seen_ahead: dict[int, list[int]] = {}
    gate = threading.Event()

    def worker(i: int):
        seen_ahead[i] = [ahead for ahead in queue.turn()]
        served.append(i)
        if i == 0:
            gate.wait(2)  # the first holds the model while the others line up
        queue.done()

    threads = []
    for i in range(4):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.1)  # arrive in order
    assert queue.waiting == 4
    gate.set()
    for t in threads:
        t.join(5)
    assert served == [0, 1, 2, 3]
    assert seen_ahead[0] == [] and seen_ahead[3][0] == 3  # told "3 ahead" on arrival, then fewer
    assert seen_ahead[3] == sorted(seen_ahead[3], reverse=True)
    assert queue.waiting == 0


def test_a_caller_that_leaves_the_line_does_not_block_the_others():
    queue = FairQueue(poll_s=0.05)
    list(queue.turn())  # first caller holds the model
    leaver = queue.turn()
    assert next(leaver) == 1
    leaver.close()  # the student closed the tab while waiting
    third = queue.turn()
    assert next(third) == 2
    queue.done()  # the first caller finishes: the leaver's turn passes straight on
    started = time.time()
    rest = list(third)  # returns once it is the third caller's turn
    assert time.time() - started < 2 and all(ahead in (1, 2) for ahead in rest)
    assert queue.waiting == 1  # only the third is left, and it is being served
    queue.done()
    assert queue.waiting == 0
    assert isinstance(QueueWait(2), str) and QueueWait(2) == "" and QueueWait(2).ahead == 2


@pytest.mark.slow
def test_a_gguf_without_a_chat_template_is_refused_unless_the_preset_brings_one():
    gemma = PRESETS["gemma3-270m"]  # a base model: its GGUF carries no chat template
    path = str(gemma.gguf_path(MODEL_CACHE))
    with pytest.raises(ModelError, match="not a chat model"):
        LlamaCppGenerator(path, "some-base.gguf")
    gen = LlamaCppGenerator(path, gemma.name, chat_template=gemma.chat_template, stops=gemma.stop,
                            config=LlamaCppConfig(n_ctx=512))
    assert gen.formatter(messages=MESSAGES).prompt.startswith("<bos>")  # our plain format, BOS first
    assert "".join(gen.stream(MESSAGES, max_new_tokens=8)).strip()


@pytest.mark.slow
def test_choose_reads_the_first_token_odds_and_leaves_the_cache_usable(small):
    """``choose`` (the support judge's yes/no) is one forward pass over the new tokens; the next generation
    after it gives the same text as before it, so the judge never disturbs an answer."""
    before = "".join(small.stream(MESSAGES, max_new_tokens=16))
    ask = MESSAGES[:1] + [{"role": "user", "content": "Is Paris the capital of France? Answer yes or no."}]
    odds = small.choose(ask, ("yes", "no"))
    assert set(odds) == {"yes", "no"} and abs(sum(odds.values()) - 1) < 1e-6 and odds["yes"] > 0.6
    wrong = MESSAGES[:1] + [{"role": "user", "content": "Is the sun cold? Answer yes or no."}]
    assert small.choose(wrong, ("yes", "no"))["no"] > 0.5  # "No" as the model writes it: every case counts
    assert "".join(small.stream(MESSAGES, max_new_tokens=16)) == before


@pytest.mark.slow
def test_the_machine_is_measured_once_and_a_slow_one_is_named_in_the_log(small, tmp_path, caplog):
    """At first start the app times one short prompt on the loaded model and estimates a typical answer
    (tutor/runtime/machine.py); the figure is kept in the cache, so the next start reads it instead of measuring.
    Where the estimate is over the target the log warns and names the faster preset; nothing is changed."""
    import logging

    from tutor.runtime.machine import SPEED_FILE, SpeedCheck, check_machine

    with caplog.at_level(logging.INFO, logger="tutor.runtime.machine"):
        speed = check_machine(small, "qwen2.5-1.5b-instruct", tmp_path, SpeedCheck(target_s=1e6))
    assert speed is not None and speed.prefill_tps > 0 and speed.decode_tps > 0 and speed.model == "qwen2.5-1.5b-instruct"
    assert 80 <= small.last_stats.prompt_tokens <= 320  # the probe is about the size asked for
    assert (tmp_path / SPEED_FILE).is_file() and not any(r.levelno >= logging.WARNING for r in caplog.records)
    caplog.clear()

    class Untouched:  # the kept figure is read back: a second start never runs the model
        last_stats = small.last_stats

        def stream(self, *args, **kwargs):
            raise AssertionError("measured twice")

    with caplog.at_level(logging.INFO, logger="tutor.runtime.machine"):
        again = check_machine(Untouched(), "qwen2.5-1.5b-instruct", tmp_path, SpeedCheck(target_s=1e-3))
    assert again == speed
    assert any(r.levelno == logging.WARNING and "qwen2.5-0.5b-instruct" in r.getMessage() for r in caplog.records)
