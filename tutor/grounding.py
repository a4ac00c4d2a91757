"""The answer check: what a generated answer states must be in the excerpts it was given.

A language model that cannot find an exam time writes a plausible one. Wrong logistics are the worst
thing a tutor can say, so the engine checks each sentence of a generated answer before the student sees
it (``SentenceGate``): the *checkable facts* of the sentence — numbers, clock times, codes such as B214
or q_proj, acronyms such as BPE, and in English the capitalised names inside a sentence (Thursday,
Vaswani) — must each occur in the course excerpts of the prompt or in the question. Words are not
checked: paraphrase is the point of an answer, and the evidence gate and the "not in the course" reply
guard the topic.

Two checks compare the answer with the question rather than the excerpts: a first sentence that only says
the question back (``restates``) and, where the course denies what the question asks about ("no GPU is
needed"), a first sentence that does not deny it too (``denied_subject``). One compares it with the prompt:
a sentence that copies the tutor's own rules (``echoes``). The checks on days and times are in ``tutor.schedule``,
those on which subject a number is stated about in ``tutor.subjects``.

A sentence that fails is not shown. If it was the first one, the engine retries once, then quotes the course
(``tutor.passages.best_passage``) or refuses; if a later one, the answer ends before it.
"""

from __future__ import annotations

import re
import unicodedata

from basics.text import CJK_CHAR, words
from tutor.arithmetic import derived_numbers
from tutor.clock import clock_times, without_times
from tutor.evidence import CODE, MARKER, NUMBER, SAYS, SENTENCE_END, Evidence, split_sentences
from tutor.schedule import evidence_days, names_day, omitted_day, unpaired_days, weekdays
from tutor.subjects import QUESTION_WORDS, WORD, content_words, detached_facts, false_denial, misattributed
from tutor.translation import untranslated
from tutor.verdicts import Check, Finding, Kind

_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,}s?\b", re.ASCII)
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|isn't|aren't|doesn't|don't|didn't|cannot|can't)\b|n't\b",
                       re.IGNORECASE)
# What a denial of the course's coverage names: "The excerpts do not mention …" (not "because they have no
# recurrence", an explanation with a negation in it).
_COVERAGE = re.compile(r"\b(?:excerpts?|course|material|context|provided text)\b", re.IGNORECASE)
# A denial that goes on to say something: "The excerpts do not mention "term" but they do say "kick back."".
_CONTRAST = re.compile(r"\b(?:but|however|instead|though|although|rather)\b", re.IGNORECASE)
# An answer that opens by agreeing ("Yes, ...", "是的", "Sí", "Ja", "Oui", "Correct"): it affirms the question.
_AFFIRMATION = re.compile(r"^\W*(?:(?:yes|yeah|correct|indeed|sí|ja|oui)(?![a-z])|(?:是的|没错|是|对|對)(?=[，,。！!\s]|$))",
                          re.IGNORECASE)  # "对于…" (regarding) and "Si el…" (if) are no yes
_CAPITALISED = re.compile(r"(?<=[^.!?:;\n\"'(\[]\s)[A-Z][a-z]{2,}\b")
# Capitalised words an English answer may use without the excerpts saying them.
_FREE_NAMES = {"English", "Chinese", "Spanish", "German", "French", "The", "This", "That", "These", "Yes", "No", "However"}


def premise_terms(question: str, evidence: Evidence) -> set[str]:
    """Content words of an English question that the excerpts never use ("final exam" in a course with
    only a final project). An answer that repeats one asserts the question's premise, not the course."""
    if not evidence.latin:
        return set()  # an English question on Chinese pages shares no words with them, by design
    # "tying", "computing": how, not what; "How much is the final project worth?": what a thing is worth is asked
    words = {w for w in content_words(question) if not w.endswith("ing") and w != "worth"}
    return {w for w in words if not evidence.has_word(w[:-1] if w.endswith("s") else w, whole=True)}


def premise_facts(question: str, evidence: Evidence, language: str = "en") -> set[str]:
    """Numbers and codes of a question (any language) that the excerpts do not contain: "Are the lectures in
    room B305?" in a course whose lectures are in B214. An answer that says yes to it affirms them. For an
    English question, also those the excerpts state only about another subject (``detached_facts``)."""
    text = unicodedata.normalize("NFKC", question)
    numbers = {m.group().strip() for m in NUMBER.finditer(text) if not evidence.has_number(m.group().strip())}
    codes = {w for w in CODE.findall(text) if not re.fullmatch(r"[\d.,]+\w?", w) and not evidence.has_word(w)}
    return numbers | codes | (set(detached_facts(text, evidence)) if language == "en" else set())


