"""Which subject a fact is stated about: the question's subject words, and the course sentences that hold a fact.

The answer check (``tutor.grounding``) asks more of a number than that the excerpts contain it somewhere. The
sample course gives "10% of its points per day" for late *problem sets*; an answer that gives it to the final
project report states a number the course has, and a rule it does not. Two checks read the relation between a
fact and the subject it is said of, in English (the subject words of a Spanish question never share a sentence
with English excerpts):

- ``detached_facts``: a number or code of the *question* that the course gives only for something else ("Are
  the lectures in room B305?" -- B305 is the office-hours room), so that a "yes" would move it;
- ``misattributed``: a number of the *answer* that every course sentence holding it states about something
  else, while another course sentence is about the question's subject; or that the answer says is "of"
  something its course sentences never name ("Participation is worth 10% of the final project").
"""

from __future__ import annotations

import re

from tutor.evidence import CODE, MARKER, NUMBER, TIME, Evidence, split_sentences, table_header, table_start
from tutor.schedule import names_day

WORD = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9-]{3,}", re.ASCII)  # an English word, whole: "135M-parameter" is none

# Words of questions that name no premise ("what does X mean", "explain the difference").
QUESTION_WORDS = {
    "what", "when", "where", "which", "whom", "whose", "does", "have", "many", "much", "there", "this", "that",
    "these", "those", "with", "from", "into", "about", "they", "their", "them", "your", "would", "could", "should",
    "mean", "means", "meaning", "difference", "different", "between", "explain", "work", "works", "used", "using",
    "need", "give", "example", "tell", "more", "most", "some", "than", "then", "also", "only", "just", "like",
    "course", "important", "happen", "happens", "good", "best", "better", "main", "role", "purpose", "kind",
    # words that ask about an aspect rather than name a topic ("reduce the *number* of parameters")
    "number", "amount", "type", "types", "part", "parts", "thing", "things", "value", "values", "ways",
    # the verbs and connectives a question asks with ("Which week *covers* LoRA?", "Since ..."): an answer
    # repeating one asserts nothing the course lacks; a premise is a thing the question presupposes (an exam)
    "since", "because", "cover", "covers", "covered", "write", "writes", "reach", "reaches", "measure", "measures",
    "compute", "computes", "save", "saves", "lose", "loses", "hand", "need", "needs", "take", "takes", "make",
    "makes", "help", "helps", "decide", "decides", "choose", "change", "changes", "affect", "affects", "improve",
    "reduce", "increase", "require", "requires", "allow", "allows", "contain", "contains", "include", "includes",
    "mean", "cause", "causes", "matter", "matters", "depend", "depends", "bring", "submit", "pass", "fail", "count",
    "learn", "learns", "train", "trains", "start", "begin", "apply", "applies", "produce", "produces", "look",
    # prepositions of time ("What is the late penalty *after* the grace days?"): they order things, they
    # presuppose none ("10% of the points per day" failed on "after", which the late policy never writes)
    "after", "before", "during", "until", "while", "once", "within",
}


def content_words(text: str) -> set[str]:
    """The English words of ``text`` that name something (lower case), not the words a question asks with."""
    return {w.lower() for w in WORD.findall(text)} - QUESTION_WORDS


def detached_facts(question: str, evidence: Evidence) -> dict[str, str]:
    """Codes and numbers of an English question that the excerpts contain, but never in a sentence about the
    question's subject: in "Are the lectures in room B305?" B305 is the office-hours room, and a "yes" would
    move the lectures there. The subject is the question's content words other than the word naming the
    code's kind ("room", "week"); one of them must share a sentence (or table row) with the code. (Only for
    English: the subject words of a Spanish question never share a sentence with English excerpts.)

    Each such code maps to the first excerpt sentence about the subject ("Lectures take place ... in room
    B214."), or "": what the course says instead, for the corrected retry (``prompts.correction_messages``)."""
    if not evidence.english:
        return {}
    content = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", question)} - QUESTION_WORDS
    out: dict[str, str] = {}
    for m in [*NUMBER.finditer(question), *CODE.finditer(question)]:
        code = m.group().strip()
        before = re.findall(r"[A-Za-z]+", question[: m.start()])
        subject = content - {before[-1].lower() if before else ""}
        if not re.search(r"\d", code) or not subject or not evidence.has_word(code):
            continue
        stems = [re.escape(w[:-1] if w.endswith("s") else w) for w in subject]
        about = re.compile(r"(?<!\w)(?:" + "|".join(stems) + r")")
        needle = re.compile(r"(?<!\w)" + re.escape(code.lower()) + r"(?!\w)")
        if not any(needle.search(s) and about.search(s) for s in evidence.sentences):
            out[code] = next((o for o, s in zip(evidence.originals, evidence.sentences) if about.search(s)), "")
    return out


