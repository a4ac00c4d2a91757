"""What the web app holds while it runs, apart from the page: the engine every session shares
(``ActiveEngine``, swapped when the instructor picks another adapter) and long console work run in a
thread whose progress the page streams (``BackgroundJob``)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Callable, Generic, Iterator, TypeVar

if TYPE_CHECKING:
    from tutor.engine import TutorEngine

log = logging.getLogger(__name__)

T = TypeVar("T")
ProgressFn = Callable[[dict], None]


class ActiveEngine:
    """The engine (and so the model) shared by every session, created once. Picking another adapter swaps
    it for all sessions at once; an answer already streaming finishes on the engine it started with."""

    def __init__(self, factory: Callable[[str | None], "TutorEngine"], engine: "TutorEngine | None" = None,
                 adapter: str | None = None):
        self._factory = factory
        self._lock = threading.Lock()
        self._engine = engine or factory(adapter)
        self._adapter = adapter

    @property
    def engine(self) -> "TutorEngine":
        return self._engine

    @property
    def adapter(self) -> str | None:
        return self._adapter

    def use_adapter(self, adapter: str | None) -> "TutorEngine":
        """Build and load an engine for ``adapter`` (None: the base model), then make it the active one. The
        model loads here, so a missing or broken adapter raises its ``TutorError`` to the instructor, not to
        a student, and the engine in use stays."""
        with self._lock:
            new = self._factory(adapter)
            new.generator  # noqa: B018 - loads the model now
            self._engine, self._adapter = new, adapter
            return new

    def install(self, engine: "TutorEngine", adapter: str | None = None) -> "TutorEngine":
        """Make a ready ``engine`` the active one (e.g. one built around another generator); returns the
        previous engine, so the caller can put it back."""
        with self._lock:
            previous = self._engine
            self._engine, self._adapter = engine, adapter
            return previous


class BackgroundJob(Generic[T]):
    """``work(progress)`` run in a daemon thread: the page's generator reads its progress events while it
    runs (a Gradio handler must keep yielding to stream them), then ``result`` or ``error``."""

    def __init__(self, work: Callable[[ProgressFn], T], name: str):
        self._work = work
        self._events: queue.Queue[dict] = queue.Queue()
        self.result: T | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._work(self._events.put)
        except Exception as exc:  # noqa: BLE001 - handed to the page, which shows it
            log.exception("%s failed", self._thread.name)
            self.error = exc

    def events(self, poll_s: float = 0.5) -> Iterator[dict | None]:
        """Each progress event as it arrives, and None after ``poll_s`` without one (the page refreshes
        anyway); ends once the work has ended and every event was handed out."""
        while self._thread.is_alive() or not self._events.empty():
            try:
                yield self._events.get(timeout=poll_s)
            except queue.Empty:
                yield None
