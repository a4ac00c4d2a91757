"""``TutorEngine.answer()``: language -> standalone query -> retrieval -> FAQ / evidence check -> prompt ->
generation -> citations -> question log.

    stream = engine.answer("What is LoRA?", history=[], course="sample")
    for delta in stream: print(delta, end="")
    result = stream.result            # AnswerResult: text, citations, language, FAQ match, scores, timings

Every front end (CLI, Gradio app, ``tutor eval``) calls this; none re-implements a step.

Outcomes: ``faq`` (an instructor's vetted FAQ answer matched the question closely: it is returned as is),
``refused`` (the best course passage is too far from the question: we say the material does not cover it
and name the nearest topics, instead of letting a small model invent), ``answered`` (generated from the
numbered excerpts, with citations, every sentence through the answer check in ``tutor.verify``),
``quoted`` (the model could not answer from strong evidence: the course's closest sentence, marked).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from basics.config import DEFAULT_COURSE
from basics.errors import ModelError, QuestionError
from basics.text import lone_surrogate
from knowledge_base import KnowledgeBase
from tutor import records
from tutor.adapters import adapter_card
from tutor.answer_result import AnswerResult, AnswerStream
from tutor.runtime.backends import create_generator
from tutor.attribution import named_sentence, number_of, sentence_citations
from tutor.citations import Citation, SourcesFound, cite, snippet
from tutor.engine_config import EngineConfig, with_embedder_thresholds
from tutor.runtime.generators.base import QueueWait
from tutor.evidence import Evidence, unwrap
from tutor.verify import SentenceGate
from tutor.verify.support import SupportJudge
from basics.language import detect_language, entry_language
from tutor.runtime.models import DEFAULT_PRESET
from tutor.passages import best_passage, closeness, focus_excerpts
from tutor.prompts import (INSTRUCTIONS, NEAREST, build_messages, correction_messages, excerpt_sentences, plain,
                           quote_text, refusal_text, sanitize, says_not_covered, source_label)
from tutor.questions import close_faq, fold, followup_prompt, leaned_on
from tutor.schedule import localize_weekdays
from tutor.subjects import detached_facts
from tutor.translation import QUESTION, RefusalLines, faq_text, meaning_check, translatable, translate
from tutor.verify.verdicts import Kind

if TYPE_CHECKING:
    from knowledge_base import Hit
    from basics.config import Paths

log = logging.getLogger(__name__)

def open_engine(config: EngineConfig | None = None, kb: KnowledgeBase | None = None, data_dir: str | None = None,
                embedder: str | None = None, sample_course: bool = True) -> "TutorEngine":
    """The one way the CLI, the app and the evaluation get an engine: over ``kb`` (or the knowledge base of
    ``data_dir``, searched with ``embedder``), with the built-in sample course loaded first when
    ``sample_course`` and it is missing (a new user's first question needs no setup)."""
    kb = kb if kb is not None else KnowledgeBase.open(data_dir, embedder)
    if sample_course:
        kb.ensure_sample_course()
    return TutorEngine(kb, config, kb.paths)


class TutorEngine:
    """Answers course questions from a ``KnowledgeBase``; one generator, loaded lazily and shared by threads."""

    def __init__(self, kb: "KnowledgeBase", config: EngineConfig | None = None, paths: "Paths | None" = None, generator=None):
        self.kb = kb
        self.config = with_embedder_thresholds(config or EngineConfig(), kb.embedder.spec)
        self.paths = paths or kb.paths
        self._generator = generator
        self._load_lock = threading.Lock()
        self._same_meaning = meaning_check(kb.embedder)  # every translation's meaning check (None: facts only)
        self._refusals = RefusalLines(self._same_meaning)  # "not covered" where prompts.REFUSALS has no line
        records.ensure_schema(kb.db)

    # ------------------------------------------------------------------------------------------ model

    @property
    def generator(self):
        """The backend, created on first use (a model load takes seconds; the app starts without waiting)."""
        if self._generator is None:
            with self._load_lock:
                if self._generator is None:
                    self._generator = self._make_generator()
        return self._generator

    def _make_generator(self):
        cfg = self.config
        # The adapter's card names the base it was trained on: that is the model, unless --model says otherwise
        # (then it must agree: LoRA weights only fit the base they were trained on).
        card = adapter_card(self.paths, cfg.adapter) if cfg.adapter and not cfg.remote_url else None
        base = card.base if card else None
        model = cfg.model or base or DEFAULT_PRESET
        if base and model != base:
            raise ModelError(f"Adapter {cfg.adapter!r} was trained on {base!r} and cannot be loaded onto {model!r}: "
                             f"leave --model out (the adapter's base is used) or pass --model {base}.")
        return create_generator(replace(cfg, model=model), self.paths.cache_dir, card.path if card else None)

    # ------------------------------------------------------------------------------------------ answering

    def check_question(self, question: str) -> str:
        if question is None or not str(question).strip():
            raise QuestionError("The question is empty: type a question about the course.")
        question = str(question).strip()
        bad = lone_surrogate(question)
        if bad is not None:
            raise QuestionError(f"The question holds a character that is not valid text (a lone UTF-16 surrogate, "
                                f"character {bad + 1}), shown as \ufffd: remove or retype it.")
        if len(question) > self.config.max_question_chars:
            raise QuestionError(
                f"The question is {len(question)} characters long; the limit is {self.config.max_question_chars} "
                "(EngineConfig.max_question_chars). Ask about one thing at a time."
            )
        return question

    def answer(self, question: str, history: list[dict] | None = None, course: str = DEFAULT_COURSE) -> AnswerStream:
        """Stream an answer; bad questions raise ``QuestionError`` here, before anything runs."""
        question = self.check_question(question)
        return AnswerStream(self._run(question, list(history or []), course))

    def ask(self, question: str, history: list[dict] | None = None, course: str = DEFAULT_COURSE) -> AnswerResult:
        """``answer`` consumed: the final result only."""
        stream = self.answer(question, history, course)
        for _ in stream:
            pass
        return stream.result

    def _run(self, question: str, history: list[dict], course: str):
        cfg = self.config
        t0 = time.perf_counter()
        timings = {"language_ms": 0.0, "retrieval_ms": 0.0, "generation_ms": 0.0, "first_token_ms": None, "total_ms": 0.0}
        # too little text to tell ("RRF?"): the course's own language, recorded when it was indexed
        fallback = self.kb.course_language(course) or cfg.language.fallback
        language = detect_language(question, replace(cfg.language, fallback=fallback))
        t1 = time.perf_counter()
        timings["language_ms"] = (t1 - t0) * 1000
        previous = leaned_on(question, history, cfg.followup_max_words, cfg.language)
        query = fold(question, previous)
        hits = self._retrieve(query, question if previous else None, course)
        faq = self.kb.match_faq(question, course)
        t2 = time.perf_counter()
        timings["retrieval_ms"] = (t2 - t1) * 1000
        if hits:  # shown while the model reads them ("looking in the course: …")
            yield SourcesFound(self._topics(hits))
        top = max((h.dense_score for h in hits), default=None)
        result = AnswerResult(
            question=question, answer="", language=language, outcome="answered", course=course,
            retrieval=[{"chunk_id": h.chunk_id, "document": h.document, "section": h.section, "score": h.score,
                        "dense_score": h.dense_score, "lexical_score": h.lexical_score} for h in hits],
            standalone_query=query, top_score=top,
        )
        pieces: list[str] = []

        def emit(text: str):
            if timings["first_token_ms"] is None:
                timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
            pieces.append(text)
            return text

        entry = close_faq(question, faq, language, cfg.faq_threshold, cfg.faq_min_overlap, self.kb.embedder.spec.multilingual)
        if entry is not None:
            result.outcome = "faq"
            faq_language = entry_language(entry[0])
            result.faq = {"question": entry[0].question, "answer": entry[0].answer, "score": entry[1],
                          "language": faq_language}
            if entry[0].source:
                result.citations = [Citation(1, entry[0].source, None, None, snippet(entry[0].answer, cfg.snippet_chars),
                                             None, entry[1])]
            text = yield from faq_text(lambda: self.generator, entry[0].answer, faq_language, language, cfg.translate_quotes,
                                       self._same_meaning)
            yield emit(text)
        elif top is None or top < cfg.min_evidence:
            result.outcome = "refused"
            head = yield from self._refusals.head(lambda: self.generator, language, cfg.translate_quotes)
            yield emit(refusal_text(language, self._topics(hits), head))
        else:
            try:
                yield from self._generate(question, query, hits, history, language, result, emit, previous)
            except Exception:
                # The backend died mid-answer (a remote server gone, out of memory): the caller shows the
                # error; the log keeps the question as "error" so instructors see it went unanswered.
                if cfg.log_questions:
                    partial = "".join(pieces).strip() or result.grounding.get("raw", "").strip()
                    records.log_question(self.kb.db, course, question, "error", partial, language, [],
                                         top, (time.perf_counter() - t0) * 1000, result.model, result.adapter)
                raise
            timings["generation_ms"] = (time.perf_counter() - t2) * 1000
        result.answer = "".join(pieces).strip()
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        result.timings = timings
        if cfg.log_questions:
            checked = result.grounding
            findings = (checked.get("first_try") or {}).get("findings", []) + checked.get("findings", [])
            result.question_id = records.log_question(
                self.kb.db, course, question, result.outcome, result.answer, language,
                [asdict(c) for c in result.citations], top, timings["total_ms"],
                result.model or ("faq" if result.outcome == "faq" else None), result.adapter, findings,
            )
        return result

    def _generate(self, question, query, hits, history, language, result: AnswerResult, emit, previous=None):
        """Prompt the model with the excerpts and release its answer one checked sentence at a time.

        Outcomes: ``answered`` (every released sentence's facts are in the excerpts), ``quoted`` (the model's
        first sentence failed the check, or it replied NOT_IN_COURSE, while the top excerpt is close to the
        question: the course's own best sentence is shown instead, marked as a quote), ``refused`` (the same
        on weaker evidence, or an empty answer). A later failing sentence ends the answer there. An answer that
        only denies ("The excerpts do not mention encoder layers.") is followed by the course's closest sentence,
        or, on evidence too weak to quote, stands as a refusal in the model's words (``refused``).
        """
        cfg = self.config
        generator = self.generator
        result.model, result.adapter = generator.name, cfg.adapter
        # The prompt carries no history by default (PromptConfig.history_messages), so a follow-up ("what rank
        # is typical for it?") is asked with the question it leans on spelled out after it (followup_prompt).
        usable = [h for h in hits if h.dense_score >= cfg.min_evidence][: cfg.max_excerpts]  # the rest is noise
        if cfg.excerpt_chars and usable:
            focused = focus_excerpts(query, [h.text for h in usable], self.kb.embedder, cfg.excerpt_chars)
            usable = [replace(h, text=t) for h, t in zip(usable, focused)]
        student = language  # the answer's language; with a pivot, the model answers in the excerpts' own first
        source = Evidence([h.text for h in usable]).language if cfg.pivot_answers and usable else language
        put = (yield from translate(generator, question, source, source=language, same_meaning=self._same_meaning,
                                    what=QUESTION)) if source not in ("", language) else None
        if put:  # every check then reads the question and the answer in the course's language
            question, query, language = put, put, source
        asked = followup_prompt(question, previous) if previous else query
        messages, included = build_messages(asked, usable, history, language, generator.tokenizer,
                                            cfg.context_budget_tokens, cfg.prompt)
        texts = [h.text for h in included]
        numbered = excerpt_sentences(included) if cfg.prompt.cite_sentences else []  # [k]: numbered[k-1]
        sentences = [s.text for s in numbered]
        gate = SentenceGate.for_answer(question, texts, language, query, INSTRUCTIONS, cfg.verifiers, sentences=sentences)
        say = (lambda text: "") if put else emit  # with a pivot, the checked answer waits for its translation
        raw = yield from self._stream_checked(generator, messages, gate, say, result, asked)
        first_try = None
        kinds = [f.kind for f in gate.failed.findings] if gate.failed else []
        if gate.failed and not gate.released.strip() and cfg.correct_once and kinds not in ([Kind.RESTATEMENT], [Kind.LEAD_IN]) \
                and not {Kind.ECHO, Kind.UNTRANSLATED} & set(kinds):
            # Nothing shown yet: one more try, told what the excerpts do not say (CORRECTION in prompts.py).
            # (Not after a restated question: told so, the model denied that the excerpts answer it; nor after
            # a lone lead-in, an echo of the rules or copied English: there is no fact to correct. The course's closest
            # sentence, quoted below and translated, answers.)
            first_try = {"raw": raw.strip(), "unsupported": gate.failed.unsupported, "findings": gate.failed.findings}
            instead = detached_facts(question, gate.context.excerpts) if language == "en" else {}
            messages = correction_messages(messages, gate.failed_sentence, gate.failed.findings, language, instead)
            gate = SentenceGate.for_answer(question, texts, language, query, INSTRUCTIONS, cfg.verifiers, retry=True,
                                           sentences=sentences)
            raw = yield from self._stream_checked(generator, messages, gate, say, result, asked)
        if put and gate.released.strip():
            back = yield from translate(generator, gate.released.strip(), student, source=language,
                                        same_meaning=self._same_meaning)
            yield emit(back or gate.released.strip())  # untranslated where the translation changed a fact
        language = student
        findings = gate.failed.findings if gate.failed else []
        result.grounding = {"raw": raw.strip(), "checked_facts": [f for c in gate.checks for f in c.facts],
                            "unsupported": [f.text for f in findings], "findings": [f.to_dict() for f in findings],
                            "dropped": gate.failed_sentence, "excerpts": texts,
                            "support": result.grounding.get("support", [])}  # the judge's P(no) per sentence
        if put:
            result.grounding["pivot"] = {"question": put, "language": source}
        if first_try:
            result.grounding["first_try"] = {**first_try, "findings": [f.to_dict() for f in first_try["findings"]]}
        answer = gate.released.strip()
        closest = max(range(len(included)), key=lambda i: included[i].dense_score, default=None)
        if answer and gate.only_denies and not put:
            if closest is not None and included[closest].dense_score >= cfg.min_quote_evidence:
                # "The excerpts do not mention encoder layers.": true, and what the course says instead is wanted.
                said = "\n\n" + NEAREST.format(quote=plain(best_passage(query, included[closest].text,
                                                                          self.kb.embedder)), n=closest + 1)
                answer += said
                yield emit(said)
            else:  # the model's own words say the course does not cover it: a refusal, for the log and the review
                result.outcome = "refused"
                return
        if answer:
            result.citations = sentence_citations(answer, numbered, included, cfg.snippet_chars) \
                or cite(answer, included, cfg.citation_min_overlap, cfg.snippet_chars)
            return
        named = named_sentence(included, (first_try or {}).get("findings", []) + findings)  # the check found the course's sentence on it
        if (gate.failed or says_not_covered(raw)) and closest is not None \
                and (included[closest].dense_score >= self._quote_level(language, included[closest]) or named):
            # The model could not answer from strong evidence: the course's own closest sentence, marked as a
            # quote, is honest and often what the student needed (small models say NOT_IN_COURSE too readily).
            # A sentence the check named is quoted on weaker evidence too: a Chinese question about the office
            # hours is far from the English page by embedding, but the check matched the answer's times to it.
            result.outcome = "quoted"
            # Else the closest excerpt's sentence nearest the question (for a German question about office hours,
            # that was the lecture times).
            best = (best_passage(query, included[closest].text, self.kb.embedder), closest)
            if named and named[0] != best[0]:
                # The sentence a finding named is the course's word on the answer's fact, which need not be what
                # was asked: a wrong time (8:30) named the lectures' sentence for a question about the labs.
                near, far = closeness(query, [named[0], best[0]], self.kb.embedder)
                named = named if near >= far - cfg.named_quote_margin else None
            quote, n = named or best
            translation, source = None, detect_language(plain(quote))
            if cfg.translate_quotes and translatable(plain(quote), language):
                translation = yield from translate(generator, plain(quote), language, source=source,
                                                   same_meaning=self._same_meaning)  # None: other facts
            marker = number_of(sanitize(quote), numbered) or n + 1  # the sentence's number where sentences are cited
            yield emit(quote_text(language, quote, marker, translation, source))
            result.citations = sentence_citations(f"[{marker}]", numbered, included, cfg.snippet_chars) \
                or cite(f"[{n + 1}]", included, cfg.citation_min_overlap, cfg.snippet_chars)
            return
        result.outcome = "refused"  # NOT_IN_COURSE, an empty answer, or an unsupported one on weak evidence
        head = yield from self._refusals.head(lambda: generator, language, cfg.translate_quotes)
        yield emit(refusal_text(language, self._topics(hits), head))

    # ------------------------------------------------------------------------------------------ helpers

    def _retrieve(self, query: str, own: str | None, course: str) -> list["Hit"]:
        """The top ``k`` chunks for ``query``. For a follow-up (``own``: the student's own words): the folded
        query's best chunk (the topic), then what ``own`` alone finds on the topic's page, then the rest.

        For "What rank is typical for it?" after "What is LoRA?" the folded query ranked "Typical ranks are 8
        or 16." fourth (three excerpts are prompted); for "And the alpha?" it missed the alpha bullet. Alone,
        each ranks first, but alone also finds other pages (pretraining for "How is it trained?" after BPE)."""
        cfg = self.config
        hits = self.kb.search(query, course, k=cfg.k, mode=cfg.search_mode)
        if own is None or not hits:
            return hits
        topic, folded = hits[0], {h.chunk_id: h for h in hits}  # a chunk both found keeps the folded cosine
        asked = [folded.get(h.chunk_id, h) for h in self.kb.search(own, course, k=cfg.k, mode=cfg.search_mode)
                 if h.document == topic.document and h.chunk_id != topic.chunk_id]
        taken = {h.chunk_id for h in asked}
        return ([topic] + asked + [h for h in hits[1:] if h.chunk_id not in taken])[: cfg.k]

    def _stream_checked(self, generator, messages: list[dict], gate: SentenceGate, emit, result: AnswerResult,
                        asked: str = ""):
        """Stream one generation through ``gate``: yields queue notices and checked text, returns the raw
        answer. Stops at NOT_IN_COURSE or at the first sentence that fails the check. With the support judge
        (``EngineConfig.support_judge``) the checked text is held until the model has judged it."""
        cfg = self.config
        raw = ""
        held = cfg.support_judge
        stops = ("\nQuestion:", "\nAnswer:", "\nCourse excerpts:")  # a small model continuing the prompt pattern
        for delta in generator.stream(messages, cfg.max_new_tokens, cfg.temperature, stop=stops):
            if isinstance(delta, QueueWait):
                yield delta  # "N questions ahead": shown by the chat while the model is busy
                continue
            raw += delta
            result.grounding["raw"] = raw  # kept current: a backend failure mid-answer logs what was generated
            if says_not_covered(raw):
                break
            released = gate.feed(delta)
            if released and not held:  # checked; English day names of the excerpts written in the answer's language
                yield emit(localize_weekdays(released, gate.language, gate.source_language))
            if gate.failed or gate.ended:
                break
        if not says_not_covered(raw) and not gate.failed and not gate.ended:
            tail = gate.finish()
            if tail and not held:
                yield emit(localize_weekdays(tail, gate.language, gate.source_language))
        if held and gate.shown:
            judge = SupportJudge(generator, cfg.support_threshold)
            result.grounding["support"] = judge.withdraw_unsupported(gate, messages, asked)
            if gate.released:
                yield emit(localize_weekdays(gate.released, gate.language, gate.source_language))
        return raw

    def _quote_level(self, language: str, hit: "Hit") -> float:
        """The cosine from which ``hit`` may be quoted: lower when the question is in another language than the
        excerpt, since a multilingual embedder scores a question below its own translation ("实验课在什么时候？"
        0.335 against the schedule, "When are the lab classes?" 0.505)."""
        cfg = self.config
        if language != detect_language(unwrap(hit.text), cfg.language):
            return min(cfg.min_quote_evidence, cfg.min_cross_lingual_quote_evidence)
        return cfg.min_quote_evidence

    def _topics(self, hits: list["Hit"]) -> list[str]:
        """Distinct ``Title › Section`` labels of the top hits, for "nearest topics" in a refusal."""
        topics: list[str] = []
        for h in hits:
            label = source_label(h)
            if label not in topics:
                topics.append(label)
            if len(topics) >= self.config.nearest_topics:
                break
        return topics
