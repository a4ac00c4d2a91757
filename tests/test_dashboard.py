"""The instructor's dashboard (issue 37 item 4) on a seeded question log: a few hundred questions over two weeks in a
real SQLite file, written through ``tutor.records``, grouped with the bundled MiniLM embedder. Then the console's
handler on the same log: what it shows, the CSV files it offers, and that it answers only a logged-in instructor."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import gradio as gr
import numpy as np
import pytest
from question_log import CLOSED, DAYS, NEVER_CITED, NOW, TOPICS, seeded_course

from tutor.dashboard import CSV_FILES, ClosedGap, Dashboard, DashboardConfig, dashboard_data, read_csv, to_csv
from tutor.topics import QuestionVectors, group_questions, normalized


@pytest.fixture
def kb(paths, embedder):
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(paths, embedder=embedder)
    yield kb
    kb.close()


@pytest.fixture
def seeded(kb):
    """(kb, the planned rows, those of course demo inside the two weeks up to NOW)."""
    rows = seeded_course(kb)
    first = NOW.date() - timedelta(days=DAYS - 1)
    window = [r for r in rows if r.course == "demo" and first <= r.day <= NOW.date()]
    assert 300 <= len(window) <= 400
    return kb, rows, window


def test_questions_per_day_and_outcome_shares_count_the_log(seeded):
    kb, rows, window = seeded
    dash = dashboard_data(kb, "demo", DashboardConfig(days=DAYS), now=NOW)
    assert (dash.first_day, dash.last_day) == ("2025-03-01", "2025-03-14") and len(dash.per_day) == DAYS
    for day in dash.per_day:
        asked = [r for r in window if r.day.isoformat() == day.day]
        outcomes = Counter(r.outcome for r in asked)
        assert day.questions == len(asked) > 0
        assert (day.answered, day.faq, day.quoted, day.refused, day.error) == tuple(
            outcomes[o] for o in ("answered", "faq", "quoted", "refused", "error"))
        assert day.rated_down == sum(r.rating == -1 for r in asked)
    total = dash.totals
    assert total.questions == len(window) and total.rated_down == sum(r.rating == -1 for r in window)
    shares = dash.shares
    assert shares["refused"] == pytest.approx(sum(r.outcome == "refused" for r in window) / len(window))
    assert sum(shares[o] for o in ("answered", "faq", "quoted", "refused", "error")) == pytest.approx(1.0)
    # a longer period: days without questions are rows of zeros; the question 40 days back and the one after NOW
    # stay out, and so do another course's
    month = dashboard_data(kb, "demo", DashboardConfig(days=30), now=NOW)
    assert len(month.per_day) == 30 and month.per_day[0].day == "2025-02-13" and month.per_day[0].questions == 0
    assert month.totals == total


def test_topics_group_the_questions_that_ask_the_same_thing(seeded):
    kb, rows, window = seeded
    dash = dashboard_data(kb, "demo", DashboardConfig(days=DAYS), now=NOW)
    topic_of = {q: name for name, (questions, _) in TOPICS.items() for q in questions}
    assert dash.grouped == len(window)
    found = {}
    for topic in dash.topics:
        names = {topic_of[q] for q in topic.questions}
        assert len(names) == 1, f"one topic mixes {names}: {topic.questions}"  # never two subjects in one
        found[names.pop()] = topic
    assert set(found) == set(TOPICS)  # each subject is one topic, all of its wordings in it
    for name, topic in found.items():
        asked = [r for r in window if r.topic == name]
        assert sorted(topic.questions) == sorted({r.question for r in asked}) and topic.size == len(asked)
        assert topic.examples == topic.questions[:3] and topic.refused == sum(r.outcome == "refused" for r in asked)
        assert topic.rated_down == sum(r.rating == -1 for r in asked)
        doc = TOPICS[name][1]
        assert topic.documents == ([(doc, sum(bool(r.documents) for r in asked))] if doc else [])
    assert [t.size for t in dash.topics] == sorted((t.size for t in dash.topics), reverse=True)
    assert dash.topics[0].questions[0] in TOPICS["exam"][0]  # the most asked subject leads
    # the work is capped: only the latest questions are grouped
    capped = dashboard_data(kb, "demo", DashboardConfig(days=DAYS, max_questions=50), now=NOW)
    assert capped.grouped == 50 and sum(t.size for t in capped.topics) <= 50
    assert capped.totals.questions == len(window)  # the counts are not capped


def test_documents_never_cited_and_citation_counts(seeded):
    kb, rows, _ = seeded
    dash = dashboard_data(kb, "demo", DashboardConfig(days=DAYS), now=NOW)
    assert [d.name for d in dash.never_cited] == NEVER_CITED  # syllabus.md is cited in another course only
    counts = {d.name: d.citations for d in dash.documents}
    demo = [r for r in rows if r.course == "demo"]  # citations of the whole log, not only the period
    assert counts["exams.md"] == sum("exams.md" in r.documents for r in demo) > 0
    assert counts["lora.md"] == sum("lora.md" in r.documents for r in demo)
    assert [d.name for d in dash.documents][0] == max(counts, key=counts.get)  # most cited first


def test_unanswered_questions_that_became_faq_entries(seeded):
    kb, rows, window = seeded
    dash = dashboard_data(kb, "demo", DashboardConfig(days=DAYS), now=NOW)
    gaps = {g.question: g for g in dash.closed_gaps}
    assert set(gaps) == set(CLOSED)  # the football question has no FAQ entry; the exam FAQ answered its question
    for question, gap in gaps.items():
        unanswered = [r for r in window if r.question == question and r.outcome != "faq"
                      and (r.outcome in ("refused", "error") or r.rating == -1)]
        newest = max(unanswered, key=lambda r: r.created_at)
        assert gap.faq_question == CLOSED[question] and gap.times == len(unanswered)
        assert gap.last_asked == newest.created_at
        assert gap.why == (newest.outcome if newest.outcome in ("refused", "error") else "rated_down")
    assert gaps["What is the best chocolate cake recipe?"].cosine == 1.0  # the same words, other case, no "?"
    assert kb.embedder.spec.faq_threshold <= gaps["Can you recommend a good pizza place?"].cosine < 1.0
    assert [g.times for g in dash.closed_gaps] == sorted((g.times for g in dash.closed_gaps), reverse=True)


def test_csv_files_hold_the_tables_and_no_spreadsheet_formula(seeded, tmp_path):
    kb, _, window = seeded
    dash = dashboard_data(kb, "demo", DashboardConfig(days=DAYS), now=NOW)
    files = to_csv(dash, tmp_path / "csv")
    assert [f.name for f in files] == [f"demo-2025-03-01-2025-03-14-{name}.csv" for name in CSV_FILES]
    per_day, topics, documents, gaps = (read_csv(f) for f in files)
    assert len(per_day) == DAYS + 1 and per_day[-1]["day"] == "total" and int(per_day[-1]["questions"]) == len(window)
    assert [int(r["questions"]) for r in per_day[:-1]] == [d.questions for d in dash.per_day]
    assert [int(r["questions"]) for r in topics] == [t.size for t in dash.topics]
    assert topics[0]["examples"].split(" | ") == dash.topics[0].examples
    assert [r["document"] for r in documents if r["citations"] == "0"] == NEVER_CITED
    assert {r["question"] for r in gaps} == set(CLOSED)
    # a student's text that a spreadsheet would run as a formula is written as text
    hostile = Dashboard("demo", "2025-03-14", "2025-03-14",
                        closed_gaps=[ClosedGap("=HYPERLINK(\"http://x\")", "refused", 1, "2025-03-14T10:00:00+00:00", "@SUM(A1)", 0.9)])
    row = read_csv(to_csv(hostile, tmp_path / "hostile")[3])[0]
    assert row["question"] == "'=HYPERLINK(\"http://x\")" and row["faq_question"] == "'@SUM(A1)" and row["times"] == "1"


def test_grouping_is_deterministic_and_led_by_the_most_asked():
    """Two tight clusters and a stray, on unit vectors: the heavier neighbourhood forms first, its centre leads."""
    rng = np.random.default_rng(0)
    a, b = np.eye(8)[0], np.eye(8)[1]
    vecs = np.stack([a + 0.05 * rng.standard_normal(8) for _ in range(3)] + [b + 0.05 * rng.standard_normal(8) for _ in range(4)]
                    + [np.eye(8)[2]])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    weights = np.array([1, 9, 1, 1, 1, 1, 1, 1])
    groups = group_questions(vecs, weights, 0.8)
    assert groups == group_questions(vecs.copy(), weights, 0.8)
    assert [sorted(g) for g in groups] == [[0, 1, 2], [3, 4, 5, 6], [7]] and groups[0][0] == 1  # weight 11 before 4
    assert group_questions(np.zeros((0, 8)), np.zeros(0), 0.8) == []
    assert normalized("  What is the BEST  cake-recipe?! ") == normalized("what is the best cake recipe")


def test_question_vectors_embed_each_question_once(embedder):
    calls = []

    class Counting:
        dim, name = embedder.dim, embedder.name

        def encode(self, texts, kind="document"):
            calls.append(list(texts))
            return embedder.encode(texts, kind=kind)

    vectors = QuestionVectors(Counting())
    first = vectors.encode(["What does LoRA train?", "When is the exam?", "What does LoRA train?"])
    again = vectors.encode(["When is the exam?", "Who grades the project?"])
    assert calls == [["What does LoRA train?", "When is the exam?"], ["Who grades the project?"]]
    assert np.allclose(first[1], again[0]) and np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_settings_and_courses_that_do_not_exist_are_refused(kb):
    from basics.errors import ConfigError

    for bad, name in ((dict(days=0), "days"), (dict(days=10**6), "days"), (dict(days="30"), "days"),
                      (dict(topic_threshold=1.5), "topic_threshold"), (dict(max_questions=0), "max_questions")):
        with pytest.raises(ConfigError, match=name):
            DashboardConfig(**bad)
    kb.add_texts("demo", [("a.md", "# A\n\nText.")])
    with pytest.raises(ConfigError, match="no course 'nope'; courses: demo"):
        dashboard_data(kb, "nope")
    empty = dashboard_data(kb, "demo")  # a course nobody asked yet: zeros, no topic, every document never cited
    assert empty.totals.questions == 0 and empty.topics == [] and [d.name for d in empty.never_cited] == ["a.md"]
    assert set(empty.shares.values()) == {0.0}


# ------------------------------------------------------------------------------------------ the console

PASSWORD = "correct horse battery staple"
BROWSER_KEY = "b" * 64
BROWSER = gr.Request(headers={"cookie": f"tutor_browser={BROWSER_KEY}"})


@pytest.fixture
def console(kb):
    """The console of an app over a log seeded up to the present (the handler's period ends today), logged in:
    (console, token)."""
    import app

    seeded_course(kb, now=datetime.now(timezone.utc))
    config = app.AppConfig(course="demo", instructor_user="prof", instructor_password=PASSWORD, load_sample_course=False,
                           login_failure_delay_s=0.0, model="smollm2-135m-instruct")
    parts = app.build_parts(config, kb=kb)
    token, *_ = parts.console.login("prof", PASSWORD, BROWSER)
    assert token
    return parts.console, token


def test_the_dashboard_tab_shows_plots_tables_and_csv_files(console):
    from matplotlib.figure import Figure

    console, token = console
    summary, per_day, outcomes, topics, never_cited, gaps, files = console.dashboard(token, "demo", 14, request=BROWSER)
    assert summary.startswith("**demo**") and "questions" in summary and "refused" in summary, summary
    assert isinstance(per_day, Figure) and isinstance(outcomes, Figure)
    counts = per_day.axes[0].lines[0].get_ydata()
    assert len(counts) == 14 and sum(counts) > 300  # one point a day
    assert len(outcomes.axes[0].patches) == 14 * 5  # a bar per day and outcome
    assert topics[0][0] >= topics[-1][0] and any("final exam" in row[1] for row in topics)
    assert [row[0] for row in never_cited] == NEVER_CITED
    assert {row[0] for row in gaps} == set(CLOSED) and {row[1] for row in gaps} <= {"refused", "error", "👎"}
    assert len(files) == len(CSV_FILES) and all(f.endswith(".csv") for f in files)
    month = console.dashboard(token, "demo", 30, request=BROWSER)
    assert len(month[1].axes[0].lines[0].get_ydata()) == 30


def test_the_dashboard_answers_only_a_logged_in_instructor(console):
    console, token = console
    other_browser = gr.Request(headers={"cookie": "tutor_browser=" + "c" * 64})
    forged = "prof|9999999999|" + "0" * 32 + "|" + "0" * 64
    for session, request in ((None, BROWSER), (forged, BROWSER), (token, None), (token, other_browser)):
        with pytest.raises(gr.Error, match="Instructor login required"):
            console.dashboard(session, "demo", 30, request=request)
    console.logout(token, request=BROWSER)
    with pytest.raises(gr.Error, match="Instructor login required"):
        console.dashboard(token, "demo", 30, request=BROWSER)


def test_the_dashboard_says_what_is_wrong_with_a_course_or_period(console):
    console, token = console
    summary, *rest = console.dashboard(token, "nope", 30, request=BROWSER)
    assert summary.startswith("⚠️") and "no course" in summary and rest == [None, None, [], [], [], None]
    summary, *_ = console.dashboard(token, "<img src=x onerror=alert(1)>", 30, request=BROWSER)
    assert "<img" not in summary and "&lt;img" in summary
    for days in (-3, 0, "30", 10**9):
        summary, *_ = console.dashboard(token, "demo", days, request=BROWSER)
        assert summary.startswith("⚠️") and "days" in summary, days