def denied_subject(question: str, evidence: Evidence) -> str:
    """The excerpt sentence that denies what an English question asks about, or "": for "Which GPU do I need to
    run the labs?", "All labs run on a laptop CPU: ..., so no GPU is needed." It is the sentence sharing the
    most subject words with the question (at least two, or all of them), with a negation right before one of
    them ("no GPU", "never an unknown token"). An answer whose first sentence does not deny as well took its
    facts from elsewhere: "request up to 20 GPU hours" is the final projects' cluster (``SentenceGate``)."""
    if not evidence.latin:
        return ""
    subject = {w[:-1] if w.endswith("s") else w for w in content_words(question)} | {a.lower() for a in _ACRONYM.findall(question)}
    if not subject:
        return ""
    scores = [sum(1 for w in subject if re.search(r"(?<!\w)" + re.escape(w), s)) for s in evidence.sentences]
    best = max(scores, default=0)
    if best < min(2, len(subject)):
        return ""
    denial = re.compile(r"\b(?:no|not|never|without)\s+(?:\w+\s+)?(?:" + "|".join(map(re.escape, subject)) + ")")
    for i, (original, sentence, n) in enumerate(zip(evidence.originals, evidence.sentences, scores)):
        # (A negation anywhere in the sentence is no denial: "Grace days do not apply to ... the final project
        # report" also answers "How long can the final project report be?".)
        if n == best and denial.search(sentence):
            more = evidence.originals[i + 1] if original.endswith(";") and i + 1 < len(evidence.originals) else ""
            return f"{original} {more}".strip()
    return ""


_LIST_ITEM = re.compile(r"^\s*\d{1,2}(?:[.)]\s+|、)")
# A sentence that announces what follows ("具体如下：", "The rules are as follows:") states nothing alone.
_LEAD_IN = re.compile(r"[:：]\s*$")


def check_sentence(sentence: str, evidence: Evidence, language: str, premises: set[str] = frozenset()) -> Check:
    """The checkable facts of one sentence, and which of them ``evidence`` does not contain.

    ``premises`` (from ``premise_terms`` and ``premise_facts``) are words and facts of the question the
    excerpts lack: repeated in an English answer, or affirmed by an answer that opens with "yes" (in any
    language), they fail it too.
    """
    # A list item's number ("1. 每超过一天扣10%", "2) Labs") counts items, it states nothing about the course.
    text = _LIST_ITEM.sub("", unicodedata.normalize("NFKC", MARKER.sub("", sentence)), count=1)
    check = Check()
    if premises and _AFFIRMATION.match(text):
        check.facts.append("yes")
        check.add(Kind.AFFIRMED, ", ".join(sorted(premises)))
    if premises and language == "en" and not _NEGATION.search(text):
        # A sentence that denies the premise ("The course does not mention a final exam; ...") may name it.
        said = {w.lower() for w in WORD.findall(text)}
        for word in sorted(premises & said):
            check.facts.append(word)
            check.add(Kind.PREMISE, word)
    for time in clock_times(text, language):  # "10:00", and "10시 00분" in Korean (tutor.clock)
        check.facts.append(time)
        if time not in evidence.times:
            check.add(Kind.FACT, time)
    rest = without_times(text, language)
    derived = derived_numbers(rest)  # "32 / 8 = 4": 4 is computed from numbers that are checked (tutor.arithmetic)
    for m in NUMBER.finditer(rest):
        token = m.group().strip().rstrip(".,")
        if not token:
            continue
        check.facts.append(token)
        if not evidence.has_number(token) and token not in derived:
            check.add(Kind.FACT, token)
    if language != "en":  # (English names are checked below with every capitalised name)
        named = weekdays(rest, language)
        if named:
            known = evidence_days(evidence, language)
            for word, day in named:
                check.facts.append(word)
                if day not in known:
                    check.add(Kind.FACT, word)
    check.findings += unpaired_days(text, evidence, language)
    if language != "en" and evidence.latin:
        for fact, supported in _quantities(rest, evidence):
            check.facts.append(fact)
            if not supported:
                check.add(Kind.FACT, fact)
    if CJK_CHAR.search(text) and evidence.latin:
        for fact, supported in _cjk_words(rest, evidence):
            check.facts.append(fact)
            if not supported:
                check.add(Kind.FACT, fact)
    words = set(CODE.findall(rest)) | set(_ACRONYM.findall(rest))
    if language == "en" and evidence.latin:
        words |= {w for w in _CAPITALISED.findall(rest) if w not in _FREE_NAMES}
    for word in sorted(words):
        if re.fullmatch(r"[\d.,]+\w?", word):
            continue  # a number with a unit letter was checked as a number
        check.facts.append(word)
        stem = word[:-1] if word.endswith("s") and word[:-1].isupper() else word  # "LLMs" -> "LLM"
        if not evidence.has_word(stem):
            check.add(Kind.FACT, word)
    return check


