"""Documents on disk -> ``LoadedDocument``: plain text plus the structure chunking needs.

Every loader returns *blocks* (heading path, page, text); ``assemble`` joins them into one text and records
each block's character span, so a chunk's ``start``/``end`` always index into ``LoadedDocument.text``.
Loaders are a registry keyed by file suffix: adding a format is adding one entry to ``LOADERS``.

Bad files raise ``IngestError(path, reason)`` with a reason the instructor can act on (empty, binary,
corrupt, no extractable text); nothing here writes to the store, so a failure never touches stored data.

A file is read once: ``read_document_bytes`` checks it and returns its bytes, and each loader takes those
bytes (``load_document(path, data=...)``), so the content hash the store records is the hash of exactly
what was parsed. ``read_text`` is the one text decoder of the package: FAQ files are decoded by it too.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from basics.errors import IngestError

log = logging.getLogger(__name__)

HEADING_SEP = " > "


@dataclass
class Section:
    """A span of ``LoadedDocument.text`` under one heading path (Markdown/HTML/DOCX) or on one PDF page."""

    start: int
    end: int
    heading: str | None = None
    page: int | None = None


@dataclass
class LoadedDocument:
    """A parsed document. ``original``: the file's bytes it was parsed from (set by ingest's ``file_source``; None
    for an in-memory text), for ingest to keep where the source viewer needs them (PDF pages)."""

    path: Path
    title: str
    text: str
    sections: list[Section] = field(default_factory=list)
    original: bytes | None = None


Block = tuple[str | None, int | None, str]  # (heading path, page, text)


def assemble(path: Path, title: str, blocks: list[Block]) -> LoadedDocument:
    """Join blocks with blank lines; reject documents with no text at all."""
    parts: list[str] = []
    sections: list[Section] = []
    pos = 0
    for heading, page, text in blocks:
        text = text.strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        sections.append(Section(pos, pos + len(text), heading, page))
        parts.append(text)
        pos += len(text)
    if not sections:
        raise IngestError(str(path), "no text could be extracted (empty document, or a scanned PDF without a text layer)")
    return LoadedDocument(path, title.strip() or path.stem, "".join(parts), sections)


# ---------------------------------------------------------------------------------------------- text input

CHARSET_TOLERANCE = 0.05  # charset-normalizer "chaos" difference under which candidates count as equal
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Byte-order marks, the UTF-32 ones first: a UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path: Path, data: bytes | None = None, *, hints: dict[bytes, str] | None = None,
              advice: str = "check its type", max_control_ratio: float = 0.01) -> str:
    """Decode a text file: by its byte-order mark (UTF-8/16/32), else UTF-8, else the encoding
    charset-normalizer detects. Line ends come back as LF (CRLF and CR converted).

    Rejects files that are binary in disguise (a PNG named ``.md``): NUL bytes without a UTF-16/32 mark, or
    more than ``max_control_ratio`` control characters after decoding. ``hints`` maps magic numbers of
    formats people save by mistake to what to do instead (FAQ files: an Excel sheet); ``advice`` ends the
    binary-file messages. Both exist so that documents and FAQ files share this one decoder while each
    tells its user what to do.
    """
    data = path.read_bytes() if data is None else data
    if not data.strip():
        raise IngestError(str(path), "the file is empty")
    text = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise IngestError(str(path), f"the file starts with a {codec} byte-order mark but is not valid "
                                             f"{codec}: {exc.reason}") from None
            break
    if text is None:
        for magic, hint in (hints or {}).items():
            if data.startswith(magic):
                raise IngestError(str(path), f"not a text file: {hint}")
        if b"\x00" in data[:65536]:
            raise IngestError(str(path), f"the file looks binary (contains NUL bytes), not a text file; {advice}")
        text = _decode_without_bom(path, data, advice)
    if len(_CONTROL.findall(text)) > max_control_ratio * max(len(text), 1):
        raise IngestError(str(path), f"the file looks binary (many control characters), not a text file; {advice}")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_without_bom(path: Path, data: bytes, advice: str) -> str:
    """UTF-8, else the legacy encoding charset-normalizer finds (Windows-1252 among near-equal ones)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only needed for legacy encodings

    matches = list(from_bytes(data))
    if not matches:
        raise IngestError(str(path), f"could not detect the text encoding (binary or corrupt file?); {advice}")
    # charset-normalizer often ranks a Baltic/Central-European code page first for plain French or
    # German Latin-1 text (all score about the same); Windows-1252 is by far the most common legacy
    # encoding of course material, so it wins among near-equal candidates.
    best = matches[0]
    for m in matches:
        if m.chaos <= best.chaos + CHARSET_TOLERANCE and "cp1252" in m.could_be_from_charset:
            best = m
            break
    log.info("%s: decoded as %s", path, best.encoding)
    return data.decode("cp1252" if "cp1252" in best.could_be_from_charset else best.encoding)


