"""KnowledgeBase end to end: real embedder, real FAISS files, real SQLite in a temp dir."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from knowledge_base import KBConfig, KnowledgeBase
from knowledge_base import index as kb_index
from knowledge_base import store
from tests.test_kb_loaders import make_docx, make_pdf
from basics.errors import ConfigError, FAQFormatError, IngestError

PAGES = {
    "photosynthesis.md": "# Photosynthesis\n\nPlants turn light, water and carbon dioxide into glucose and oxygen.\n\n"
                         "## Chlorophyll\n\nChlorophyll absorbs red and blue light and reflects green light.\n",
    "exam.txt": "The final exam takes place on June 12 in the main auditorium. Bring a calculator and your "
                "student card.\n\nThe midterm counts for thirty percent of the grade.",
    "history.html": "<html><head><title>Rome</title></head><body><h1>Rome</h1><p>Julius Caesar crossed the "
                    "Rubicon in 49 BC, starting a civil war against the Senate.</p></body></html>",
}


def write_course(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in PAGES.items():
        (folder / name).write_text(text, encoding="utf-8")
    make_pdf(folder / "cells.pdf", ["Cell biology lecture notes.", "Mitochondria produce ATP through cellular "
                                    "respiration."])
    make_docx(folder / "genetics.docx", "Genetics", [("Mendel", "Gregor Mendel crossed pea plants and found "
                                                      "dominant and recessive traits.")])


@pytest.fixture
def kb(paths, embedder):
    base = KnowledgeBase(paths, embedder=embedder)
    yield base
    base.close()


def reopen(kb, embedder, **config) -> KnowledgeBase:
    kb.close()
    return KnowledgeBase(kb.paths, KBConfig(**config) if config else None, embedder=embedder)


def test_ingest_every_format_and_find_the_right_chunk(kb, tmp_path):
    write_course(tmp_path / "course")
    results = kb.add([tmp_path / "course"], "bio", progress=False)
    assert sorted(r.status for r in results) == ["added"] * 5
    assert {d.name for d in kb.list_documents("bio")} == {"photosynthesis.md", "exam.txt", "history.html",
                                                          "cells.pdf", "genetics.docx"}
    expect = {
        "Which pigment reflects green light?": ("photosynthesis.md", "Photosynthesis > Chlorophyll", None),
        "When is the final exam?": ("exam.txt", None, None),
        "Who crossed the Rubicon?": ("history.html", None, None),
        "What do mitochondria produce?": ("cells.pdf", None, 2),
        "Who crossed pea plants?": ("genetics.docx", "Mendel", None),
    }
    for query, (doc, section, page) in expect.items():
        for mode in ("hybrid", "dense", "lexical"):
            hits = kb.search(query, "bio", k=3, mode=mode)
            assert hits and hits[0].document == doc, (query, mode, [h.document for h in hits])
        top = kb.search(query, "bio", k=3)[0]
        if section:
            assert top.section == section
        assert top.page == page
        assert top.text and top.title
    # contract: dense_score is the cosine for every hit, lexical_score BM25 or None
    hits = kb.search("Rubicon civil war", "bio", k=5)
    q = kb.embedder.encode_query("Rubicon civil war")  # the question's vector (bf16 on a native-bf16 CPU)
    for h in hits:
        row = kb.db.query("SELECT embedding FROM chunks WHERE chunk_key = ?", (h.chunk_id,))[0]
        assert h.dense_score == pytest.approx(float(np.frombuffer(row[0], np.float32) @ q), abs=1e-4)
        assert -1 <= h.dense_score <= 1
    assert hits[0].lexical_score and hits[0].lexical_score > 0
    assert all(h.lexical_score is None for h in kb.search("Rubicon", "bio", k=5, mode="dense"))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_duplicates_skipped_replace_and_delete_reach_both_stores(kb, tmp_path, embedder):
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nThe lab opens at nine in the morning.\n")
    first = kb.add_file(doc, "c1")
    assert first.status == "added" and first.chunks == 1
    again = kb.add([doc, doc], "c1")
    assert [r.status for r in again] == ["skipped", "skipped"]
    copy = tmp_path / "copy.md"
    copy.write_text(doc.read_text())
    assert kb.add_file(copy, "c1").status == "skipped"  # same content under another name
    assert len(kb.list_documents("c1")) == 1 and kb.stats("c1")["courses"]["c1"]["chunks"] == 1

    doc.write_text("# Notes\n\nThe lab now opens at eleven in the morning.\n\n## Safety\n\nWear goggles.\n")
    replaced = kb.add_file(doc, "c1")
    assert replaced.status == "replaced" and replaced.doc_id == first.doc_id
    info = kb.list_documents("c1")[0]
    assert info.version == 2 and info.chunks == replaced.chunks
    hits = kb.search("When does the lab open?", "c1", k=5)
    assert all("nine" not in h.text for h in hits) and "eleven" in hits[0].text
    ids = set(kb_index.index_ids(kb.indexes.dense("c1")).tolist())
    assert ids == set(store.chunk_ids(kb.db, store.course_id(kb.db, "c1")).tolist())

    other = tmp_path / "other.md"
    other.write_text("# Other\n\nPhotosynthesis needs light.\n")
    kb.add_file(other, "c1")
    assert kb.delete("c1", "notes.md") is True
    assert kb.delete("c1", "notes.md") is False
    assert [d.name for d in kb.list_documents("c1")] == ["other.md"]
    assert all(h.document == "other.md" for h in kb.search("lab goggles", "c1", k=5))
    assert kb.indexes.dense("c1").ntotal == kb.stats("c1")["courses"]["c1"]["chunks"]

    kb2 = reopen(kb, embedder)
    assert kb2.repaired == []
    assert [h.document for h in kb2.search("light", "c1")] == ["other.md"]
    kb2.close()


def test_courses_are_separate_collections(kb, tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("# A\n\nQuantum tunnelling lets particles cross barriers.\n")
    b.write_text("# B\n\nThe French revolution began in 1789.\n")
    kb.add([a], "physics")
    kb.add([b], "history")
    assert kb.courses() == ["history", "physics"]
    assert {h.document for h in kb.search("revolution 1789", "physics", k=5)} == {"a.md"}
    assert kb.search("anything", "no-such-course") == []
    assert kb.index_path("physics").exists() and kb.index_path("history").exists()
    assert kb.index_path("physics") == kb.paths.indexes_dir / "all-MiniLM-L6-v2" / "physics.faiss"  # per embedder


def test_each_course_records_its_language_when_indexed(kb):
    """Nothing assumes English course text: a course's main language is detected from its chunks whenever its
    documents change, kept in the database, and shown by stats."""
    kb.add_texts("estat", [("aula.md", "# Aulas\n\nAs aulas teóricas são às segundas e quartas-feiras, das 08:30 às "
                                      "10:10, na sala C-107. A prova final é cumulativa.")])
    kb.add_texts("ml", [("lora.md", "# LoRA\n\nLoRA freezes the base model and trains two small low-rank matrices.")])
    assert kb.course_language("estat") == "pt" and kb.course_language("ml") == "en"
    assert kb.stats("estat")["courses"]["estat"]["language"] == "pt"
    assert kb.delete("estat", "aula.md") and kb.course_language("estat") is None
    assert kb.course_language("no-such-course") is None


def test_reopened_store_answers_the_same(kb, tmp_path, embedder):
    write_course(tmp_path / "course")
    kb.add([tmp_path / "course"], "bio")
    queries = ["Which pigment reflects green light?", "What do mitochondria produce?", "calculator"]
    before = [[(h.chunk_id, round(h.score, 6), round(h.dense_score, 5)) for h in kb.search(q, "bio")] for q in queries]
    kb2 = reopen(kb, embedder)
    after = [[(h.chunk_id, round(h.score, 6), round(h.dense_score, 5)) for h in kb2.search(q, "bio")] for q in queries]
    assert before == after and kb2.repaired == []
    kb2.close()


def test_crash_between_commit_and_index_write_is_repaired(kb, tmp_path, embedder, monkeypatch):
    write_course(tmp_path / "course")
    kb.add([tmp_path / "course"], "bio")
    index_file = kb.index_path("bio")
    extra = tmp_path / "extra.md"
    extra.write_text("# Volcanoes\n\nMagma that reaches the surface is called lava.\n")
    # Simulate kill -9 after the database commit: the index write never happens.
    monkeypatch.setattr("knowledge_base.course_indexes.save_index", lambda index, path: None)
    assert kb.add_file(extra, "bio").status == "added"
    monkeypatch.undo()
    on_disk = kb_index.load_index(index_file)
    assert on_disk.ntotal == kb.stats("bio")["courses"]["bio"]["chunks"] - 1  # index is stale on disk

    kb2 = reopen(kb, embedder)
    assert kb2.repaired == ["bio"]
    assert kb2.search("What is magma at the surface called?", "bio", mode="dense")[0].document == "extra.md"
    assert kb_index.load_index(index_file).ntotal == on_disk.ntotal + 1
    assert len(kb2.list_documents("bio")) == 6  # nothing lost, nothing duplicated

    # Same after a delete whose index write was lost: the index has ids the database no longer has.
    monkeypatch.setattr("knowledge_base.course_indexes.save_index", lambda index, path: None)
    kb2.delete("bio", "extra.md")
    monkeypatch.undo()
    kb3 = reopen(kb2, embedder)
    assert kb3.repaired == ["bio"]
    assert all(h.document != "extra.md" for h in kb3.search("lava magma", "bio", k=10, mode="dense"))

    # A torn / corrupted index file and a missing one are rebuilt as well.
    (index_file).write_bytes(b"garbage" * 100)
    kb4 = reopen(kb3, embedder)
    assert kb4.repaired == ["bio"] and kb4.search("Rubicon", "bio")[0].document == "history.html"
    (index_file).unlink()
    kb5 = reopen(kb4, embedder)
    assert kb5.repaired == ["bio"] and kb5.search("Rubicon", "bio")[0].document == "history.html"
    assert len(kb5.list_documents("bio")) == 5
    kb5.close()


_KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
import knowledge_base.course_indexes as course_indexes
from knowledge_base import KBConfig, KnowledgeBase
from basics.config import Paths

def die(index, path):  # the process is killed right after the database commit, before the index write
    os.kill(os.getpid(), signal.SIGKILL)

course_indexes.save_index = die
kb = KnowledgeBase(Paths(Path(sys.argv[1]), Path(sys.argv[2])), KBConfig(embedder="all-MiniLM-L6-v2"))
kb.add_file(Path(sys.argv[3]), "bio")
"""