# A number with its unit in an answer not in English, and the unit's English name in the excerpts.
_UNITS = {
    "day": "天 日 jour jours día días dia dias tag tage tagen",
    "week": "个星期 星期 周 semaine semaines semana semanas woche wochen",
    "page": "页 page pages página páginas pagina paginas seite seiten",
    "hour": "小时 heure heures hora horas stunde stunden",
    "minute": "分钟 minute minutes minuto minutos minuten",
}
_UNIT = {word: english for english, words in _UNITS.items() for word in words.split()}
_UNIT_WORD = "|".join(sorted(_UNIT, key=len, reverse=True))
_NUMBER_NAMES = "zero one two three four five six seven eight nine ten eleven twelve".split()  # "3 días": "three grace days"
_ORDINAL = r"(?:e|ème|eme|er|re|º|ª|\.)?"  # "10ème jour", "12e semaine", "3. Woche"
_QUANTITY = re.compile(rf"(第\s*)?(?<![\d.,])(\d+){_ORDINAL}\s*({_UNIT_WORD})(?![A-Za-zÀ-ÿ])"  # "第12天", "10ème jour", "60 minutos"
                       rf"|(?<![A-Za-zÀ-ÿ])({_UNIT_WORD})\s+(\d+)(?![\d.,]\d)", re.IGNORECASE)  # "semaine 12", "Woche 6"


def _quantities(text: str, evidence: Evidence) -> list[tuple[str, bool]]:
    """Numbers with a unit in an answer not in English, each with whether English excerpts give the number with
    that unit. "第12天" (day 12) and "le 10ème jour" (asked when the labs are) in a course that says "week 12"
    and has a row "| 10 | Project work |" are invented dates, though 12 and 10 are in the excerpts. (A table row
    does not count: "实验课在第10周" put the labs in the schedule's week 10.)"""
    out = []
    for m in _QUANTITY.finditer(text):
        n, word = (m.group(2), m.group(3)) if m.group(2) else (m.group(5), m.group(4))
        unit, said = _UNIT[word.lower()], f"(?:{n}|{_NUMBER_NAMES[int(n)]})" if int(n) < len(_NUMBER_NAMES) else n
        near = (rf"(?<![\d.,]){said}(?:[\s-]+[a-z]+)?[\s-]+{unit}s?\b"  # "12 weeks", "6-page", "three grace days"
                rf"|\b{unit}s?\s+(?:\d+\s*(?:and|or|to|,|-|–)\s*)?{n}(?![\d])")  # "week 12", "weeks 6 and 7"
        out.append((m.group().strip(), re.search(near, evidence.text) is not None))
    return out


def _cjk_words(text: str, evidence: Evidence) -> list[tuple[str, bool]]:
    """The English words a Chinese answer carries over ("softmax", "Tuesdays"), with whether the excerpts use
    each: one they never use is the answer's, not the course's."""
    return [(word, evidence.has_word(word)) for word in WORD.findall(text) if word.lower() not in QUESTION_WORDS]


# An English answer that says the question back ("How does attention decide which tokens to look at?" -> "The
# attention mechanism decides which tokens to look at.") states nothing and passes every fact check.
RESTATED = Kind.RESTATEMENT.value
# An answer that is a lead-in and nothing more ("迟交作业扣分，具体如下：") announces what it never says.
LEAD_IN = Kind.LEAD_IN.value
_NUMBER_WORD = re.compile(r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|"
                          r"thousand|million|billion|half|twice|once|single|double|all|none|every)\b")
_WH_QUESTION = re.compile(r"^\W*(?:what|how|why|which|when|where|who|whom|whose)\b", re.IGNORECASE)