_STEM = 5  # words are compared by their first letters: "conquered" and "conquest", "points" and "point"
_APART = 2  # subject words that a course sentence must name beyond the fact's own sentences
_CONTEXT = 2  # sentences before a number's own that say what it is about
_OF = 3  # words after a number that say what it is of ("10% of the final project")
_OF_STEM = 4  # compared more loosely: "of the grade" is said by the heading "Grading"
_CLAUSE = re.compile(r"[;:,()]|\.(?!\d)")  # where what a number is of ends: "28.3 million numbers."


def misattributed(sentence: str, question: str, excerpts: Evidence) -> str:
    """The course sentence about an English answer's subject, when the answer gives that subject a number the
    course states only about something else; else "".

    "How many points do I lose per day if I hand in the final project report late?" got "The final project
    report loses 10% of its points per day": 10% is in the course, in the sentence on late *problem sets*,
    while "Grace days do not apply to ... the final project report; those deadlines are firm." is about the
    report. The subject is the content words the question and the answer sentence share; a number fails when
    some course sentence names at least two of them that no course sentence holding the number names, nor
    the two sentences before one. It fails too when two of the first words after the number that the question
    did not bring are absent from the number's course context (then the number's own sentence is returned).
    (Numbers the question gives are its own; ``excerpts`` holds the excerpts only, not the question.)"""
    if not excerpts.english:
        return ""
    text = TIME.sub(" ", MARKER.sub("", sentence))
    asked = {m.group().strip().replace(",", "") for m in NUMBER.finditer(question)}
    numbers = [(t + ("%" if text[m.end():].lstrip().startswith("%") else ""), m.end()) for m in NUMBER.finditer(text)
               if (t := m.group().strip().rstrip(".,")) and t.replace(",", "") not in asked]
    asked_stems = {w[:_STEM] for w in content_words(question)}
    subject = asked_stems & {w[:_STEM] for w in content_words(text)}
    if not numbers or len(subject) < _APART:
        return ""
    patterns = {w: re.compile(r"(?<!\w)" + re.escape(w)) for w in subject}
    names = [{w for w, p in patterns.items() if p.search(s)} for s in excerpts.sentences]
    others = [i for i, s in enumerate(excerpts.originals) if not s.lstrip().startswith("#")]
    for number, end in numbers:
        holders = excerpts.sentences_with_number(number)
        if not holders:
            continue  # not in the course at all: the fact check fails it
        # A number's sentence is read with the two before it, which often name what it is about ("Take one
        # 576 x 576 query projection. A rank-8 LoRA adds ... 9,216 trainable weights"); headings only set context.
        around = [j for i in holders for j in _context(excerpts.originals, i)]
        near = set().union(*(names[j] for j in around))
        # What the answer says the number is of ("10% of the final project"): words the question did not bring
        # must be in the number's course context too. Participation is 10% of the grade, not of the project.
        of = [w for w in content_words(" ".join(WORD.findall(_CLAUSE.split(text[end:], 1)[0])[:_OF]))
              if w[:_STEM] not in asked_stems]
        unsaid = [w for w in of
                  if not any(re.search(r"(?<!\w)" + re.escape(w[:_OF_STEM]), excerpts.sentences[j]) for j in around)]
        if len(unsaid) >= _APART:
            return _readable(excerpts.originals, max(holders, key=lambda i: len(names[i])))
        # On a tie, the sentence nearest the number's: a course states the exception next to the rule.
        best = max(others, key=lambda i: (len(names[i] - near), -min(abs(i - h) for h in holders)), default=None)
        if best is not None and len(names[best] - near) >= _APART:
            answer = _stems(text)

            def shared(i: int) -> int:  # words course sentence i says in the answer too
                return len(_stems(excerpts.originals[i]) & answer)

            own = max(holders, key=shared)
            if len(names[best] - near) <= len(near) and shared(own) > shared(best):
                # A tie on the subject, and the number's own sentence says more of what the answer says: it is
                # the sentence the answer misread ("A is initialised randomly and B is initialised to zero, so
                # at step 0 the product B A is zero" for "The LoRA matrix A is initialised to zero because ...
                # the product B A is zero at step 0"), not the 9,216-weights sentence that names LoRA's matrix.
                return _readable(excerpts.originals, own)
            said, end = excerpts.originals[best], best + 1
            while said.endswith(";") and end < len(excerpts.originals):  # the clause goes on: "; those deadlines are firm."
                said, end = f"{said} {excerpts.originals[end]}", end + 1
            return said
    return ""