def test_kill_9_between_db_commit_and_index_write(kb, tmp_path, embedder):
    """A real SIGKILL in another process between the SQLite commit and the FAISS write: the next open
    notices the index lags the database and rebuilds it; nothing stored before is lost or duplicated."""
    import signal
    import subprocess
    import sys

    write_course(tmp_path / "course")
    kb.add([tmp_path / "course"], "bio")
    before = {d.name for d in kb.list_documents("bio")}
    kb.close()
    extra = tmp_path / "extra.md"
    extra.write_text("# Volcanoes\n\nMagma that reaches the surface is called lava.\n")
    proc = subprocess.run([sys.executable, "-c", _KILLED_CHILD, str(kb.paths.data_dir),
                           str(kb.paths.cache_dir), str(extra)], capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]

    kb2 = KnowledgeBase(kb.paths, embedder=embedder)
    assert kb2.repaired == ["bio"]
    assert {d.name for d in kb2.list_documents("bio")} == before | {"extra.md"}
    assert kb2.search("What is magma at the surface called?", "bio", mode="dense")[0].document == "extra.md"
    stats = kb2.stats("bio")["courses"]["bio"]
    assert stats["index_vectors"] == stats["chunks"]
    assert kb2.add_file(extra, "bio").status == "skipped"  # committed once, not duplicated by a retry
    kb2.close()