def restates(sentence: str, question: str) -> bool:
    """Whether an English sentence only restates an English wh-question: no number, code or name the question
    lacks, and at most one content word of its own among at least three (a short "You need Python." is an
    answer). Yes/no questions, and sentences that agree or deny, are never restatements."""
    text = MARKER.sub("", sentence)
    if not _WH_QUESTION.match(question) or _AFFIRMATION.match(text) or _NEGATION.search(text):
        return False
    facts = NUMBER.findall(text) + CODE.findall(text) + _NUMBER_WORD.findall(text.lower())
    if any(f not in question.lower() for f in facts):  # "A Chinese character usually takes one or two tokens."
        return False
    asked = {w.lower()[:5] for w in WORD.findall(question)}
    content = [w.lower() for w in WORD.findall(text) if w.lower() not in QUESTION_WORDS]
    new = [w for w in content if w[:5] not in asked]
    return len(content) >= 3 and len(new) <= min(1, 0.2 * len(content))


# A retry that opens by apologising for the answer the check withheld ("Sorry, my previous answer was wrong.").
_APOLOGY = re.compile(r"^\W*(?:(?:i am |i'm |we are )?sorry|(?:i |my )?apologi|抱歉|对不起|不好意思|lo siento|disculp|perd[oó]n|"
                      r"entschuldig|es tut mir leid|d[ée]sol[ée]|pardon)", re.IGNORECASE)


# An answer that copies the prompt's own rules ("The course material does not mention the question and what it
# says instead.") is the model echoing its instructions, not answering; it is quoted over, not retried.
ECHOED = Kind.ECHO.value
_ECHO_WORDS = 4


def instruction_phrases(rules: str) -> frozenset[tuple[str, ...]]:
    """The four-word runs of ``rules`` (one clause at a time) that an answer has no reason to repeat: not
    those with a negation or "course material", since the rules ask for "the course material does not
    mention it" and the model may say that."""
    out = set()
    for clause in re.split(r"[.,:;!?()]", rules.lower()):
        words = re.findall(r"[a-z]+", clause)
        for i in range(len(words) - _ECHO_WORDS + 1):
            run = words[i:i + _ECHO_WORDS]
            if not _NEGATION.search(" ".join(run)) and "material" not in run:
                out.add(tuple(run))
    return frozenset(out)


def echoes(sentence: str, phrases: frozenset[tuple[str, ...]], evidence: Evidence) -> bool:
    """Whether ``sentence`` copies one of ``phrases`` (``instruction_phrases``) that the excerpts do not
    contain themselves."""
    words = re.findall(r"[a-z]+", sentence.lower())
    copied = [" ".join(run) for i in range(len(words) - _ECHO_WORDS + 1) if (run := tuple(words[i:i + _ECHO_WORDS])) in phrases]
    said = " ".join(re.findall(r"[a-z]+", evidence.text)) if copied else ""
    return any(run not in said for run in copied)