_FUNCTION = frozenset("the and for are its with that this from which was were has have not but all can you your "
                      "because into than then they their".split())


def _stems(text: str) -> set[str]:
    """The words of ``text`` (three letters or more, no function words), compared by their first letters and
    without a plural "s": "loses" and "lose", "days" and "day"."""
    words = (w[:-1] if w.endswith("s") else w for w in re.findall(r"[a-z]{3,}", text.lower()))
    return {w[:_STEM] for w in words if w not in _FUNCTION}


# A coverage denial and what it denies: "The course material does not mention the name of Bohemond's nephew."
_DENIAL = re.compile(
    r"\b(?:excerpts?|course|material|context|text)\s+(?:does|do|did)\s*(?:not|n't)\s+(?:explicitly\s+)?"
    r"(?:mention|say|specify|state|provide|include|contain|give|cover|discuss|describe|list)\w*\s+"
    r"(?:(?:any|specific|explicit|information|details?|about|on|regarding)\s+)*(?P<what>[^.;:!?]+)", re.IGNORECASE)
# Words a denial names its object's kind with, that the course sentence holding it need not say. A name or a
# number is then looked for instead: "the *name* of the teaching assistant" is not in "Teaching assistant
# office hours: Fridays ..." (the course names no assistant), "the *number* of GPU hours" is in "up to 20 GPU hours".
_NAME_ASPECT = {"name", "names", "who"}
_NUMBER_ASPECT = {"number", "amount", "many", "much", "count"}
_ASPECT = _NAME_ASPECT | _NUMBER_ASPECT | {"specific", "exact", "precise", "information", "detail", "details",
                                           "explicitly", "mention", "available"}
_ACRONYM = re.compile(r"(?<![\w-])[A-Z]{2,3}(?![\w-])")  # "GPU", which WORD (four letters or more) skips
_PROPER = re.compile(r"(?<=[\w,;)] )[A-Z][a-z]+")  # a capitalised word inside a sentence: a name


def denies_coverage(answer: str) -> bool:
    """Whether an English answer opens by saying the course does not cover what was asked ("The course
    material does not mention the name of …", the ``_DENIAL`` that ``false_denial`` reads): for a question the
    course cannot answer, that is a refusal in the model's words, whatever it quotes after it. "The course has
    no final exam" is an answer, not a denial."""
    first = next(iter(split_sentences(MARKER.sub("", answer))), "")
    return bool(_DENIAL.search(first))