def test_hnsw_above_threshold_and_delete_rebuilds(paths, embedder):
    kb = KnowledgeBase(paths, KBConfig(hnsw_threshold=8), embedder=embedder)
    docs = [(f"topic{i}.md", f"# Topic {i}\n\nFact {i}: the code word for item {i} is {w}.\n")
            for i, w in enumerate("apple bridge cactus dolphin ember falcon glacier harbor island jungle".split())]
    kb.add_texts("big", docs)
    assert kb.stats("big")["courses"]["big"]["index"] == "hnsw"
    assert kb.search("code word dolphin", "big")[0].document == "topic3.md"
    kb.delete("big", "topic3.md")
    assert all(h.document != "topic3.md" for h in kb.search("code word dolphin", "big", k=9))
    kb.delete("big", "topic4.md")
    kb.delete("big", "topic5.md")
    assert kb.stats("big")["courses"]["big"]["index"] == "flat"  # back under the threshold
    kb.close()


def test_bad_inputs_never_lose_stored_data(kb, tmp_path):
    good = tmp_path / "good.md"
    good.write_text("# Good\n\nOsmosis moves water across a membrane.\n")
    kb.add_file(good, "c")
    bad = {
        "empty.md": b"",
        "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 8,
        "corrupt.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nbroken\x00",
        "big.txt": b"lorem ipsum " * 120_000,
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(("Élève: le théâtre grec était joué en plein air, à Épidaure. " * 4).encode("latin-1"))
    kb.config.max_file_mb = 1.0
    results = kb.add([tmp_path / n for n in bad] + [latin, tmp_path / "missing.md"], "c")
    status = {r.name: (r.status, r.error) for r in results}
    assert status["empty.md"][0] == "error" and "empty" in status["empty.md"][1]
    assert status["binary.md"][0] == "error" and "binary" in status["binary.md"][1]
    assert status["corrupt.pdf"][0] == "error" and "PDF" in status["corrupt.pdf"][1]
    assert status["big.txt"][0] == "error" and "max_file_mb" in status["big.txt"][1]
    assert status["missing.md"][0] == "error" and "no such file" in status["missing.md"][1]
    assert status["latin.txt"][0] == "added"
    assert "théâtre" in kb.search("théâtre grec", "c")[0].text
    for name in bad:
        with pytest.raises(IngestError) as err:
            kb.add_file(tmp_path / name, "c")
        assert name in str(err.value)
    assert sorted(d.name for d in kb.list_documents("c")) == ["good.md", "latin.txt"]
    assert kb.search("osmosis membrane", "c")[0].document == "good.md"


def test_an_added_file_is_read_once(kb, tmp_path, monkeypatch):
    """The bytes that are hashed (duplicate detection) are the bytes that are parsed: one read per file,
    whatever its format (text formats through read_text, PDF and DOCX from the same bytes)."""
    import builtins
    import io

    folder = tmp_path / "course"
    write_course(folder)
    opened = []
    real_open = io.open

    def counting_open(file, mode="r", *args, **kwargs):
        if "r" in mode and str(file).startswith(str(folder)):
            opened.append(Path(file).name)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)  # pathlib reads and zipfile open through io.open
    monkeypatch.setattr(builtins, "open", counting_open)  # pypdf through open
    results = kb.add([folder], "bio")
    monkeypatch.undo()
    assert sorted(r.status for r in results) == ["added"] * 5
    assert sorted(opened) == sorted(r.name for r in results)
    for r in results:
        stored = kb.db.query("SELECT hash FROM documents WHERE id = ?", (r.doc_id,))[0][0]
        assert stored == hashlib.sha256((folder / r.name).read_bytes()).hexdigest()


