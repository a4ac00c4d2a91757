"""Loaders (each format, each kind of bad file) and chunking (token bound, spans, overlap, stable ids)."""

from __future__ import annotations

import pytest

from knowledge_base.chunking import chunk_document
from knowledge_base.loaders import LOADERS, assemble, load_document
from basics.errors import IngestError


def make_pdf(path, pages: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()


def make_docx(path, title: str, sections: list[tuple[str, str]]) -> None:
    import docx

    d = docx.Document()
    d.add_heading(title, level=0)
    for heading, body in sections:
        d.add_heading(heading, level=1)
        d.add_paragraph(body)
    d.save(str(path))


def test_markdown_keeps_heading_path(tmp_path):
    p = tmp_path / "notes.md"
    p.write_text("# Biology\n\nIntro text.\n\n## Cells\n\nCells are small.\n\n```\n# not a heading\n```\n\n"
                 "### Mitochondria\n\nPowerhouse of the cell.\n\n## Plants\n\nPhotosynthesis.\n", encoding="utf-8")
    doc = load_document(p)
    assert doc.title == "Biology"
    headings = [s.heading for s in doc.sections]
    assert headings == ["Biology", "Biology > Cells", "Biology > Cells > Mitochondria", "Biology > Plants"]
    assert "# not a heading" in doc.text[doc.sections[1].start:doc.sections[1].end]


def test_pdf_keeps_page_numbers(tmp_path):
    p = tmp_path / "slides.pdf"
    make_pdf(p, ["Week one covers the Krebs cycle.", "Week two covers glycolysis in detail."])
    doc = load_document(p)
    assert [s.page for s in doc.sections] == [1, 2]
    assert "glycolysis" in doc.text[doc.sections[1].start:doc.sections[1].end]


def test_docx_headings_and_title(tmp_path):
    p = tmp_path / "handout.docx"
    make_docx(p, "Genetics handout", [("Mendel", "Peas were crossed."), ("DNA", "A double helix.")])
    doc = load_document(p)
    assert doc.title == "Genetics handout"
    assert [s.heading for s in doc.sections][-2:] == ["Mendel", "DNA"]


def test_html_main_text_and_headings(tmp_path):
    p = tmp_path / "page.html"
    p.write_text("<html><head><title>Syllabus</title><script>var x=1;</script></head><body><h1>Syllabus</h1>"
                 "<p>The course meets on Tuesdays in room 101 and lasts twelve weeks.</p><h2>Grading</h2>"
                 "<p>Homework counts for forty percent of the final grade.</p></body></html>", encoding="utf-8")
    doc = load_document(p)
    assert doc.title == "Syllabus"
    assert "forty percent" in doc.text and "var x" not in doc.text
    assert any(s.heading and s.heading.endswith("Grading") for s in doc.sections)


def test_latin1_text_is_decoded(tmp_path):
    p = tmp_path / "legacy.txt"
    text = ("Le café de la faculté est fermé le mercredi. Les étudiants préfèrent la bibliothèque, où règne "
            "un silence agréable. Déjà en première année, on apprend à réviser très tôt.\n") * 3
    p.write_bytes(text.encode("latin-1"))
    doc = load_document(p)
    assert "café" in doc.text and "bibliothèque" in doc.text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks_and_line_ends(tmp_path, encoding):
    """The one text decoder (FAQ files use it too): a byte-order mark picks the codec, CRLF becomes LF."""
    p = tmp_path / "notes.md"
    p.write_bytes("# Übung\r\n\r\n注意力 weighs tokens.\r\n".encode(encoding))
    doc = load_document(p)
    assert doc.title == "Übung" and "注意力 weighs tokens." in doc.text and "\r" not in doc.text


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.md", b"", "empty"),
        ("blank.txt", b"   \n\n  ", "empty"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf \x00\x01", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip at all", "DOCX"),
        ("data.xlsx", b"whatever", "unsupported file type"),
    ],
)
def test_bad_files_are_rejected_with_name_and_reason(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(IngestError) as err:
        load_document(p)
    assert name in str(err.value) and reason in str(err.value)


def test_size_limit(tmp_path):
    p = tmp_path / "big.txt"
    p.write_text("word " * 300_000)
    with pytest.raises(IngestError, match="over the limit.*max_file_mb"):
        load_document(p, max_bytes=1_000_000)


def test_registry_is_keyed_by_suffix():
    assert {".pdf", ".md", ".html", ".txt", ".docx"} <= set(LOADERS)


def test_chunks_bounded_spans_exact_overlap_and_stable(embedder, tmp_path):
    sentences = [f"Sentence number {i} talks about topic {i % 7} with some extra words to fill space." for i in range(120)]
    paras = ["\n".join(sentences[i:i + 4]) for i in range(0, 120, 4)]
    long_para = " ".join(sentences[:40])  # one paragraph far over the limit: split by sentences
    cjk = "自然语言处理是人工智能的一个分支" * 60  # no spaces or punctuation: split by token windows
    text = "# Topic\n\n" + "\n\n".join(paras) + "\n\n## Long\n\n" + long_para + "\n\n## 中文\n\n" + cjk
    p = tmp_path / "long.md"
    p.write_text(text, encoding="utf-8")
    doc = load_document(p)
    chunks = chunk_document(doc, embedder, max_tokens=120, overlap_tokens=30, doc_hash="h")
    assert len(chunks) > 10
    counts = embedder.count_tokens([c.text for c in chunks])
    assert max(counts) <= 120 + 4  # joining units may add a token or two at boundaries
    for c in chunks:
        assert c.text == doc.text[c.start:c.end]
    # consecutive chunks in the same section overlap
    same = [(a, b) for a, b in zip(chunks, chunks[1:]) if a.section == b.section]
    assert same and sum(b.start < a.end for a, b in same) >= len(same) // 2
    # every character of every section is covered
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i in range(len(doc.text)) if not doc.text[i].isspace())
    # sections kept, Chinese split into several windows
    assert {c.section for c in chunks} == {"Topic", "Topic > Long", "Topic > 中文"}
    assert sum(c.section == "Topic > 中文" for c in chunks) >= 3
    again = chunk_document(doc, embedder, max_tokens=120, overlap_tokens=30, doc_hash="h")
    assert [c.key for c in again] == [c.key for c in chunks]
    assert len({c.key for c in chunks}) == len(chunks)


def test_assemble_rejects_textless_documents(tmp_path):
    with pytest.raises(IngestError, match="no text"):
        assemble(tmp_path / "scan.pdf", "scan", [(None, 1, "  "), (None, 2, "")])