# ---------------------------------------------------------------------------------------------- formats

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_blocks(text: str) -> tuple[str | None, list[Block]]:
    """Split Markdown at ATX headings (ignoring ``#`` inside fenced code); the heading path is kept.

    The heading line stays in its block's text: it is often the words a student's question uses.
    """
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    lines: list[str] = []
    title = None
    in_fence = False

    def flush() -> None:
        if "".join(lines).strip():
            blocks.append((HEADING_SEP.join(h for _, h in stack) or None, None, "\n".join(lines)))
        lines.clear()

    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m:
            flush()
            level, heading = len(m.group(1)), m.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            if title is None and level == 1:
                title = heading
        lines.append(line)
    flush()
    return title, blocks


def load_markdown(path: Path, data: bytes | None = None) -> LoadedDocument:
    title, blocks = markdown_blocks(read_text(path, data))
    return assemble(path, title or path.stem, blocks)


def load_text(path: Path, data: bytes | None = None) -> LoadedDocument:
    return assemble(path, path.stem, [(None, None, read_text(path, data))])


def load_html(path: Path, data: bytes | None = None) -> LoadedDocument:
    """Main content via trafilatura (as Markdown, so headings survive); plain lxml text as a fallback
    for short pages trafilatura judges to be boilerplate."""
    import trafilatura

    html = read_text(path, data)
    md = trafilatura.extract(html, output_format="markdown", include_formatting=True, favor_recall=True,
                             include_tables=True)
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta else None) or path.stem
    if md and md.strip():
        md_title, blocks = markdown_blocks(md)
        return assemble(path, title or md_title, blocks)
    import lxml.html

    try:
        root = lxml.html.fromstring(html)
    except Exception as exc:  # lxml raises several types for garbage input
        raise IngestError(str(path), f"not a readable HTML file ({exc})") from None
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return assemble(path, title, [(None, None, root.text_content())])


def load_pdf(path: Path, data: bytes | None = None) -> LoadedDocument:
    """One block per page, so every chunk keeps its page number (1-based)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data) if data is not None else str(path))
        if reader.is_encrypted:
            raise IngestError(str(path), "the PDF is encrypted; remove the password and add it again")
        blocks: list[Block] = [(None, i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(str(path), f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    return assemble(path, str(title), blocks)


def load_docx(path: Path, data: bytes | None = None) -> LoadedDocument:
    """Paragraphs in order; ``Heading N`` styles build the heading path, ``Title`` the title; tables follow."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data) if data is not None else str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(str(path), f"corrupt or unreadable DOCX ({type(exc).__name__}: {exc})") from None
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    lines: list[str] = []
    title = document.core_properties.title or None

    def flush() -> None:
        if "".join(lines).strip():
            blocks.append((HEADING_SEP.join(h for _, h in stack) or None, None, "\n\n".join(lines)))
        lines.clear()

    for para in document.paragraphs:
        text = para.text.strip()
        style = para.style.name if para.style is not None else ""
        if not text:
            continue
        if style == "Title":
            title = title or text
        m = re.match(r"Heading (\d)", style)
        if m:
            flush()
            level = int(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
        lines.append(text)
    flush()
    for table in document.tables:
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        blocks.append((None, None, "\n".join(rows)))
    return assemble(path, title or path.stem, blocks)


Loader = Callable[[Path, bytes | None], LoadedDocument]  # (path, its bytes or None: read them)
LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".text": load_text,
    ".docx": load_docx,
}


def _loader_for(path: Path) -> Loader:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise IngestError(str(path), f"unsupported file type {path.suffix or '(none)'!r}; supported: "
                                     f"{', '.join(sorted(LOADERS))}")
    return loader


def read_document_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The file's bytes, after the checks that need no parsing (a supported suffix, a regular file, not
    empty, not over ``max_bytes``) so each failure has its own clear message. The size is checked before
    reading, so a mistaken multi-GB upload is never read into memory."""
    path = Path(path)
    _loader_for(path)
    if not path.is_file():
        raise IngestError(str(path), "no such file")
    size = path.stat().st_size
    if size == 0:
        raise IngestError(str(path), "the file is empty (0 bytes)")
    if max_bytes is not None and size > max_bytes:
        raise IngestError(str(path), f"the file is {size / 2**20:.1f} MB, over the limit of "
                                     f"{max_bytes / 2**20:.1f} MB (KBConfig.max_file_mb)")
    return path.read_bytes()


def load_document(path: Path, max_bytes: int | None = None, data: bytes | None = None) -> LoadedDocument:
    """Pick the loader by suffix and parse the file. ``data``: its bytes, already read (and checked) by
    ``read_document_bytes``, so a caller that also hashes them reads the file once; without it the
    file is checked and read here."""
    path = Path(path)
    loader = _loader_for(path)
    if data is None:
        data = read_document_bytes(path, max_bytes)
    return loader(path, data)