def test_upload_names_are_sanitised(kb, tmp_path):
    f = tmp_path / "upload.tmp.md"
    f.write_text("# Upload\n\nEnzymes lower activation energy.\n")
    res = kb.add_file(f, "c", name="../../etc/passwd.md")
    assert res.name == "etc/passwd.md" and res.status == "added"
    f.write_text("# Upload 2\n\nCatalysts are not consumed.\n")
    assert kb.add_file(f, "c", name="/abs/path/notes.md").name == "abs/path/notes.md"
    f.write_text("# Upload 3\n\nRibosomes make proteins.\n")
    with pytest.raises(IngestError, match="unusable document name"):
        kb.add_file(f, "c", name="../..")
    with pytest.raises(ConfigError, match="course name"):
        kb.add_file(f, "../evil")
    with pytest.raises(ConfigError, match="search mode"):
        kb.search("x", "c", mode="fuzzy")


def test_faq_set_match_add_and_persist(kb, embedder):
    from knowledge_base import FAQEntry

    assert kb.match_faq("anything", "c") is None
    assert kb.search("anything", "c") == []
    n = kb.set_faq("c", [FAQEntry("When is the exam?", "June 12.", source="exam.txt"),
                         FAQEntry("How do I get an extension?", "Email the instructor.", language="en"),
                         FAQEntry("课程什么时候开始？", "九月一日。", language="zh")])
    assert n == 3
    entry, cos = kb.match_faq("what day is the exam", "c")
    assert entry.answer == "June 12." and entry.source == "exam.txt" and 0.5 < cos <= 1.0001
    assert kb.search("exam", "c") == [] and kb.stats("c")["courses"]["c"]["faq"] == 3  # FAQ only, no documents
    new_id = kb.add_faq_entry("c", "Where is office hour?", "Room 204.", language="en")
    assert kb.match_faq("where are office hours held", "c")[0].id == new_id
    with pytest.raises(FAQFormatError, match="answer is empty"):
        kb.add_faq_entry("c", "Question?", " ")
    kb2 = reopen(kb, embedder)
    assert [e.question for e in kb2.faq("c")][-1] == "Where is office hour?"
    assert kb2.match_faq("what day is the exam", "c")[1] == pytest.approx(cos, abs=1e-5)
    kb2.db.execute("UPDATE faq SET embedding = NULL")  # embeddings recomputed when missing
    kb2.faqs.forget("c")
    assert kb2.match_faq("what day is the exam", "c")[1] == pytest.approx(cos, abs=1e-5)
    assert kb2.set_faq("c", []) == 0 and kb2.match_faq("exam", "c") is None
    kb2.close()