def false_denial(sentence: str, question: str, excerpts: Evidence) -> str:
    """The course sentence that holds what an English answer's denial says the course does not mention; else "".

    Asked to say so when a question assumes what the excerpts do not say, the 1.5B denies too readily: "What
    was the name of Bohemond's nephew?" got "The course material does not mention the name of Bohemond's
    nephew. Instead, it states that ...", while its excerpt names the nephew. A denial is false when one course
    sentence (a table row with its header) holds every content word of the denied phrase and of the question
    but at most one common lower-case word of four ("their projects" for "the final project"), and a name
    or a number when the denial is of one. A denial of one word is read only when the question asks for a name
    or a number, and then needs that word and the name or number. A true denial passes: "encoder layers" of
    SmolLM2-135M are in a sentence on another model; "the name of the teaching assistant" is in no sentence
    with a name."""
    found = _DENIAL.search(MARKER.sub("", sentence))
    if not found or not excerpts.english:
        return ""
    what = found.group("what")
    kind = {w.lower() for w in re.findall(r"[A-Za-z]+", f"{what} {question}")}
    words = {w for w in WORD.findall(what) + WORD.findall(question) + _ACRONYM.findall(f"{what} {question}")
             if w.lower() not in QUESTION_WORDS | _ASPECT}
    denied = {w.lower() for w in WORD.findall(what)} - _ASPECT - QUESTION_WORDS
    typed = kind & (_NAME_ASPECT | _NUMBER_ASPECT)
    if len(denied) < _APART:
        if not denied or not typed:
            return ""
        # "How much is participation worth?" -> "The course material does not mention participation.": one word,
        # but the question asks for a number, so the course sentence holding the word and a number refutes it.
        words = {w for w in words if w.lower() in denied}
    stems = {w.lower()[:_STEM]: w for w in words}
    plain = {s for s, w in stems.items() if w.islower()}  # a word a paraphrase may drop; never a name or code
    spare = 1 if len(stems) > 3 else 0
    asked = {w.lower() for w in WORD.findall(question)}
    for i, said in enumerate(excerpts.sentences):
        if excerpts.originals[i].lstrip().startswith("#"):
            continue
        head = table_start(excerpts.sentences, i)
        text = said if head == i else f"{excerpts.sentences[head]} {said}"
        missing = {s for s in stems if not re.search(r"(?<!\w)" + re.escape(s), text)}
        if len(missing) > spare or missing - plain:
            continue
        original = excerpts.originals[i]
        if kind & _NAME_ASPECT and not any(
                m.group().lower() not in asked and not names_day(m.group()) for m in _PROPER.finditer(original)):
            continue
        if kind & _NUMBER_ASPECT and not any(m.start() == 0 or original[m.start() - 1] != "-"
                                             for m in NUMBER.finditer(TIME.sub(" ", original))):
            continue
        return _readable(excerpts.originals, i)
    return ""


def _context(sentences: list[str], i: int) -> list[int]:
    """Sentence ``i`` and the ``_CONTEXT`` before it; for a table row, the row, the table's header (it names
    the columns: "| Model | Tokenizer | Vocabulary size |") and the sentences before the table, not the other
    rows ("| Final project | 35% |" says nothing about the 10% of "| Participation | 10% |")."""
    start = table_start(sentences, i)
    return [*range(max(0, start - _CONTEXT), start + 1), i]


def holds(text: str, said: str) -> bool:
    """Whether excerpt ``text`` holds ``said``, a course sentence as ``_readable`` gave it: verbatim, or a table
    row whose cells are all in one row of ``text`` ("Component: Participation; Weight: 10%." is
    "| Participation | 10% |")."""
    if said in text:
        return True
    cells = [c.split(": ", 1)[-1].strip() for c in said.rstrip(".").split("; ")]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.lstrip().startswith("|")]
    return len(cells) > 1 and any(row == cells for row in rows)


def _readable(sentences: list[str], i: int) -> str:
    """Sentence ``i``; a table row as its cells named by the header ("Component: Participation; Weight: 10%"),
    so that the retry is told what the number is (a bare "| Participation | 10% |" names no column)."""
    start = table_start(sentences, i)
    if start == i:
        return sentences[i]
    cells = [[c.strip() for c in sentences[j].strip().strip("|").split("|")] for j in (start, i)]
    if table_header(sentences, i) is None:
        return "; ".join(cells[1]) + "."  # the excerpt was cut below the header: the first row is a row, not names
    return "; ".join(f"{h}: {c}" if h else c for h, c in zip(*cells)) + "."
