"""Citations that open the page (issue 37 item 2): a real multi-page PDF and a Markdown file ingested into a
real knowledge base (MiniLM), found by a real search, then shown by the source viewer, through its ASGI route
where the HTTP side matters. The page image is compared with pdfium's own drawing of each page, and the
highlights with the lines the cited chunk holds."""

from __future__ import annotations

import base64
import dataclasses
import io
import re

import pytest

from knowledge_base import KnowledgeBase
from knowledge_base.pdf_pages import passage_spans
from webapp.render import render_answer
from webapp.sources import CSP, GONE, NO_TEXT_LAYER, NOT_A_KEY, NOT_KEPT, SourceViewer, passage_page, source_page

COURSE = "physics"
TOP, STEP, FONT = 790, 18, 11  # where the test PDF's lines are drawn, in points (A4: 595 x 842)
MARKER = "The Quorvex constant of the seminar equals forty two millikelvin."
SUBJECTS = ["the encoder", "a decoder layer", "the attention head", "each token", "the optimizer", "the residual stream",
            "the tokenizer", "a feed-forward block", "the learning rate", "the loss curve", "a gradient step"]
VERBS = ["reads", "scales", "moves", "mixes", "sorts", "weighs", "stores", "checks", "filters", "joins", "copies"]
OBJECTS = ["the keys", "the values", "the queries", "the logits", "the batch", "the weights", "the vocabulary",
           "the sequence", "the mask", "the buffer", "the cache"]


def page_lines(page: int, count: int) -> list[str]:
    lines = [f"Fact {page}.{i}: {SUBJECTS[i % 11]} of unit {page * 100 + i} {VERBS[(i * 7) % 11]} "
             f"{OBJECTS[(i * 3) % 11]} before noon." for i in range(count)]
    if page == 3:
        lines[24] = MARKER
    return lines


PAGES = [page_lines(1, 10), page_lines(2, 10), page_lines(3, 34), page_lines(4, 10)]