def test_ensure_sample_course_once(kb):
    kb.ensure_sample_course()
    docs = kb.list_documents("sample")
    assert len(docs) == 8 and all(d.name[:2].isdigit() for d in docs)
    assert len(kb.faq("sample")) >= 10
    kb.ensure_sample_course()
    assert len(kb.list_documents("sample")) == 8
    sources = {e.source for e in kb.faq("sample") if e.source}
    assert sources <= {d.name for d in docs}
    entry, _ = kb.match_faq("How large is the SmolLM2-135M vocabulary?", "sample")
    assert "49,152" in entry.answer
    assert kb.search("SmolLM2 vocabulary size", "sample")[0].document == "01-tokenization.md"


def test_reranker_reorders_the_fused_candidates(paths, embedder, tmp_path, monkeypatch):
    """KBConfig.rerank: the named reranker sees the question and the top `candidates` fused hits (not only
    the top k) and its order is the answer; without one (the default) the RRF order is kept."""
    from knowledge_base import rerank

    monkeypatch.setattr(rerank, "RERANKERS", {})  # what this test registers does not outlive it
    seen = []

    def by_bm25(question, hits):
        seen.append((question, [h.chunk_id for h in hits]))
        return sorted(hits, key=lambda h: -(h.lexical_score or 0.0))

    assert rerank.register_reranker("by-bm25", by_bm25) is by_bm25
    write_course(tmp_path / "course")
    plain = KnowledgeBase(paths, embedder=embedder)
    plain.add([tmp_path / "course"], "bio")
    question = "Who crossed the Rubicon, and what does chlorophyll reflect?"
    pool = plain.search(question, "bio", k=plain.config.candidates)
    assert plain.search(question, "bio", k=3) == pool[:3]  # no reranker: the fused order
    plain.close()

    kb = KnowledgeBase(paths, KBConfig(rerank="by-bm25"), embedder=embedder)
    hits = kb.search(question, "bio", k=3)
    expected = sorted(pool, key=lambda h: -(h.lexical_score or 0.0))[:3]
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in expected]
    assert seen == [(question, [h.chunk_id for h in pool])] and len(pool) > 3
    assert [h.lexical_score or 0.0 for h in hits] == sorted((h.lexical_score or 0.0 for h in hits), reverse=True)
    assert all(-1 <= h.dense_score <= 1 for h in hits)  # evidence cosines as without a reranker

    rerank.register_reranker("reverse", lambda question, hits: hits[::-1])
    kb.config.rerank = "reverse"
    assert [h.chunk_id for h in kb.search(question, "bio", k=2)] == [h.chunk_id for h in pool[::-1][:2]]
    kb.close()


