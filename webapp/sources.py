"""The source viewer: ``GET …/tutor/source/<chunk key>`` shows a citation's passage where the course has it.

Each citation in the chat links here (``render.source_link``). For a PDF the page is drawn (pypdfium2, from the
file kept at ingest) with the passage's lines highlighted over it; Markdown, HTML, TXT and DOCX show the
passage's section with the passage marked. The link opens in a new tab, so the conversation stays where it was.

What it may serve, and how: a path segment that is not a chunk key (16 hex digits) is refused before anything
is looked up, so a name, a path or ``..`` never reaches the knowledge base or the disk; a key selects stored
chunk rows only, and the one file ever read is the kept original named by their document's integer id and
checked against its hash (``knowledge_base/originals.py``). A passage is served when its course is one the
student page offers (a published course: ``StudentChat.offered``), and nothing that is not in the knowledge base.
A key whose document was deleted or replaced, or whose course is not offered, is a 404 page that says so.

The page is built here as a whole document: every text from a document or a course is HTML-escaped, the page
image is inline (a ``data:`` URI in an SVG whose rectangles are the highlights), and the response forbids
everything else: a Content-Security-Policy with no script source at all, images from ``data:`` only, the one
stylesheet by its hash; ``nosniff``; no referrer; no framing; not cached (a deleted document's page must go).

A pure ASGI middleware in front of Gradio, as ``guard.BrowserKeyMiddleware`` is, and for the same reason: it
answers one plain route without buffering the app's event streams. Drawing a page takes ~0.1-0.3 s of CPU, so it
runs in a worker thread, at most ``SourceViewer.concurrent`` at a time, and never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from knowledge_base.pdf_pages import PageError, PageImage, PageView, render_page
from knowledge_base.sources import CitedPassage, is_key

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

SOURCE_PATH = "tutor/source/"  # the route, relative: a link resolves under wherever the app is served
_ROUTE = re.compile(r"(?:/.*)?/" + re.escape(SOURCE_PATH) + r"([^/]*)")

NOT_A_KEY = ("This is not a source link: a passage is named by 16 letters and digits (0-9, a-f). "
             "Open a source from a citation under an answer.")
GONE = ("This passage is no longer in the course: the document it came from was deleted or replaced after the "
        "answer was given. Ask the question again to get the current source.")
NOT_OFFERED = "This passage belongs to a course that is not open to students now (it is not published)."
NOT_KEPT = ("The PDF of this document was not kept (it was added before the tutor kept files, or its file is "
            "gone), so its page cannot be shown; adding the same PDF again brings the page back. The passage as "
            "the course holds it:")
NO_TEXT_LAYER = ("This page has no text layer (a scanned page?), so the passage cannot be marked on it. The "
                 "passage as the course holds it is below the page.")
NOT_LOCATED = ("The passage could not be located on this page (its text layer differs from the text the course "
               "holds). The passage as the course holds it is below the page.")

CSS = """body{font-family:system-ui,sans-serif;max-width:960px;margin:1.5em auto;padding:0 1em;color:#1f2328}
h1{font-size:1.4em;margin:.2em 0}.where{color:#57606a;margin:.2em 0 1em}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.6em .8em}
svg.page{width:100%;height:auto;border:1px solid #d0d7de;box-shadow:0 1px 4px rgba(0,0,0,.15)}
rect.passage{fill:#ffd33d;fill-opacity:.4;stroke:#bf8700;stroke-width:1}
.section,blockquote{white-space:pre-wrap;line-height:1.5}
blockquote{border-left:4px solid #6c8ebf;margin:1em 0;padding:.2em 1em;background:#f6f8fa}
mark{background:#ffd33d;padding:0 .1em}"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (f"default-src 'none'; img-src data:; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"x-content-type-options", b"nosniff"),
           (b"content-security-policy", CSP.encode()), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]


@dataclass
class SourcePage:
    """What the route answers: an HTTP status and a whole HTML page."""

    status: int
    html: str
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # highlights drawn (PDF)


def _e(text: object) -> str:
    """``text`` safe inside HTML text and quoted attributes (every text from a document or a course)."""
    return html.escape(str(text if text is not None else ""), quote=True)


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>")


def message_page(status: int, text: str) -> SourcePage:
    """A page that only says why there is no source to show."""
    return SourcePage(status, _document("Source not available", f"<h1>Source not available</h1><p class='note'>{_e(text)}</p>"))


def source_page(kb: "KnowledgeBase", key: str, view: PageView = PageView(),
                offered: Callable[[], set[str]] | None = None) -> SourcePage:
    """The page for chunk key ``key``: 400 when it is not shaped like one, 404 when no chunk has it or its course
    is not among ``offered()`` (the courses the student page offers; None: every course), else 200 with the
    passage in its place (see the module docstring)."""
    if not is_key(key):
        return message_page(400, NOT_A_KEY)
    passage = kb.cited_passage(key)
    if passage is None:
        return message_page(404, GONE)
    if offered is not None and passage.course not in offered():
        return message_page(404, NOT_OFFERED)
    return passage_page(passage, kb.course_titles().get(passage.course, passage.course), view)


def passage_page(passage: CitedPassage, course_title: str, view: PageView = PageView()) -> SourcePage:
    """A found passage: a PDF's page drawn with the passage highlighted, else its section with the passage
    marked; under the course called ``course_title``."""

    def heading(where: str) -> str:
        return (f"<h1>{_e(passage.title or passage.document)}</h1>"
                f"<p class='where'>{_e(passage.document)} · {_e(where)} · course: {_e(course_title)}</p>")

    if passage.paged:
        return _pdf_page(passage, heading, view)
    start, end, context = passage.mark_start, passage.mark_end, passage.context
    body = (heading(passage.section or "the whole text") + f"<article class='section'>{_e(context[:start])}"
            f"<mark id='passage'>{_e(context[start:end])}</mark>{_e(context[end:])}</article>")
    return SourcePage(200, _document(passage.title or passage.document, body))


def _pdf_page(passage: CitedPassage, heading: Callable[[str], str], view: PageView) -> SourcePage:
    """A PDF passage: its page drawn with the highlights, then the passage as text; a note when the page cannot
    be drawn, has no text layer, or does not hold the passage recognisably."""
    title = f"{passage.title or passage.document}, page {passage.page}"
    quoted = f"<h2>The cited passage</h2><blockquote>{_e(passage.text)}</blockquote>"
    if passage.original is None:
        body = heading(f"page {passage.page}") + f"<p class='note'>{_e(NOT_KEPT)}</p>" + quoted
        return SourcePage(200, _document(title, body))
    try:
        image = _render(passage, view)
    except PageError as exc:
        note = f"The page could not be drawn: {exc}. The passage as the course holds it:"
        body = heading(f"page {passage.page}") + f"<p class='note'>{_e(note)}</p>" + quoted
        return SourcePage(200, _document(title, body))
    located = image.has_text and image.located >= view.located_share and bool(image.boxes)
    boxes = image.boxes if located else []
    note = "" if located else f"<p class='note'>{_e(NOT_LOCATED if image.has_text else NO_TEXT_LAYER)}</p>"
    anchor = [" id='passage'"] + [""] * len(boxes)  # the link's #passage scrolls to the first highlight
    rects = "".join(f"<rect class='passage'{anchor[i]} x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{h:.1f}'/>"
                    for i, (x, y, w, h) in enumerate(boxes))
    label = f"Page {image.page} of {image.pages} of {passage.document}" + (", the cited passage highlighted" if boxes else "")
    svg = (f"<svg class='page' viewBox='0 0 {image.width} {image.height}' role='img' aria-label='{_e(label)}'>"
           f"<image href='data:image/png;base64,{base64.b64encode(image.png).decode()}' width='{image.width}' "
           f"height='{image.height}'/>{rects}</svg>")
    body = heading(f"page {image.page} of {image.pages}") + note + svg + quoted
    return SourcePage(200, _document(title, body), boxes)


_DRAWING = threading.BoundedSemaphore(2)  # pages drawn at once (CPU-bound; the rest wait their turn)


def _render(passage: CitedPassage, view: PageView) -> PageImage:
    with _DRAWING:
        return render_page(passage.original, passage.page, passage.text, view)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class SourceViewer:
    """ASGI middleware: answers ``…/tutor/source/<key>`` (GET or HEAD) with ``source_page``; passes every other
    request to ``app``. ``offered``: the courses students may see (the app passes ``StudentChat.offered``, so a
    passage is served exactly when its course is in the student's picker); None: every course."""

    def __init__(self, app: Callable, kb: "KnowledgeBase", view: PageView = PageView(),
                 offered: Callable[[], set[str]] | None = None):
        self.app, self.kb, self.view, self.offered = app, kb, view, offered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ROUTE.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            page = message_page(405, "A source is only read (GET).")
        else:
            import anyio.to_thread

            page = await anyio.to_thread.run_sync(self._page, match.group(1))
        data = page.html.encode("utf-8")
        headers = HEADERS + [(b"content-length", str(len(data)).encode())]
        if page.status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": page.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else data})

    def _page(self, key: str) -> SourcePage:
        try:
            return source_page(self.kb, key, self.view, self.offered)
        except Exception:  # a bug must not leave the student with a bare 500: say so, log the trace
            log.exception("the source page of %r failed", key)
            return message_page(500, "This source could not be shown because of an error on the server; the "
                                     "error is logged. The answer's quoted snippet still shows the passage.")
