"""The model's own judgement of one answer sentence against the excerpts: does the course text say this?

A check that reads facts (``tutor.verify.facts``) cannot see a wrong meaning built from right facts ("the labs
are on Tuesdays" when Tuesday is in the course, for the lectures), and word lists that try do not carry to the
next language. The dialogue model reads every language it writes, so it is asked, with a constrained yes/no
reply: its probability of "no" is the judgement's score (``generators.base.choose``: one forward pass over the
new tokens on llama.cpp). The excerpts come first and the sentence last, so the judgements of one answer's
sentences share their prompt up to the sentence.

How well it separates supported from unsupported sentences, and what it costs, is measured on labelled answers
(bench/support.py, docs/benchmarks.md); the engine runs it only where that measurement says it earns its time.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

from tutor.evidence import MARKER
from tutor.runtime.generators.base import choose
from tutor.verify.verdicts import Check, Finding, Kind

if TYPE_CHECKING:
    from tutor.verify.gate import SentenceGate

SYSTEM = "You check a tutor's statements against the course text. Reply with one word: yes or no."
ASK = ("Course text:\n{excerpts}\n\nStudent's question: {question}\nTutor's statement: {sentence}\n\n"
       "Does the course text support every fact in the statement (days, times, numbers, names, and what each "
       "belongs to)? It may be worded differently or in another language. Answer yes or no.")

# The same question asked after the answer prompt's system turn (the rules and the excerpts, already in
# llama.cpp's cache from the answer): only this user turn is new, and the model judges the statement without
# its own answer in view (asked as the turn after its answer, it defends it).
AFTER_EXCERPTS = ("Student's question: {question}\nA statement: {sentence}\n\nDo the course excerpts above support "
                  "every fact in the statement (days, times, numbers, names, and what each belongs to)? It may be "
                  "worded differently or in another language. Answer yes or no.")

# The same question asked as the next turn of the answer's own conversation: the prompt up to the answer is
# already in llama.cpp's cache, so only this turn is new (and the next question still shares the rules).
FOLLOW_UP = ("Check this statement of your answer against the course excerpts above: \"{sentence}\"\n"
             "Do the excerpts support every fact in it (days, times, numbers, names, and what each belongs to)? "
             "Answer yes or no.")


@dataclass
class SupportJudge:
    """Scores sentences with ``generator``: ``unsupported(...)`` is the probability that the course text does
    not support the sentence; ``threshold`` is where a sentence counts as unsupported."""

    generator: object
    threshold: float = 0.5  # measured: with the rules, precision 0.78 and recall 0.49 of "unsupported" (docs/benchmarks.md)

    def messages(self, sentence: str, excerpts: list[str], question: str = "") -> list[dict]:
        numbered = "\n".join(f"[{i}] {text.strip()}" for i, text in enumerate(excerpts, 1))
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": ASK.format(excerpts=numbered, question=question.strip() or "-",
                                                       sentence=sentence.strip())}]

    def unsupported_in(self, messages: list[dict], answer: str, sentence: str) -> float:
        """The same judgement as the turn after the answer: ``messages`` are the answer's prompt, ``answer``
        what the model wrote up to and with ``sentence``."""
        turn = messages + [{"role": "assistant", "content": answer.strip()},
                           {"role": "user", "content": FOLLOW_UP.format(sentence=sentence.strip())}]
        return choose(self.generator, turn, ("yes", "no"))["no"]

    def unsupported_after(self, messages: list[dict], sentence: str, question: str) -> float:
        """The judgement asked after the system turn of the answer's prompt ``messages`` (rules and excerpts)."""
        turn = [messages[0], {"role": "user", "content": AFTER_EXCERPTS.format(question=question.strip(),
                                                                              sentence=sentence.strip())}]
        return choose(self.generator, turn, ("yes", "no"))["no"]

    def unsupported(self, sentence: str, excerpts: list[str], question: str = "") -> float:
        return choose(self.generator, self.messages(sentence, excerpts, question), ("yes", "no"))["no"]

    def withdraw_unsupported(self, gate: "SentenceGate", messages: list[dict], question: str) -> list[float]:
        """Judge each sentence the gate released (after the rules), in order, as a turn after the cached excerpts
        of ``messages``; the first at or above ``threshold`` is withdrawn with what follows it (``Kind.MEANING``).
        Returns the probabilities of "no" judged (for the answer's record)."""
        scores = []
        for i, sentence in enumerate(list(gate.shown)):
            p_no = self.unsupported_after(messages, MARKER.sub("", sentence), question)
            scores.append(round(p_no, 3))
            if p_no >= self.threshold:
                gate.withdraw(i, Check(["meaning"], [Finding(Kind.MEANING, sentence.strip())]))
                break
        return scores

    def supports(self, sentence: str, excerpts: list[str], question: str = "") -> bool:
        return self.unsupported(sentence, excerpts, question) < self.threshold