def test_unknown_reranker_is_a_config_error(paths, embedder):
    with pytest.raises(ConfigError, match=r"unknown reranker 'no-such'.*KBConfig.rerank.*register_reranker"):
        KnowledgeBase(paths, KBConfig(rerank="no-such"), embedder=embedder)
    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("c", [("a.md", "# A\n\nThe lab opens at nine.\n")])
    kb.config.rerank = "no-such"  # changed after opening: the search says so
    with pytest.raises(ConfigError, match="unknown reranker 'no-such'"):
        kb.search("When does the lab open?", "c")
    kb.close()


def test_query_cache_returns_the_encoded_vector(embedder):
    q = "How are grades computed this term?"
    first = embedder.encode_query(q)
    assert np.allclose(first, embedder.encode([q], model=embedder.query_model, kind="query")[0], atol=1e-5)
    assert embedder.encode_query(q) is first and not first.flags.writeable


def test_sentence_cache_encodes_each_sentence_once(embedder, monkeypatch):
    """The engine embeds the sentences of every retrieved chunk; a sentence seen before is not embedded again,
    and a batch mixing seen and new sentences gives the vectors ``encode`` gives."""
    seen = ["Problem sets are due on Fridays.", "The lab opens at 9:00."]
    new = ["Office hours are on Wednesdays."]
    first = embedder.encode_sentences(seen)
    assert np.allclose(first, embedder.encode(seen), atol=1e-5)
    calls = []
    real = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kw: calls.append(list(texts)) or real(texts, **kw))
    mixed = embedder.encode_sentences([new[0], seen[1], new[0]])
    assert calls == [new]  # only the unseen sentence, once
    assert np.allclose(mixed, np.stack([real(new)[0], first[1], real(new)[0]]), atol=1e-5)
    assert embedder.encode_sentences([]).shape == (0, embedder.dim)


def test_query_vectors_in_bf16_match_fp32_and_documents_stay_fp32(embedder):
    """``query_precision='auto'`` may embed questions with a bf16 copy (native-bf16 CPUs); the vectors must
    stay unit-norm and point where the fp32 ones do, and documents are never embedded with it."""
    from knowledge_base.embedder import Embedder
    from basics.hardware import cpu_supports_bf16

    questions = ["What does LoRA train?", "什么是注意力机制？", "How many heads does multi-head attention use?"]
    exact = Embedder("all-MiniLM-L6-v2", query_precision="fp32", query_cache=0)
    exact._model = embedder.model  # the same weights, loaded once
    fast = Embedder("all-MiniLM-L6-v2", query_precision="bf16", query_cache=0)
    fast._model = embedder.model
    auto = Embedder("all-MiniLM-L6-v2", query_cache=0)
    auto._model = embedder.model
    reference = exact.encode(questions, kind="query")
    assert np.allclose(np.stack([exact.encode_query(q) for q in questions]), reference, atol=1e-5)  # batch padding only
    bf16 = np.stack([fast.encode_query(q) for q in questions])
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert (bf16 * reference).sum(axis=1).min() > 0.99
    assert np.abs(bf16 - reference).max() > 1e-4  # really another model's output, not batch-padding noise
    assert np.array_equal(fast.encode(questions, kind="query"), reference)  # documents: fp32 whatever the query precision
    assert (auto.query_model is auto.model) == (not cpu_supports_bf16())
    with pytest.raises(ValueError, match="query_precision"):
        Embedder(query_precision="int3")


# ---------------------------------------------------------------------------------------------- course page