def make_pdf(path, pages: list[list[str]]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Lecture 3: Attention")
    for lines in pages:
        c.setFont("Helvetica", FONT)
        for i, line in enumerate(lines):
            c.drawString(56, TOP - i * STEP, line)
        c.showPage()
    c.save()


def scanned_pdf() -> bytes:
    """A one-page PDF with a picture and shapes only, as a scanner makes it: no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(picture).rectangle((20, 40, 380, 60), fill="black")  # a "line of text", as pixels
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawImage(ImageReader(picture), 56, 600, width=400, height=120)
    c.rect(56, 400, 300, 20, fill=1)
    c.showPage()
    c.save()
    return out.getvalue()


NOTES = ("# Lab handbook\n\nWelcome to the lab.\n\n## Safety\n\nWear goggles at all times in the workshop.\n\n"
         "## Opening hours\n\n"
         + " ".join(f"Rule {i}: the {SUBJECTS[i % 11]} {VERBS[i % 11]} {OBJECTS[(i * 5) % 11]} on day {i}." for i in range(40))
         + "\n\nRoom numbers are written <b>in bold</b> & kept short.\n\n"
         "The Zorbium lab opens at 7:45 on Tuesdays and Thursdays, and closes at noon.\n")


@pytest.fixture
def kb(paths, embedder, tmp_path):
    base = KnowledgeBase(paths, embedder=embedder)
    make_pdf(tmp_path / "lecture.pdf", PAGES)
    (tmp_path / "handbook.md").write_text(NOTES, encoding="utf-8")
    assert [r.status for r in base.add([tmp_path / "lecture.pdf", tmp_path / "handbook.md"], COURSE)] == ["added"] * 2
    yield base
    base.close()


def top_hit(kb, question: str):
    return kb.search(question, COURSE, k=1)[0]


def page_png(page_html: str):
    from PIL import Image

    data = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page_html).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def pdfium_page(path, number: int, scale: float = 2.0):
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(str(path))[number - 1].render(scale=scale).to_pil().convert("RGB")


def test_a_pdf_citation_opens_its_page_with_the_passage_highlighted(kb, tmp_path):
    hit = top_hit(kb, "What does the Quorvex constant equal?")
    assert hit.document == "lecture.pdf" and hit.page == 3 and MARKER in hit.text
    page = source_page(kb, hit.chunk_id)
    assert page.status == 200 and "page 3 of 4" in page.html and "course: physics" in page.html

    shown = page_png(page.html)  # page 3 as pdfium draws it (144 dpi: scale 2), and no other page
    assert shown.tobytes() == pdfium_page(tmp_path / "lecture.pdf", 3).tobytes()
    assert shown.tobytes() != pdfium_page(tmp_path / "lecture.pdf", 2).tobytes()

    # The highlights cover exactly the lines the cited chunk holds: page 3 is cut into several chunks, and the
    # lines of the others (the top of the page) stay unmarked.
    assert page.html.count("<rect class='passage'") == len(page.boxes) > 0
    held = {i for i, line in enumerate(PAGES[2]) if line in hit.text}
    assert 24 in held and 0 not in held, "page 3 should hold more than the cited chunk"
    lit = set()
    for x, y, w, h in page.boxes:
        baseline = 842 - (y + h / 2) / 2 - 3.5  # the box's centre in points, less half a glyph's height
        lit.add(round((TOP - baseline) / STEP))  # the line drawn there
        assert x >= 56 * 2 - 4, (x, y, w, h)
        ink = shown.crop((int(x), int(y), int(x + w), int(y + h))).convert("L")
        assert ink.getextrema()[0] < 100, (x, y, w, h)  # the box is over printed text
    assert lit == held
    assert re.search(r"<blockquote>[^<]*Quorvex constant", page.html)  # the passage as text, below the page


def test_a_markdown_citation_shows_its_section_with_the_passage_marked(kb):
    hit = top_hit(kb, "When does the Zorbium lab open?")
    assert hit.document == "handbook.md" and hit.section == "Lab handbook > Opening hours"
    page = source_page(kb, hit.chunk_id)
    assert page.status == 200 and "Lab handbook &gt; Opening hours" in page.html
    article = re.search(r"<article class='section'>(.*)</article>", page.html, re.S).group(1)
    before, marked = re.search(r"^(.*)<mark id='passage'>(.*?)</mark>", article, re.S).groups()
    assert "The Zorbium lab opens at 7:45" in marked
    assert "Rule 0:" in before and "Rule 0:" not in marked  # the rest of the section is shown, unmarked
    assert "goggles" not in article  # another section's text is not
    assert "&lt;b&gt;in bold&lt;/b&gt; &amp; kept short" in article and "<b>" not in page.html  # escaped, as text


def test_html_and_docx_citations_show_their_section_marked(kb, tmp_path):
    from tests.test_kb_loaders import make_docx

    make_docx(tmp_path / "genetics.docx", "Genetics", [("Mendel", "Gregor Mendel crossed pea plants and found dominant "
                                                       "and recessive traits."), ("Cells", "Cells divide by mitosis.")])
    (tmp_path / "rome.html").write_text("<html><head><title>Rome</title></head><body><h1>Rome</h1><p>Julius Caesar "
                                        "crossed the Rubicon in 49 BC, starting a civil war.</p></body></html>")
    assert {r.status for r in kb.add([tmp_path / "genetics.docx", tmp_path / "rome.html"], COURSE)} == {"added"}
    for question, document, said in (("Who crossed pea plants?", "genetics.docx", "Gregor Mendel crossed pea plants"),
                                     ("Who crossed the Rubicon?", "rome.html", "Julius Caesar crossed the Rubicon")):
        hit = top_hit(kb, question)
        assert hit.document == document
        page = source_page(kb, hit.chunk_id)
        marked = re.search(r"<mark id='passage'>(.*?)</mark>", page.html, re.S).group(1)
        assert page.status == 200 and said in marked and "data:image" not in page.html
    assert "mitosis" not in page_of(kb, "Who crossed pea plants?")  # the Cells section is another section


def page_of(kb, question: str) -> str:
    return source_page(kb, top_hit(kb, question).chunk_id).html


def test_the_chat_links_each_citation_to_its_page(kb):
    hit = top_hit(kb, "What does the Quorvex constant equal?")
    cited = {"n": 1, "document": hit.document, "section": None, "page": hit.page, "snippet": "…", "chunk_id": hit.chunk_id}
    message = render_answer({"answer": "Forty two millikelvin [1].", "citations": [cited]})
    assert (f"<a class='source-link' href='tutor/source/{hit.chunk_id}#passage' target='_blank' "
            f"rel='noopener noreferrer'>open the page</a>") in message
    section = render_answer({"answer": "x", "citations": [{**cited, "page": None}]})
    assert ">open the section</a>" in section
    for not_a_passage in (None, "javascript:alert(1)", "../../etc/passwd", "0123456789ABCDEF"):  # an FAQ source, forged
        assert "source-link" not in render_answer({"answer": "x", "citations": [{**cited, "chunk_id": not_a_passage}]})


def test_gone_unknown_and_path_like_ids_get_clear_messages(kb):
    assert source_page(kb, "0123456789abcdef").status == 404
    for bad in ("..", "etc/passwd", "1", "0123456789abcdef0", "0123456789ABCDEF", ""):
        page = source_page(kb, bad)
        assert page.status == 400 and NOT_A_KEY.split(":")[0] in page.html
    hit = top_hit(kb, "What does the Quorvex constant equal?")
    kept = kb.originals.path(hit.doc_id)
    assert kept.is_file()
    assert kb.delete(COURSE, "lecture.pdf")
    page = source_page(kb, hit.chunk_id)
    assert page.status == 404 and GONE.split(":")[0] in page.html
    assert not kept.exists()  # the kept file went with its document
    assert source_page(kb, top_hit(kb, "When does the Zorbium lab open?").chunk_id).status == 200  # the rest stays


def test_a_replaced_pdf_shows_its_new_page_and_old_links_say_gone(kb, tmp_path):
    old = top_hit(kb, "What does the Quorvex constant equal?")
    pages = [lines[:] for lines in PAGES]
    pages[2][24] = "The Quorvex constant of the seminar now equals seven millikelvin."
    (tmp_path / "v2").mkdir()
    make_pdf(tmp_path / "v2" / "lecture.pdf", pages)
    assert kb.add([tmp_path / "v2" / "lecture.pdf"], COURSE)[0].status == "replaced"
    assert source_page(kb, old.chunk_id).status == 404
    new = top_hit(kb, "What does the Quorvex constant equal?")
    assert new.doc_id == old.doc_id and "seven" in new.text
    page = source_page(kb, new.chunk_id)
    assert page.status == 200 and page.boxes
    assert kb.originals.path(new.doc_id).read_bytes() == (tmp_path / "v2" / "lecture.pdf").read_bytes()


def test_a_pdf_without_its_kept_file_or_text_layer_still_shows_the_passage(kb, tmp_path):
    hit = top_hit(kb, "What does the Quorvex constant equal?")
    kept = kb.originals.path(hit.doc_id)
    kept.write_bytes(kept.read_bytes() + b"%changed on disk")  # not the bytes that were added: never shown
    page = source_page(kb, hit.chunk_id)
    assert page.status == 200 and NOT_KEPT[:40] in page.html and MARKER in page.html and "data:image" not in page.html
    kept.unlink()  # a PDF added before originals were kept
    assert NOT_KEPT[:40] in source_page(kb, hit.chunk_id).html
    again = kb.add([tmp_path / "lecture.pdf"], COURSE)[0]  # what the note advises: the same PDF, added again
    assert again.status == "skipped" and again.doc_id == hit.doc_id  # nothing re-indexed ...
    assert source_page(kb, hit.chunk_id).boxes  # ... and the page is back, highlighted

    passage = kb.cited_passage(hit.chunk_id)
    scanned = passage_page(dataclasses.replace(passage, original=scanned_pdf(), page=1), "Physics")
    assert scanned.status == 200 and NO_TEXT_LAYER[:40] in scanned.html
    assert "data:image/png" in scanned.html and not scanned.boxes and "<rect" not in scanned.html
    assert MARKER in scanned.html  # the passage itself, below the page
    damaged = passage_page(dataclasses.replace(passage, original=b"%PDF-1.4 garbage"), "Physics")
    assert damaged.status == 200 and "could not be drawn" in damaged.html and MARKER in damaged.html


def test_the_route_answers_only_its_pages_with_strict_headers(kb):
    from starlette.testclient import TestClient

    async def app_behind(scope, receive, send):  # stands for Gradio: whatever the viewer passes on lands here
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"passed on"})

    client = TestClient(SourceViewer(app_behind, kb))
    hit = top_hit(kb, "What does the Quorvex constant equal?")
    ok = client.get(f"/tutor/source/{hit.chunk_id}")
    assert ok.status_code == 200 and ok.headers["content-type"] == "text/html; charset=utf-8"
    assert ok.headers["x-content-type-options"] == "nosniff" and ok.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP and "img-src data:" in CSP
    assert "<script" not in ok.text and "page 3 of 4" in ok.text
    assert client.get(f"/some/prefix/tutor/source/{hit.chunk_id}").status_code == 200  # served under a sub-path
    assert client.head(f"/tutor/source/{hit.chunk_id}").content == b""
    assert client.post(f"/tutor/source/{hit.chunk_id}").status_code == 405
    assert client.get("/tutor/source/0123456789abcdef").status_code == 404
    for bad in ("/tutor/source/..%2F..%2Fetc%2Fpasswd", "/tutor/source/%2e%2e", "/tutor/source/1%20OR%201=1",
                "/tutor/source/"):
        response = client.get(bad)
        assert response.status_code in (400, 418) and "root:" not in response.text, bad
        if response.status_code == 400:
            assert "not a source link" in response.text
    assert client.get("/tutor/source/../../etc/passwd").status_code in (400, 418)
    assert client.get("/").text == "passed on"
    hidden = TestClient(SourceViewer(app_behind, kb, offered=lambda: {"another-course"}))  # physics unpublished
    response = hidden.get(f"/tutor/source/{hit.chunk_id}")
    assert response.status_code == 404 and "not open to students" in response.text and "Quorvex" not in response.text


def test_the_passage_is_found_across_extractor_differences():
    page = "The ﬁrst line of the page\r\nends here. Attention weights sum to one."
    spans, share = passage_spans(page, "The first line of the page ends here.", 6)
    assert share == 1.0 and page[spans[0][0]:spans[0][1]] == "The ﬁrst line of the page\r\nends here."
    spans, share = passage_spans(page, "Attention weihgts sum to one.", 6)  # one misread word: the rest is found
    found = " ".join(page[a:b] for a, b in spans)
    assert 0.5 < share < 1.0 and "Attention" in found and "sum to one." in found and "first" not in found
    assert passage_spans("", "anything", 6) == ([], 0.0)  # a page without a text layer
