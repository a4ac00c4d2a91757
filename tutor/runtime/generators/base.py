"""What every generator backend shares: the ``Generator`` protocol, ``GenerationStats``, and fair turns.

All backends take chat messages and yield text deltas, so the engine does not care where tokens come from.
Adding a backend is writing a class that meets ``Generator`` and registering a factory for it in
``tutor/runtime/backends.py``.

One CPU model serves one answer at a time; the local backends take turns through a ``FairQueue`` (first
come, first served) and, while a request waits, yield ``QueueWait`` deltas: empty strings that carry how
many requests are ahead, so the chat can say "2 questions ahead of yours" instead of looking frozen.
These live here, not with one backend, because every in-process backend needs them and the engine and
the app read ``QueueWait``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol


class Generator(Protocol):
    """What the engine needs from a backend."""

    name: str
    tokenizer: object | None  # for prompt budgets; None: the prompt builder estimates

    def stream(self, messages: list[dict], max_new_tokens: int, temperature: float, stop: tuple[str, ...] = ()) -> Iterator[str]: ...


def choose(generator: Generator, messages: list[dict], options: tuple[str, ...]) -> dict[str, float]:
    """Which of ``options`` the model replies with, as probabilities: the backend's own ``choose`` where it
    has one (llama.cpp reads the first token's logits), else one greedy reply of a few tokens, scored 1.0
    for the option it starts with (a remote server, transformers)."""
    own = getattr(generator, "choose", None)
    if own is not None:
        return own(messages, options)
    reply = "".join(generator.stream(messages, 3, 0.0)).strip().lower()
    picked = next((o for o in options if reply.startswith(o.lower())), None)
    return {o: float(o == picked) for o in options}


@dataclass
class GenerationStats:
    """Filled while a stream runs; read after it ends (benchmarks, timings)."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    first_token_s: float | None = None  # from the call to the first yielded text
    total_s: float = 0.0
    # True when the model ended the answer (end of turn, stop string, max tokens); False when the caller
    # closed the stream early (the answer check failed): then the last decode step was never run, which a
    # benchmark comparing decode speed must mirror.
    ran_out: bool = False

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
