"""A cited PDF page as an image, with where the cited passage lies on it (pypdfium2).

Why locate the passage again on the page: the stored chunk is pypdf's text of the page, without positions. The
page's own text layer (pdfium's, one entry per character with its box) is matched against it, so the boxes
drawn are those of the characters the course printed. The two extractors differ in whitespace, line breaks and
ligatures, so both texts are compared NFKC-folded, case-folded and without whitespace: the passage is found
as one run when it is there whole, else as the aligned runs ``difflib`` finds (a hyphenated line end or a
character one extractor reads differently splits it, the rest still lights up). A page without a text layer
(a scan) or where too little of the passage is found says so instead of pretending.

Nothing here knows about the web: ``render_page`` returns a PNG and boxes in its pixels; the viewer draws them.
"""

from __future__ import annotations

import ctypes
import difflib
import io
import unicodedata
from dataclasses import dataclass, field

from basics.errors import TutorError


class PageError(TutorError):
    """A kept PDF cannot be drawn (damaged, or it has no such page): the viewer shows the text instead."""


@dataclass(frozen=True)
class PageView:
    """How a cited page is drawn and when a passage counts as found on it."""

    dpi: float = field(default=144.0, metadata={"help": "resolution of the page image (72 = the PDF's own points)"})
    max_side_px: int = field(default=2400, metadata={
        "help": "longest side of the page image in pixels: a poster-sized page is drawn smaller, not in gigabytes"})
    min_run: int = field(default=6, metadata={
        "help": "shortest aligned run of characters (whitespace left out) highlighted when the passage is not on "
                "the page whole: shorter ones match by chance"})
    located_share: float = field(default=0.5, metadata={
        "help": "share of the passage's characters that must be found on the page for it to count as located"})


Box = tuple[float, float, float, float]  # left, top, width, height in image pixels


@dataclass
class PageImage:
    """One page drawn: ``png`` of ``width`` x ``height`` pixels; ``boxes`` cover the passage (one per line
    piece); ``has_text``: the page has a text layer; ``located``: the share of the passage found on it."""

    png: bytes
    width: int
    height: int
    page: int
    pages: int
    boxes: list[Box] = field(default_factory=list)
    has_text: bool = True
    located: float = 0.0


def _folded(text: str, positions: list[int] | None = None) -> tuple[str, list[int]]:
    """``text`` NFKC- and case-folded without whitespace, and for each folded character the index of the
    character of ``text`` (or of ``positions``) it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if not c.isspace():
                out.append(c)
                where.append(positions[i] if positions is not None else i)
    return "".join(out), where


def passage_spans(page_text: str, passage: str, min_run: int) -> tuple[list[tuple[int, int]], float]:
    """Character ranges ``(first, last + 1)`` of ``page_text`` that hold ``passage``, and the share of the
    passage's characters they cover (0 to 1). See the module docstring for the matching."""
    page, where = _folded(page_text)
    wanted, _ = _folded(passage)
    if not page or not wanted:
        return [], 0.0
    at = page.find(wanted)
    if at >= 0:
        return [(where[at], where[at + len(wanted) - 1] + 1)], 1.0
    matcher = difflib.SequenceMatcher(None, page, wanted, autojunk=False)
    runs = [(a, size) for a, _, size in matcher.get_matching_blocks() if size >= min_run]
    spans: list[tuple[int, int]] = []
    for a, size in runs:
        first, last = where[a], where[a + size - 1] + 1
        if spans and first <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans, sum(size for _, size in runs) / len(wanted)


def render_page(data: bytes, page_number: int, passage: str, view: PageView = PageView()) -> PageImage:
    """Page ``page_number`` (1-based) of the PDF ``data`` as a PNG, with the boxes of ``passage`` on it.
    Raises ``PageError`` when the file cannot be read or has no such page."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PageError(f"the kept PDF cannot be read ({exc})") from None
    try:
        if not 1 <= page_number <= len(pdf):
            raise PageError(f"the PDF has {len(pdf)} pages, not a page {page_number}")
        page = pdf[page_number - 1]
        width_pt, height_pt = page.get_size()
        scale = min(view.dpi / 72, view.max_side_px / max(width_pt, height_pt, 1))
        image = page.render(scale=scale).to_pil()
        textpage = page.get_textpage()
        count = textpage.count_chars()
        # One character per index (``get_text_range`` may merge or drop some), so spans map back to boxes.
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i) or 0xFFFD) for i in range(count))
        spans, located = passage_spans(text, passage, view.min_run)
        boxes = []
        for first, last in spans:
            for i in range(textpage.count_rects(first, last - first)):
                boxes.append(_to_pixels(pdfium_c, page, textpage.get_rect(i), image.size))
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return PageImage(out.getvalue(), image.width, image.height, page_number, len(pdf), boxes,
                         has_text=count > 0, located=located)
    finally:
        pdf.close()


def _to_pixels(pdfium_c, page, rect: tuple[float, float, float, float], size: tuple[int, int]) -> Box:
    """A text rectangle in PDF points (left, bottom, right, top) -> (left, top, width, height) in the image's
    pixels, through pdfium's own page-to-device mapping: the crop box and a rotated page come out right."""
    left, bottom, right, top = rect
    corners = []
    for x, y in ((left, top), (right, bottom)):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        corners.append((dx.value, dy.value))
    (x0, y0), (x1, y1) = corners
    return float(min(x0, x1)), float(min(y0, y1)), float(abs(x1 - x0)), float(abs(y1 - y0))