def test_a_database_from_before_course_texts_upgrades_with_its_data(paths, embedder):
    """Migration 004 on a database that ran 001-003 (made by those very migrations, rows as they stored them):
    documents, chunks and FAQ stay and are searched as before; the course shows its id until given a title."""
    import sqlite3

    from basics.db import Database
    from knowledge_base.store import _m001_schema, _m002_course_embedder, _m003_course_language

    db = Database(paths.db_path)
    text = "Lava is magma that reached the surface."
    with db.transaction() as conn:
        for name, migration in (("001_schema", _m001_schema), ("002_course_embedder", _m002_course_embedder),
                                ("003_course_language", _m003_course_language)):
            migration(conn)
            conn.execute("INSERT INTO _migrations (namespace, name) VALUES ('kb', ?)", (name,))
        conn.execute("INSERT INTO courses (name, created_at, embedder, dim, language) "
                     "VALUES ('geo', 'then', 'all-MiniLM-L6-v2', 384, 'en')")
        conn.execute("INSERT INTO documents (course_id, name, title, hash, added_at) VALUES (1, 'lava.md', 'Lava', 'h', 'then')")
        conn.execute("INSERT INTO chunks (doc_id, course_id, chunk_key, ordinal, text, start, end, lex_tokens, embedding) "
                     "VALUES (1, 1, 'k', 0, ?, 0, 39, 'lava magma surfac', ?)", (text, store.to_blob(embedder.encode([text])[0])))
        conn.execute("INSERT INTO faq (course_id, question, answer, source, embedding) VALUES (1, 'What is lava?', "
                     "'Magma at the surface.', 'lava.md', ?)", (store.to_blob(embedder.encode_query("What is lava?")),))
    db.close()

    kb = KnowledgeBase(paths, embedder=embedder)
    assert [d.name for d in kb.list_documents("geo")] == ["lava.md"]
    assert kb.search("What is lava?", "geo")[0].text == text
    assert [(e.question, e.answer) for e in kb.faq("geo")] == [("What is lava?", "Magma at the surface.")]
    assert kb.course_info("geo") == store_info("geo", "geo", examples=["What is lava?"])
    assert kb.course_language("geo") == "en" and kb.stats("geo")["courses"]["geo"]["embedder"] == "all-MiniLM-L6-v2"
    kb.set_course_info("geo", title="Volcanoes")
    kb.close()
    migrations = sqlite3.connect(paths.db_path).execute("SELECT name FROM _migrations ORDER BY name").fetchall()
    assert [m[0] for m in migrations] == ["001_schema", "002_course_embedder", "003_course_language", "004_course_info",
                                          "005_chunk_key_index"]
    again = KnowledgeBase(paths, embedder=embedder)  # the migration ran once: reopening keeps the title
    assert again.course_info("geo").title == "Volcanoes"
    again.close()


def store_info(name: str, title: str, description: str = "", welcome: str = "", examples=()):
    from knowledge_base.course_info import CourseInfo

    return CourseInfo(name, title, description, welcome, list(examples))


def test_course_texts_are_set_cleaned_checked_and_kept(kb, embedder):
    kb.add_texts("c", [("notes.md", "# Notes\n\nThe lab opens at nine.")])
    assert kb.course_info("c") == store_info("c", "c", examples=["What does the course say about “Notes”?"])
    info = kb.set_course_info("c", title="  Lab\tsafety\x1b[0m\n101 ", description="Rules of the lab,\r\nhours.\x07",
                              welcome="Welcome!\r\n\r\n\r\n\r\nAsk about the lab.\x00\ud800  ")
    assert (info.title, info.description, info.welcome) == ("Lab safety[0m 101", "Rules of the lab, hours.",
                                                            "Welcome!\n\nAsk about the lab.")
    assert kb.course_titles() == {"c": "Lab safety[0m 101"}
    # None keeps a text, "" clears it (a cleared title shows the course id again)
    assert kb.set_course_info("c", description="Lab rules.").title == "Lab safety[0m 101"
    assert kb.set_course_info("c", title="", welcome="").title == "c"
    assert kb.course_info("c").description == "Lab rules." and kb.course_info("c").welcome == ""
    before = kb.course_info("c")
    for bad, match in ((dict(title="T" * 121), "title is 121 characters long; at most 120"),
                       (dict(description="ok", welcome="W" * 2001), "welcome is 2001 characters"),
                       (dict(title=7), "title must be text")):
        with pytest.raises(ConfigError, match=match):
            kb.set_course_info("c", **bad)
    assert kb.course_info("c") == before  # a refused call changes nothing, not even its valid fields
    with pytest.raises(ConfigError, match="no course 'nope'.*courses: c"):
        kb.set_course_info("nope", title="X")
    with pytest.raises(ConfigError, match="no course 'nope'"):
        kb.course_info("nope")
    with pytest.raises(ConfigError, match="is not valid"):
        kb.course_info("../etc")
    kb.set_course_info("c", title="Lab safety", welcome="Line one\nline two")
    kb2 = reopen(kb, embedder)
    assert (kb2.course_info("c").title, kb2.course_info("c").welcome) == ("Lab safety", "Line one\nline two")
    kb2.close()


