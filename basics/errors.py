"""One small hierarchy of errors whose messages a user can act on.

Every message names the file, row or setting at fault and what to do about it. The CLI prints
``TutorError`` messages without a traceback; the web app shows them in the page.
"""

from __future__ import annotations


class TutorError(Exception):
    """Base class: an error meant to be shown to the user as is."""


class ConfigError(TutorError):
    """A setting (flag, environment variable, config value) is missing or invalid."""


class IngestError(TutorError):
    """A document could not be added to the knowledge base. ``path`` names it."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FAQFormatError(TutorError):
    """An FAQ file has problems. ``problems`` lists ``(row, message)`` pairs (row 0 = whole file)."""

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {len(problems)} problem(s)"]
        for row, msg in problems[:50]:
            lines.append(f"  row {row}: {msg}" if row else f"  {msg}")
        if len(problems) > 50:
            lines.append(f"  ... and {len(problems) - 50} more")
        super().__init__("\n".join(lines))


class ModelError(TutorError):
    """A model, adapter or remote endpoint could not be loaded or reached."""


class QuestionError(TutorError):
    """A student's question is empty, oversized or otherwise unusable."""


class EmbedderMismatchError(ConfigError):
    """A course's vectors were made by another embedder than the one configured: they cannot be mixed."""

    def __init__(self, course: str, stored: str, dim: int | None, configured: str):
        self.course, self.stored, self.configured = course, stored, configured
        super().__init__(
            f"Course {course!r} was indexed with the embedder {stored!r}"
            f"{f' ({dim} dimensions)' if dim else ''}, but this knowledge base uses {configured!r}; vectors of two "
            f"embedders cannot be searched together. Re-embed the course with `tutor kb reindex --course {course}` "
            f"(keeps its documents and FAQ), or use --embedder {stored} to keep the old index."
        )
