"""Chinese retrieval through the lexical leg, and the `tutor kb` CLI (CliRunner, real store)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from knowledge_base import KnowledgeBase
from basics.config import Paths
from basics.text import is_cjk
from knowledge_base.lexical import tokenize
from tests.conftest import SHARED_DATA
from tests.test_kb_store import write_course

ZH_DOCS = [
    ("长城.md", "# 长城\n\n长城是中国古代修建的军事防御工程，总长度超过两万一千千米，明朝时期进行了大规模的重建。"),
    ("熊猫.md", "# 大熊猫\n\n大熊猫主要生活在四川、陕西和甘肃的山区竹林中，每天要吃十二到三十八公斤竹子。"),
    ("长江.md", "# 长江\n\n长江是亚洲第一长河，全长约六千三百公里，流经青海、西藏、四川、湖北等省份，最后注入东海。"),
]


def test_tokenize_segments_chinese_and_normalises_english():
    toks = tokenize("大熊猫每天吃多少竹子？ The Students were GRADED")
    assert "熊猫" in toks and "竹子" in toks and "的" not in toks
    assert "student" in toks and "grad" in toks and "the" not in toks
    assert is_cjk("大熊猫吃什么") and not is_cjk("What do pandas eat? 熊猫")


def test_chinese_question_finds_paragraph_via_lexical_leg(paths, embedder):
    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("zh", ZH_DOCS)
    for question, doc in [("大熊猫每天吃多少竹子？", "熊猫.md"), ("长江注入哪个海？", "长江.md"),
                          ("长城在哪个朝代重建？", "长城.md")]:
        lexical = kb.search(question, "zh", k=3, mode="lexical")
        assert lexical[0].document == doc and lexical[0].lexical_score > 0
        hybrid = kb.search(question, "zh", k=3)
        assert hybrid[0].document == doc
        assert -1 <= hybrid[0].dense_score <= 1
    kb.close()


@pytest.mark.skipif(not (SHARED_DATA / "xquad-dev").exists(), reason="shared xquad-dev data not present")
def test_xquad_zh_lexical_leg_closes_the_dense_gap(paths, embedder):
    data = json.loads((SHARED_DATA / "xquad-dev" / "xquad-dev.zh.json").read_text(encoding="utf-8"))["data"]
    docs, queries = [], []
    for a, article in enumerate(data[:4]):
        for p, para in enumerate(article["paragraphs"]):
            docs.append((f"{a}-{p}.txt", para["context"]))
            queries += [(qa["question"], f"{a}-{p}.txt") for qa in para["qas"][:2]]
    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("xquad-zh", docs)

    def recall_at_1(mode: str) -> float:
        tops = [[h.document for h in kb.search(q, "xquad-zh", k=1, mode=mode)] for q, _ in queries]
        return sum(top == [gold] for top, (_, gold) in zip(tops, queries)) / len(queries)

    dense, lexical, hybrid = recall_at_1("dense"), recall_at_1("lexical"), recall_at_1("hybrid")
    # Measured on the whole set: dense 0.22, lexical 0.82 (bench/retrieval.py). Margins leave room for noise.
    assert lexical > dense + 0.25, (dense, lexical, hybrid)
    assert hybrid > dense + 0.25, (dense, lexical, hybrid)
    kb.close()


@pytest.fixture
def cli(paths, embedder, monkeypatch):
    """Runs `tutor kb ...` against a temp data dir; the KnowledgeBase it opens reuses the session embedder."""
    from knowledge_base import cli as kb_cli
    from tutor.cli import main

    monkeypatch.setattr(kb_cli, "_open", lambda data_dir: KnowledgeBase(Paths.from_env(data_dir), embedder=embedder))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["kb", *args, "--data-dir", str(paths.data_dir)], catch_exceptions=False)

    return run


def test_cli_add_list_search_rm_stats(cli, tmp_path):
    write_course(tmp_path / "course")
    (tmp_path / "course" / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    res = cli("add", str(tmp_path / "course"), "--course", "bio")
    assert res.exit_code == 1  # one file failed, the others were still added
    assert "error     broken.pdf" in res.output and "5 added, 1 error" in res.output

    res = cli("add", str(tmp_path / "course" / "exam.txt"), "--course", "bio", "--json")
    assert res.exit_code == 0 and json.loads(res.output)[0]["status"] == "skipped"

    listed = json.loads(cli("list", "--json").output)
    assert len(listed) == 5 and {d["course"] for d in listed} == {"bio"}
    assert "photosynthesis.md" in cli("list", "--course", "bio").output

    res = cli("search", "Who crossed the Rubicon?", "--course", "bio", "-k", "2", "--json")
    row = json.loads(res.output)
    assert row["question"] == "Who crossed the Rubicon?" and len(row["hits"]) == 2
    top = row["hits"][0]
    assert top["document"] == "history.html" and {"chunk_id", "score", "text", "section", "page"} <= set(top)
    assert "history.html" in cli("search", "Rubicon", "--course", "bio", "--mode", "lexical").output

    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"question": "What do mitochondria produce?", "id": 1}) + "\n\n"
                       + json.dumps({"question": "Which pigment reflects green light?"}) + "\n")
    res = cli("search", "--queries", str(queries), "--course", "bio", "--json")
    lines = [json.loads(line) for line in res.output.strip().splitlines()]
    assert [ln["hits"][0]["document"] for ln in lines] == ["cells.pdf", "photosynthesis.md"]
    assert lines[0]["hits"][0]["page"] == 2

    queries.write_text('{"question": "ok"}\n{"nope": 1}\n')
    res = cli("search", "--queries", str(queries), "--course", "bio", "--json")
    assert res.exit_code == 2 and "line 2" in res.output

    stats = json.loads(cli("stats", "--json").output)
    assert stats["courses"]["bio"]["documents"] == 5 and stats["courses"]["bio"]["index"] == "flat"

    res = cli("rm", "exam.txt", "--course", "bio", "--json")
    assert json.loads(res.output)["removed"] is True
    assert cli("rm", "exam.txt", "--course", "bio").exit_code == 1
    assert "4 documents" in cli("stats").output


def test_cli_faq_import_replaces_and_bad_file_changes_nothing(cli, tmp_path):
    good = tmp_path / "faq.csv"
    good.write_text("question,answer\nWhen is the exam?,On June 3.\nWhere is the lab?,Room 12.\n")
    res = cli("faq", str(good), "--course", "bio", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"course": "bio", "file": str(good), "entries": 2}

    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nWhen is the exam?,\n,An answer\n")
    res = cli("faq", str(bad), "--course", "bio")
    assert res.exit_code == 2
    assert "bad.csv" in res.output and "row 1" in res.output and "row 2" in res.output
    stats = json.loads(cli("stats", "--json").output)
    assert stats["courses"]["bio"]["faq"] == 2  # the previous FAQ is intact


def test_cli_course_info_shows_and_sets_the_course_page(cli, tmp_path):
    write_course(tmp_path / "course")
    cli("add", str(tmp_path / "course"), "--course", "bio")
    shown = json.loads(cli("course-info", "--course", "bio", "--json").output)
    assert shown["title"] == "bio" and shown["description"] == "" and len(shown["examples"]) == 3
    res = cli("course-info", "--course", "bio", "--title", "Biology 101", "--description", "Cells, plants and genes.",
              "--welcome", "Welcome!\nAsk about any lecture.")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("bio: Biology 101\ndescription: Cells, plants and genes.\nwelcome: Welcome!\nAsk about")
    assert "examples:\n  What does the course say about “" in res.output
    res = cli("course-info", "--course", "bio", "--welcome", "", "--json")  # only the welcome changes
    assert json.loads(res.output)["welcome"] == "" and json.loads(res.output)["title"] == "Biology 101"
    res = cli("course-info", "--course", "bio", "--title", "x" * 121)
    assert res.exit_code != 0 and "title is 121 characters long" in res.output
    res = cli("course-info", "--course", "chem", "--title", "Chemistry")
    assert res.exit_code != 0 and "no course 'chem'" in res.output
    assert json.loads(cli("course-info", "--course", "bio", "--json").output)["title"] == "Biology 101"
