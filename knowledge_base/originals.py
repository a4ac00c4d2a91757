"""``Originals``: the files of documents kept as they were added, so a citation can show the page it cites.

Why keep them: the database holds a PDF's text, but a student who opens a citation should see the page as the
course printed it (figures, formulas, layout), and the file an instructor uploaded is a temporary copy that is
gone after the upload. Only the formats the source viewer draws are kept (``KBConfig.keep_originals``: PDF);
Markdown, HTML, TXT and DOCX are shown from their stored chunks.

A file is named by its document's integer id only (``DIR/<id>.original``), never by a name or path that came
from outside, and it is written after the document's transaction commits, replaced when the document is
replaced and removed when it is deleted. ``read`` returns the bytes only when their SHA-256 is the document's
recorded hash: a file left behind by a crash, an id SQLite reused, or a copy changed on disk reads as "not
kept" rather than showing another document's page.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Originals:
    """The kept files of one knowledge base, in ``folder`` (``Paths.originals_dir``)."""

    folder: Path

    def path(self, doc_id: int) -> Path:
        """Where document ``doc_id``'s file is kept (``int`` first: nothing else can become part of the name)."""
        return self.folder / f"{int(doc_id)}.original"

    def keep(self, doc_id: int, data: bytes) -> bool:
        """Write the document's bytes atomically (a reader sees the old file or the new one, never half of
        one). False, with a warning, when the disk refuses: the document is still searchable and cited, only
        its page cannot be shown."""
        target = self.path(doc_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".keep-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("the original of document %d was not kept (%s): its citations show the text only", doc_id, exc)
            return False
        return True

    def read(self, doc_id: int, digest: str) -> bytes | None:
        """The kept bytes of document ``doc_id`` when their SHA-256 is ``digest`` (the document's recorded hash),
        else None: never kept (added before originals were kept, a format not kept), or not this content."""
        try:
            data = self.path(doc_id).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            log.warning("the kept original of document %d does not match its hash; it is not shown", doc_id)
            return None
        return data

    def drop(self, doc_id: int) -> None:
        """Remove document ``doc_id``'s file (deleted, or replaced by content that is not kept)."""
        try:
            self.path(doc_id).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("the original of document %d could not be removed: %s", doc_id, exc)