class SentenceGate:
    """Releases a streamed answer one checked sentence at a time.

    ``feed(delta)`` returns the text that may be shown now (whole sentences that passed); once a sentence
    fails, ``failed`` holds it and everything after is withheld. ``finish()`` checks the last sentence.
    With ``question`` (English), a first sentence that only restates it is held back until a sentence with
    something to say follows; an answer that is nothing but the restatement fails (``RESTATED``). In any
    language, a first sentence that is the question word for word fails (``RESTATED``). With
    ``denied`` (``denied_subject``), a first sentence without a negation fails (``SAYS`` the denial). With
    ``instructions`` (``instruction_phrases`` of the prompt's rules), a sentence that copies them fails (``ECHOED``).
    In an answer not in English, a sentence that copies English prose of the excerpts fails (``Kind.UNTRANSLATED``).
    With ``asks_when``, a sentence giving a time without the day the course gives it with fails (``omitted_day``).
    With ``retry`` (the second answer, after a failed one nobody saw), an opening apology that states nothing is dropped.
    A lead-in ("… as follows:") is held back until the sentence it announces passes.
    With ``excerpts`` (the excerpts alone) and an English ``question``, a sentence that gives the question's subject a
    number the course states about something else fails, naming the course's sentence on the subject (``misattributed``).
    """

    def __init__(self, evidence: Evidence, language: str, premises: set[str] = frozenset(), question: str = "",
                 denied: str = "", instructions: frozenset[tuple[str, ...]] = frozenset(), asks_when: bool = False,
                 retry: bool = False, excerpts: Evidence | None = None):
        self.evidence = evidence
        self.excerpts = excerpts
        self.retry = retry
        self.instructions = instructions
        self.asks_when = asks_when
        self.language = language
        self.premises = premises
        self.asked = question
        self.question = question if language == "en" else ""
        self.denied = denied if language == "en" else ""
        self.pending = ""
        self.held = ""
        self.released = ""
        self.failed: Check | None = None
        self.failed_sentence = ""
        self.checks: list[Check] = []

    @property
    def only_denies(self) -> bool:
        """Whether all that was released (English) denies and states nothing: "The excerpts do not mention
        encoder layers." is true, and leaves the student without what the course says instead (decoder-only,
        30 blocks)."""
        sentences = split_sentences(MARKER.sub("", self.released))
        return (self.language == "en" and 0 < len(sentences) <= 2
                and all(_NEGATION.search(s) and _COVERAGE.search(s) and not _CONTRAST.search(s) for s in sentences)
                and not any(c.facts for c in self.checks if c is not self.failed))

    def feed(self, delta: str) -> str:
        if self.failed:
            return ""
        self.pending += delta
        out = []
        while True:
            m = SENTENCE_END.search(self.pending)  # "3." is no boundary until a space follows: "3.5" stays whole
            if not m:
                break
            sentence, self.pending = self.pending[: m.end()], self.pending[m.end():]
            shown = self._accept(sentence)
            if shown is None:
                return "".join(out)
            out.append(shown)
        return "".join(out)

    def finish(self) -> str:
        sentence, self.pending = self.pending, ""
        shown = self._accept(sentence) if sentence.strip() and not self.failed else ""
        if self.held and not self.failed:  # the answer was its restatement of the question, or a lead-in, and nothing more
            kind = Kind.LEAD_IN if _LEAD_IN.search(MARKER.sub("", self.held)) else Kind.RESTATEMENT
            self.failed, self.failed_sentence = Check([kind.value], [Finding(kind)]), self.held.strip()
        return shown or ""

    def _accept(self, sentence: str) -> str | None:
        """The text to show now for a sentence: "" while a restatement is held back, None if it failed."""
        check = check_sentence(sentence, self.evidence, self.language, self.premises)
        self.checks.append(check)
        first = not self.released and not self.held
        if self.retry and first and not check.facts and _APOLOGY.match(MARKER.sub("", sentence)):
            return ""  # "抱歉，我之前的回答不准确。": the student never saw the answer it apologises for
        if first and self.asked and words(MARKER.sub("", sentence)) == words(self.asked):  # "Y a-t-il un examen final ? [1]"
            check.facts.append("question")
            check.add(Kind.RESTATEMENT)
        if self.denied and first and not _NEGATION.search(MARKER.sub("", sentence)):
            check.facts.append("denial")
            check.add(Kind.SAYS, says=self.denied)
        said = false_denial(sentence, self.question, self.excerpts) if first and self.question and self.excerpts else ""
        if said:  # "The course material does not mention the name of Bohemond's nephew." -- it does
            check.facts.append("denial")
            check.add(Kind.SAYS, says=said)
        said = omitted_day(sentence, self.evidence, self.language) \
            if self.asks_when and not names_day(self.released, self.language) else ""
        if said:
            check.facts.append("day")
            check.add(Kind.SAYS, says=said)
        about = misattributed(sentence, self.question, self.excerpts) if self.question and self.excerpts else ""
        if about:
            check.facts.append("subject")
            check.add(Kind.SAYS, says=about)
        if self.instructions and echoes(sentence, self.instructions, self.evidence):
            check.facts.append("instructions")
            check.add(Kind.ECHO)
        copied = untranslated(sentence, self.evidence) if self.language != "en" else ""
        if copied:  # the course's sentence is quoted instead, translated (tutor.translation)
            check.facts.append("language")
            check.add(Kind.UNTRANSLATED)
            check.add(Kind.SAYS, says=copied)
        if not check.ok:
            self.failed, self.failed_sentence = check, sentence.strip()
            return None
        if self.question and first and restates(sentence, self.question):
            self.held = sentence
            return ""
        if _LEAD_IN.search(MARKER.sub("", sentence)) and not check.facts:
            # "迟交作业扣分，具体如下：" shown alone, before a list item that fails, is all the student would get.
            self.held += sentence
            return ""
        shown, self.held = self.held + sentence, ""
        self.released += shown
        return shown
