"""Browser tests: Debian chromium (through Playwright) against the real app on a loopback port.

What a person does: a student reads what the course is, asks and reads a cited, streamed answer and rates it;
an instructor logs in and uploads a document that then answers a student; a student finds only a login form
behind the Instructor tab. Each test leaves a screenshot in ``artifacts/``.
"""

from __future__ import annotations

import time

import pytest

from browser import PASSWORD, QUESTION, chromium_page, log_in, serve_test_app, write_doc

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_DOC = """# Zorbium lab rules

## Opening hours

The Zorbium lab opens at 7:45 on Tuesdays and Thursdays. Students must sign the Zorbium safety sheet
before their first session. Goggles are lent at the Zorbium lab desk.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_test_app(tmp_path_factory.mktemp("browser-data")) as (demo, url):
        yield demo, url


def ask(page, question: str, timeout_s: float = 180) -> list[str]:
    """Type a question, press Enter; return the distinct texts the last answer showed while it grew."""
    before = page.locator("#chat .message-row").count() if page.locator("#chat .message-row").count() else 0
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    seen: list[str] = []
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        bots = page.locator("#chat .bot")
        if bots.count() and page.locator("#chat .message-row").count() > before:
            text = bots.last.inner_text()
            if text and (not seen or seen[-1] != text):
                seen.append(text)
            if bots.last.locator("details.citation").count() or "From the instructor" in text or "⚠️" in text:
                if page.locator("#send").is_enabled() and not page.locator("#chat .pending").count():
                    break
        time.sleep(0.1)
    return seen


def test_student_sees_streamed_cited_answer_and_rates_it(server, artifacts_dir):
    demo, url = server
    from tutor import records

    with chromium_page() as page:
        page.goto(url)
        seen = ask(page, QUESTION)
        assert len(seen) >= 2, seen  # the answer arrived in pieces (checked sentences), not at once
        answer = page.locator("#chat .bot").last
        citation = answer.locator("details.citation").first
        assert citation.is_visible() and ".md" in citation.locator("summary").inner_text()
        snippet = citation.locator("blockquote")
        assert not snippet.is_visible()  # collapsed until the student opens it
        citation.locator("summary").click()
        assert snippet.is_visible() and len(snippet.inner_text()) > 20
        page.locator("#chat button[aria-label='Dislike']").last.click()
        page.get_by_text("the instructor will review this answer").wait_for()
        page.screenshot(path=str(artifacts_dir / "app_student_answer.png"), full_page=True)
    rated = records.list_questions(demo.tutor.kb.db, course="sample", rated_down=True)
    assert [q["question"] for q in rated] == [QUESTION]


def test_instructor_uploads_a_document_that_then_answers_a_student(server, artifacts_dir, tmp_path):
    demo, url = server
    doc = write_doc(tmp_path, "zorbium-lab.md", NEW_DOC)
    with chromium_page() as page:
        page.goto(url)
        log_in(page)
        page.locator("#doc-upload input[type=file]").set_input_files(str(doc))
        page.locator("#doc-upload").get_by_text("zorbium-lab.md").first.wait_for()
        page.locator("#doc-add").click()
        page.locator("#doc-status").get_by_text("added", exact=True).filter(visible=True).first.wait_for(timeout=120_000)
        assert page.locator("#doc-list").get_by_text("zorbium-lab.md").filter(visible=True).count()
        page.screenshot(path=str(artifacts_dir / "app_instructor_upload.png"), full_page=True)

        page.get_by_role("tab", name="Ask the tutor").click()
        ask(page, "When does the Zorbium lab open?")
        answer = page.locator("#chat .bot").last
        assert "zorbium-lab.md" in answer.locator("details.citation summary").first.inner_text()
        page.screenshot(path=str(artifacts_dir / "app_answer_from_upload.png"), full_page=True)


def test_student_cannot_reach_the_console(server, artifacts_dir):
    demo, url = server
    docs_before = [d.name for d in demo.tutor.kb.list_documents()]
    with chromium_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Instructor").click()
        page.get_by_label("Password").wait_for()
        for console_part in ("#console", "#doc-upload", "#doc-add", "#review"):
            assert not page.locator(console_part).is_visible(), console_part
        page.get_by_label("User name").fill("prof")
        page.get_by_label("Password").fill("not the password")
        page.locator("#login-button").click()
        page.get_by_text("Wrong user name or password").wait_for()
        assert not page.locator("#doc-upload").is_visible()
        page.screenshot(path=str(artifacts_dir / "app_student_refused.png"), full_page=True)
    assert [d.name for d in demo.tutor.kb.list_documents()] == docs_before


HOSTILE_DOC = """# Office hours