def test_example_questions_come_from_the_faq_one_per_page_else_from_document_titles(kb, paths, embedder):
    from knowledge_base.faq_entries import FAQEntry

    kb.add_texts("c", [("a.md", "# Alpha\n\nAlpha text."), ("b.md", "# Beta\n\nBeta text."),
                       ("c.md", "# Alpha\n\nThe same title again."), ("notes.md", "No heading, so the title is the file's name.")])
    kb.set_faq("c", [FAQEntry("What is alpha?", "A letter.", source="a.md"),
                     FAQEntry("Why alpha first?", "Order.", source="a.md"),
                     FAQEntry("Can I skip the exam?", "No.", source="b.md", answerable=False),
                     FAQEntry("What is beta?", "Another letter.", source="b.md"),
                     FAQEntry("Why " + "really " * 30 + "gamma?", "Too long for a button.", source="c.md"),
                     FAQEntry("What is delta?", "No page.")])
    # first one question per page (row order), then the next ones; unanswerable and over-long rows left out
    assert kb.course_info("c").examples == ["What is alpha?", "What is beta?", "What is delta?"]
    kb.set_faq("c", [FAQEntry("What is alpha?", "A letter.", source="a.md"), FAQEntry("Why alpha first?", "Order.", source="a.md")])
    assert kb.course_info("c").examples == ["What is alpha?", "Why alpha first?"]
    kb.set_faq("c", [])  # no FAQ: a question per distinct document title; a title that is only a file name is none
    assert kb.course_info("c").examples == ["What does the course say about “Alpha”?", "What does the course say about “Beta”?"]
    kb2 = reopen(kb, embedder, course_examples=1)
    assert kb2.course_info("c").examples == ["What does the course say about “Alpha”?"]
    kb2.close()
    with pytest.raises(ConfigError, match="course_examples"):
        KBConfig(course_examples=-1)


def test_built_in_courses_come_with_their_title_description_and_welcome(kb):
    """The sample course gets its course.json texts when loaded, and a database loaded before course.json
    existed gets them at the next start; an instructor's own title is never overwritten."""
    from knowledge_base.course_info import read_course_file
    from knowledge_base.facade import BUILTIN_COURSES

    stats = read_course_file(BUILTIN_COURSES["estatistica"])
    assert stats["title"] == "Introdução à Estatística" and "testes de hipóteses" in stats["description"]
    kb.ensure_sample_course()
    info = kb.course_info("sample")
    assert info.title == "How Transformers and fine-tuning work" and "LoRA" in info.description and info.welcome
    assert info.examples == ["What does a tokenizer do?", "What is the formula for scaled dot-product attention?",
                             "When was the Transformer introduced?"]  # the first question of each of three pages
    kb.db.execute("UPDATE courses SET title = NULL, description = NULL, welcome = NULL")  # as before course.json
    kb.ensure_sample_course()
    assert kb.course_info("sample").title == "How Transformers and fine-tuning work"
    kb.set_course_info("sample", title="Our ML course")
    kb.ensure_sample_course()
    assert kb.course_info("sample").title == "Our ML course"


def test_a_wrong_course_file_is_an_error_naming_it(tmp_path):
    from knowledge_base.course_info import read_course_file

    assert read_course_file(tmp_path) == {}
    (tmp_path / "course.json").write_text('{"title": "T", "tilte": "typo"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="course.json: expected a JSON object with the keys title"):
        read_course_file(tmp_path)
    (tmp_path / "course.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="course.json: not a readable JSON object"):
        read_course_file(tmp_path)
