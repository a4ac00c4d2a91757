"""Metrics against hand-computed numbers."""

import pytest

from finetune import metrics as M


def test_squad_normalisation_drops_case_punctuation_articles():
    assert M.normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert M.exact_match("the eiffel tower.", "Eiffel Tower") == 1.0
    assert M.exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_f1_hand_computed():
    # pred tokens: [in, 1889], ref: [1889]; common 1 -> P=1/2, R=1 -> F1 = 2/3
    assert M.f1_score("in 1889", "1889") == pytest.approx(2 / 3)
    # pred [paris, france, capital], ref [capital, of, france]; common 2 -> P=R=2/3
    assert M.f1_score("Paris, France capital", "the capital of France") == pytest.approx(2 / 3)
    assert M.f1_score("nothing", "something else") == 0.0
    assert M.f1_score("", "") == 1.0
    assert M.f1_score("", "x") == 0.0


def test_best_reference_is_the_official_squad_max():
    # "Denver Broncos" against ["Broncos", "Denver Broncos"]: F1 2/3 and 1 -> 1; EM 0 and 1 -> 1
    refs = ["Broncos", "Denver Broncos"]
    assert M.best_reference(M.f1_score, "Denver Broncos", refs) == 1.0
    assert M.best_reference(M.exact_match, "the Broncos", refs) == 1.0
    assert M.best_reference(M.f1_score, "in Denver", refs) == 0.5  # [in, denver] vs [denver, broncos]: P = R = 1/2


def test_token_recall_hand_computed():
    # ref [1889] all in [in, 1889] -> 1; ref [capital, of, france], pred has capital and france -> 2/3
    assert M.token_recall("The lab opened in 1889.", "1889") == 1.0
    assert M.token_recall("Paris, France capital", "the capital of France") == pytest.approx(2 / 3)
    assert M.token_recall("nothing", "something else") == 0.0
    assert M.token_recall("", "") == 1.0 and M.token_recall("x", "") == 0.0


def test_chinese_is_character_level():
    assert M.tokenize("北京大学。") == ["北", "京", "大", "学"]
    # pred 北京 (2 chars), ref 北京市 (3 chars): common 2 -> P=1, R=2/3 -> F1 = 0.8
    assert M.f1_score("北京", "北京市") == pytest.approx(0.8)
    assert M.exact_match("北京 市", "北京市") == 1.0
    # mixed text: Latin words stay words, CJK chars split
    assert M.tokenize("Python是语言") == ["python", "是", "语", "言"]


def test_rouge_l_hand_computed():
    # pred [police, killed, gunman], ref [police, kill, gunman]: LCS 2 -> P=R=2/3
    assert M.rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(2 / 3)
    # pred [a b c d] vs ref [b d]: LCS 2 -> P=1/2, R=1 -> 2/3
    assert M.rouge_l("x b y d", "b d") == pytest.approx(2 / 3)
    assert M.rouge_l("北京大学", "大学北京") == pytest.approx(0.5)


def test_recall_at_k_and_mrr():
    ranked = ["a.md", "b.md", "c.md"]
    assert M.recall_at_k(ranked, "b.md", 1) == 0.0
    assert M.recall_at_k(ranked, "b.md", 5) == 1.0
    assert M.reciprocal_rank(ranked, "c.md") == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, "z.md") == 0.0


def test_refusal_precision_recall():
    refused = [True, True, False, False, True]
    unanswerable = [True, False, True, False, True]
    # tp = 2, refusals made = 3, should refuse = 3
    p, r = M.refusal_scores(refused, unanswerable)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    assert M.refusal_scores([False, False], [False, False]) == (None, None)


def test_percentile_matches_numpy_linear():
    assert M.percentile([10, 20, 30, 40], 50) == pytest.approx(25)
    assert M.percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert M.percentile([], 50) is None


def _row(**kw):
    row = {"recall_at_1": None, "recall_at_5": None, "reciprocal_rank": None, "f1": None, "answer_recall": None,
           "exact_match": None,
           "rouge_l": None, "semantic_similarity": None, "correct": None, "invented": "", "refused": False,
           "answerable": True, "language_match": None, "faq_match": False, "latency_ms": 0.0}
    return {**row, **kw}


def test_metric_table_aggregates_scored_rows():
    rows = [
        _row(recall_at_1=1.0, recall_at_5=1.0, reciprocal_rank=1.0, f1=0.5, exact_match=0.0, rouge_l=0.4,
             semantic_similarity=0.8, correct=1.0, invented="12|Bob", language_match=1.0, latency_ms=100.0),
        _row(recall_at_1=0.0, recall_at_5=1.0, reciprocal_rank=0.5, f1=0.0, exact_match=0.0, rouge_l=0.0,
             semantic_similarity=0.2, correct=0.0, refused=True, faq_match=True, latency_ms=200.0),
        _row(answerable=False, refused=True, correct=1.0, latency_ms=400.0),  # unanswerable, no source: unscored
    ]
    block = M.aggregate(rows)
    assert tuple(block) == M.METRIC_KEYS  # metrics.json's keys, in the table's order
    assert block["n"] == 3 and block["invented_facts"] == 2
    assert block["retrieval_recall_at_1"] == 0.5 and block["mrr"] == 0.75 and block["answer_f1"] == 0.25
    assert block["correct"] == pytest.approx(2 / 3) and block["wrongly_refused"] == 0.5
    assert block["refusal_precision"] == 0.5 and block["refusal_recall"] == 1.0
    assert block["faq_match_rate"] == pytest.approx(1 / 3) and block["language_match"] == 1.0
    assert block["latency_p50_ms"] == 200.0 and block["latency_p95_ms"] == pytest.approx(380.0)
    assert M.aggregate([])["answer_f1"] is None and M.aggregate([])["n"] == 0


def test_metric_table_entries_are_consistent():
    keys = [m.key for m in M.METRICS]
    assert len(set(keys)) == len(keys)
    plotted = sorted(m.plot for m in M.METRICS if m.plot is not None)
    assert plotted == list(range(len(plotted)))  # chart positions 0..n-1, none shared
    assert {m.cli for m in M.METRICS} <= {None, "system", "retrieval"}
    p50 = next(m for m in M.METRICS if m.key == "latency_p50_ms")
    assert (p50.format(123.456), p50.format(None), M.METRICS[0].format(7)) == ("123.5 ms", "- ms", "7")