Office hours with the teaching assistant are on Wednesdays in room B7 <img src=x onerror="window.__xss = 1">
<script>window.__xss = 2</script> and you can [open the room map](javascript:window.__xss=3) before coming.
"""


class SaysNotInCourse:
    """The model's one reply that this test needs: NOT_IN_COURSE, so the engine quotes the course's closest
    sentence (a real model cannot be made to decline on demand). Retrieval, the quote and the page are real."""

    tokenizer, name = None, "scripted"

    def stream(self, messages, max_new_tokens, temperature, stop=()):
        yield "NOT_IN_COURSE"


def test_quoted_course_markup_never_runs_in_the_page(server, artifacts_dir):
    """Issue 34: a document's <img onerror>, <script> and javascript: link, quoted as the answer, reach the
    student as text: nothing runs and the DOM holds no such attribute or link."""
    from browser import serve
    from tutor.engine import TutorEngine

    demo, _ = server
    kb, engine = demo.tutor.kb, demo.tutor.engines.engine
    kb.add_texts("hostile", [("office-hours.md", HOSTILE_DOC)])
    quoting = TutorEngine(kb, engine.config, engine.paths, generator=SaysNotInCourse())
    import app

    cfg = app.AppConfig(data_dir=str(kb.paths.data_dir), course="hostile", load_sample_course=False)
    with serve(cfg, kb=kb, engine=quoting) as (_, url), chromium_page() as page:
        page.goto(url)
        ask(page, "When are the office hours of the teaching assistant? <img src=y onerror='window.__xss=4'>")
        answer = page.locator("#chat .bot").last
        page.wait_for_timeout(500)
        text = answer.inner_text()
        assert "Wednesdays in room B7" in text and "<script>" in text, text  # shown, as text
        # no element of the chat carries an event handler attribute or a javascript: URL, and no script
        risky = page.evaluate("""() => [...document.querySelectorAll('#chat *')].flatMap(el => [...el.attributes]
            .filter(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value)).map(a => el.tagName + ' ' + a.name))""")
        assert risky == [] and page.locator("#chat script").count() == 0, risky
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(artifacts_dir / "app_hostile_quote.png"), full_page=True)


MATH_DOC = """# Attention

## Scaled dot-product attention

Attention weights are $\\mathrm{softmax}(QK^\\top / \\sqrt{d_k})$, and the output is their product with V:

$$\\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d_k}}\\right) V$$
"""


def test_formulas_render_in_answers_and_citations(server, artifacts_dir):
    """Issue 37: a course's LaTeX ($…$, \\(…\\), $$…$$) reaches the student rendered (KaTeX in the DOM), in the
    answer and in its citation snippet, never as raw "\\frac"."""
    from browser import serve
    from knowledge_base.faq_entries import FAQEntry

    demo, _ = server
    kb, engine = demo.tutor.kb, demo.tutor.engines.engine
    kb.add_texts("math", [("attention.md", MATH_DOC)])
    kb.set_faq("math", [FAQEntry("What is the attention formula?",
                                 "It is \\(\\mathrm{softmax}(QK^\\top/\\sqrt{d_k})V\\); in full: "
                                 "$$\\frac{QK^\\top}{\\sqrt{d_k}}$$", source="attention.md")])
    import app

    cfg = app.AppConfig(data_dir=str(kb.paths.data_dir), course="math", load_sample_course=False)
    with serve(cfg, kb=kb, engine=engine) as (_, url), chromium_page() as page:
        page.goto(url)
        ask(page, "What is the attention formula?")
        answer = page.locator("#chat .bot").last
        answer.locator("details.citation summary").first.click()
        page.wait_for_timeout(500)
        assert answer.locator(".katex").count() >= 3  # the inline and the display formula, and the snippet's
        assert "\\frac" not in answer.inner_text() and "\\(" not in answer.inner_text()
        page.screenshot(path=str(artifacts_dir / "app_formulas.png"), full_page=True)


def test_the_page_says_what_the_course_is_and_its_examples_ask(server, artifacts_dir):
    """Issue 37 item 5: the student sees the course's title (in the picker too), what it covers, the welcome and
    three example questions from its FAQ; a click asks one (the FAQ's answer comes back); picking another course
    by its title changes the header and the examples."""
    from knowledge_base.faq_entries import FAQEntry

    demo, url = server
    kb = demo.tutor.kb
    info = kb.course_info("sample")
    assert len(info.examples) == 3
    kb.add_texts("zorbium", [("zorbium-lab.md", NEW_DOC)])
    kb.set_faq("zorbium", [FAQEntry("When does the Zorbium lab open?", "At 7:45 on Tuesdays and Thursdays.",
                                    source="zorbium-lab.md")])
    kb.set_course_info("zorbium", title="Zorbium lab", description="Opening hours and safety rules of the lab.")
    with chromium_page() as page:
        page.goto(url)
        header = page.locator("#course-header")
        header.get_by_text(info.title).wait_for()
        assert info.description in header.inner_text() and info.welcome in header.inner_text()
        assert page.locator("#course input").input_value() == info.title  # the picker shows the title, not "sample"
        buttons = page.locator(".example-question").filter(visible=True)
        assert buttons.all_inner_texts() == info.examples
        page.screenshot(path=str(artifacts_dir / "app_course_page.png"), full_page=True)
        buttons.first.click()  # asked as if typed: the question in the chat, the FAQ's answer with its source
        page.locator("#chat .user").get_by_text(info.examples[0]).wait_for()
        page.locator("#chat .bot").get_by_text("From the instructor's FAQ").wait_for()
        page.locator("#chat .bot details.citation").first.wait_for()
        page.wait_for_function("() => !document.querySelector('#chat .pending')")
        page.screenshot(path=str(artifacts_dir / "app_course_example_asked.png"), full_page=True)

        page.locator("#course input").click()
        page.get_by_role("option", name="Zorbium lab", exact=True).click()
        header.get_by_text("Opening hours and safety rules of the lab.").wait_for()
        assert "Zorbium lab" in header.inner_text() and info.title not in header.inner_text()
        page.locator(".example-question").filter(visible=True).get_by_text("When does the Zorbium lab open?").wait_for()
        assert page.locator(".example-question").filter(visible=True).count() == 1
        page.wait_for_function("() => !document.querySelector('#chat .message-row')")  # another course, a new conversation


def test_a_students_conversation_survives_a_reload_and_can_be_deleted(server, artifacts_dir):
    """Issue 37.6: a student asks, reloads the page, finds the conversation in the list (only theirs: the other
    tests' browsers asked on this server too), opens it again, then deletes their history after confirming.
    The key it is kept under is an HttpOnly cookie kept across browser restarts, invisible to page scripts."""
    from tutor import conversations

    demo, url = server
    question = "What does a tokenizer do?"  # an FAQ question of the sample course: no wait for the model
    with chromium_page() as page:
        page.goto(url)
        ask(page, question)
        page.reload()
        history = page.locator("#history")
        history.get_by_text("Kept for this browser only.").wait_for()  # the page's load filled the list
        history.locator("input").click()
        options = page.get_by_role("option")
        options.filter(has_text=question).first.wait_for()
        assert options.count() == 1, options.all_inner_texts()  # this browser's one conversation, no one else's
        page.screenshot(path=str(artifacts_dir / "app_history_list.png"), full_page=True)
        options.first.click()
        page.locator("#chat .user").get_by_text(question).wait_for()
        page.locator("#chat .bot").get_by_text("From the instructor's FAQ").wait_for()

        cookie = next(c for c in page.context.cookies() if c["name"] == "tutor_browser")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 300 * 86400
        assert "tutor_browser" not in page.evaluate("document.cookie")
        owner = conversations.owner_of(demo.tutor.kb.db, cookie["value"])
        assert [c.title for c in conversations.list_conversations(demo.tutor.kb.db, owner)] == [question]

        page.locator("#delete-history").click()
        page.locator("#delete-confirm").get_by_text("Delete the conversation kept for this browser?").wait_for()
        assert conversations.count_conversations(demo.tutor.kb.db, owner) == 1  # nothing gone before the confirmation
        page.screenshot(path=str(artifacts_dir / "app_history_delete.png"), full_page=True)
        page.locator("#delete-history-confirm").click()
        page.get_by_text("Your history is deleted (1 conversation).").wait_for()
        page.wait_for_function("() => !document.querySelector('#chat .message-row')")
        assert conversations.count_conversations(demo.tutor.kb.db, owner) == 0
        page.reload()
        history.get_by_text("No conversations kept yet.").wait_for()


def test_instructor_reads_the_dashboard(paths, embedder, artifacts_dir):
    """Issue 37 item 4: an instructor opens the Dashboard tab of a course with a seeded question log (a few hundred
    questions over two weeks, up to today) and sees both plots, the most asked topics, the documents never cited,
    the unanswered questions the FAQ now answers, and the CSV files to download. Its own small app (MiniLM, no
    model is loaded: nothing is asked), so the module's shared server and its courses are left alone."""
    from datetime import datetime, timedelta, timezone

    from question_log import CLOSED, NEVER_CITED, seeded_course

    import app
    from browser import serve
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(paths, embedder=embedder)
    seeded_course(kb, now=datetime.now(timezone.utc))
    cfg = app.AppConfig(data_dir=str(paths.data_dir), course="demo", load_sample_course=False, instructor_user="prof",
                        instructor_password=PASSWORD, login_failure_delay_s=0.0)
    with serve(cfg, kb=kb) as (_, url), chromium_page(viewport=(1280, 1000)) as page:
        page.goto(url)
        log_in(page)
        page.get_by_role("tab", name="Dashboard").click()  # opening the tab computes it
        today = datetime.now(timezone.utc).date()
        page.locator("#dash-summary").get_by_text(f"{today - timedelta(days=29)} to {today}").wait_for()
        assert "demo" in page.locator("#dash-summary").inner_text()
        for plot in ("#dash-per-day", "#dash-outcomes"):
            image = page.locator(f"{plot} img").first
            image.wait_for()
            assert image.evaluate("img => img.complete && img.naturalWidth > 300"), plot
        page.locator("#dash-topics").get_by_text("final exam").first.wait_for()
        assert page.locator("#dash-topics").get_by_text("exams.md").count()
        for name in NEVER_CITED:
            assert page.locator("#dash-never-cited").get_by_text(name).count(), name
        for question in CLOSED:
            assert page.locator("#dash-gaps").get_by_text(question).count(), question
        topics_csv = page.locator('#dash-csv [aria-label$="-topics.csv"]')  # the name's stem and extension are two spans
        topics_csv.first.wait_for()
        page.screenshot(path=str(artifacts_dir / "app_dashboard.png"), full_page=True)

        page.locator("#dash-days input").click()  # another period: the same tab recomputed
        page.get_by_role("option", name="7", exact=True).click()
        page.locator("#dash-summary").get_by_text(f"{today - timedelta(days=6)} to {today}").wait_for()
        assert topics_csv.count()
    kb.close()


def test_a_citation_opens_its_pdf_page_with_the_passage_highlighted(paths, embedder, artifacts_dir, tmp_path):
    """Issue 37 item 2: a student reopens a kept conversation whose answer cites a 4-page PDF, clicks the
    citation's "open the page", and a new tab shows page 3 with the cited lines highlighted over it and the
    passage as text below. Its own small app (MiniLM, no model is loaded: nothing is asked): the citation is made
    by the tutor's own citation code from a real search, and kept in this browser's history as an answered
    question is, so the chat shows it exactly as after an answer."""
    from dataclasses import asdict

    from test_sources import MARKER, PAGES, make_pdf

    import app
    from browser import serve
    from knowledge_base import KnowledgeBase
    from tutor import conversations
    from tutor.citations import cite

    make_pdf(tmp_path / "lecture.pdf", PAGES)
    kb = KnowledgeBase(paths, embedder=embedder)
    assert kb.add([tmp_path / "lecture.pdf"], "physics")[0].status == "added"
    question, answer = "What does the Quorvex constant equal?", "It equals forty two millikelvin [1]."
    hits = kb.search(question, "physics", k=3)
    assert hits[0].page == 3 and MARKER in hits[0].text
    turn = {"question": question, "answer": answer, "from_faq": False, "outcome": "answered",
            "citations": [asdict(c) for c in cite(answer, hits, 0.3, 160)]}
    cfg = app.AppConfig(data_dir=str(paths.data_dir), course="physics", load_sample_course=False)
    with serve(cfg, kb=kb) as (_, url), chromium_page(viewport=(1280, 1000)) as page:
        page.goto(url)
        key = next(c["value"] for c in page.context.cookies() if c["name"] == "tutor_browser")
        conversations.save_conversation(kb.db, conversations.owner_of(kb.db, key), "physics", [turn])
        page.reload()
        history = page.locator("#history")
        history.get_by_text("Kept for this browser only.").wait_for()
        history.locator("input").click()
        page.get_by_role("option").filter(has_text=question).first.click()
        citation = page.locator("#chat .bot details.citation").first
        citation.wait_for()
        link = citation.locator("a.source-link")
        assert link.inner_text() == "open the page" and link.get_attribute("target") == "_blank"
        assert "noopener" in (link.get_attribute("rel") or "")
        page.screenshot(path=str(artifacts_dir / "app_source_link.png"), full_page=True)

        with page.context.expect_page() as opened:
            link.click()
        source = opened.value
        source.wait_for_load_state()
        assert "page 3 of 4" in source.locator(".where").inner_text()
        assert source.locator("svg.page image").get_attribute("href").startswith("data:image/png;base64,")
        highlights = source.locator("svg.page rect.passage")
        assert highlights.count() > 0  # one per line piece of the cited chunk (test_sources checks which lines)
        assert highlights.first.is_visible() and highlights.first.bounding_box()["width"] > 100
        assert MARKER in source.locator("blockquote").inner_text()
        assert source.evaluate("() => document.scripts.length") == 0
        source.screenshot(path=str(artifacts_dir / "app_source_pdf_page.png"), full_page=True)
        assert page.locator("#chat .bot details.citation").count() == 1  # the conversation stayed open in its tab
    kb.close()


def test_an_admin_creates_a_course_on_the_admin_tab(paths, embedder, artifacts_dir):
    """Issue 37 item 3: the configured instructor is an admin; the Admin tab creates a course (empty and
    unpublished), lists it with its title, and the screenshot shows the view. Its own small app (MiniLM, no
    model is loaded)."""
    import app
    from browser import serve
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(paths, embedder=embedder)
    cfg = app.AppConfig(data_dir=str(paths.data_dir), course="demo", load_sample_course=False, instructor_user="prof",
                        instructor_password=PASSWORD, login_failure_delay_s=0.0)
    with serve(cfg, kb=kb) as (_, url), chromium_page(viewport=(1280, 1000)) as page:
        page.goto(url)
        log_in(page)
        page.get_by_role("tab", name="Admin").click()
        page.locator("#admin-course-id input, #admin-course-id textarea").first.fill("ml101")
        page.locator("#admin-course-title input, #admin-course-title textarea").first.fill("Machine Learning 101")
        page.locator("#admin-course-create").click()
        # the table's cells also exist hidden (Gradio measures them): read its visible text
        page.wait_for_function("() => document.querySelector('#admin-courses').innerText.includes('Machine Learning 101')",
                               timeout=120_000)
        assert "ml101" in page.locator("#admin-courses").inner_text()
        page.screenshot(path=str(artifacts_dir / "app_admin.png"), full_page=True)
    assert "ml101" in kb.courses() or "ml101" in kb.course_titles()
    kb.close()
