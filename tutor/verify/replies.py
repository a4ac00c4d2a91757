"""Checks of how an answer's sentence relates to the question and the prompt rather than to the excerpts' facts:
a first sentence that only says the question back (``restates``), one that does not deny what the course
denies (``denied_subject``), one that copies the tutor's own rules (``echoes``), an opening apology on a retry
(``APOLOGY``), and a lead-in that announces what it never says (``LEAD_IN_END``). They are English-only where
they read words; the verifiers that run them are in ``tutor.verify.checks``.
"""

from __future__ import annotations

import re

from tutor.evidence import CODE, MARKER, NUMBER, Evidence
from tutor.subjects import QUESTION_WORDS, WORD, content_words
from tutor.verify.facts import ACRONYM, AFFIRMATION, NEGATION
from tutor.verify.verdicts import Kind

# What a denial of the course's coverage names: "The excerpts do not mention …" (not "because they have no
# recurrence", an explanation with a negation in it).
COVERAGE = re.compile(r"\b(?:excerpts?|course|material|context|provided text)\b", re.IGNORECASE)
# A denial that goes on to say something: "The excerpts do not mention "term" but they do say "kick back."".
CONTRAST = re.compile(r"\b(?:but|however|instead|though|although|rather)\b", re.IGNORECASE)
# A sentence that announces what follows ("具体如下：", "The rules are as follows:") states nothing alone.
LEAD_IN_END = re.compile(r"[:：]\s*$")


def denied_subject(question: str, evidence: Evidence) -> str:
    """The excerpt sentence that denies what an English question asks about, or "": for "Which GPU do I need to
    run the labs?", "All labs run on a laptop CPU: ..., so no GPU is needed." It is the sentence sharing the
    most subject words with the question (at least two, or all of them), with a negation right before one of
    them ("no GPU", "never an unknown token"). An answer whose first sentence does not deny as well took its
    facts from elsewhere: "request up to 20 GPU hours" is the final projects' cluster (``SentenceGate``)."""
    if not evidence.english:
        return ""
    subject = {w[:-1] if w.endswith("s") else w for w in content_words(question)} | {a.lower() for a in ACRONYM.findall(question)}
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
    if not _WH_QUESTION.match(question) or AFFIRMATION.match(text) or NEGATION.search(text):
        return False
    facts = NUMBER.findall(text) + CODE.findall(text) + _NUMBER_WORD.findall(text.lower())
    if any(f not in question.lower() for f in facts):  # "A Chinese character usually takes one or two tokens."
        return False
    asked = {w.lower()[:5] for w in WORD.findall(question)}
    content = [w.lower() for w in WORD.findall(text) if w.lower() not in QUESTION_WORDS]
    new = [w for w in content if w[:5] not in asked]
    return len(content) >= 3 and len(new) <= min(1, 0.2 * len(content))


# A retry that opens by apologising for the answer the check withheld ("Sorry, my previous answer was wrong.").
APOLOGY = re.compile(r"^\W*(?:(?:i am |i'm |we are )?sorry|(?:i |my )?apologi|抱歉|对不起|不好意思|lo siento|disculp|perd[oó]n|"
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
            if not NEGATION.search(" ".join(run)) and "material" not in run:
                out.add(tuple(run))
    return frozenset(out)


def echoes(sentence: str, phrases: frozenset[tuple[str, ...]], evidence: Evidence) -> bool:
    """Whether ``sentence`` copies one of ``phrases`` (``instruction_phrases``) that the excerpts do not
    contain themselves."""
    words = re.findall(r"[a-z]+", sentence.lower())
    copied = [" ".join(run) for i in range(len(words) - _ECHO_WORDS + 1) if (run := tuple(words[i:i + _ECHO_WORDS])) in phrases]
    said = " ".join(re.findall(r"[a-z]+", evidence.text)) if copied else ""
    return any(run not in said for run in copied)
