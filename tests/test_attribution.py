"""Answers that cite their sentences (tutor/attribution.py, ``PromptConfig.cite_sentences``)."""

from knowledge_base import Hit
from tutor.attribution import cited_numbers, number_of, number_sentences, numbered_body, sentence_citations
from tutor.prompts import PromptConfig, build_messages, excerpt_sentences
from tutor.verify import SentenceGate
from tutor.verify.verdicts import Kind, named_sentences

LOGISTICS = ("## Schedule\n\nLectures take place on Tuesdays from 10:00 to 11:30 in room B214. Attendance is not "
             "recorded.\n\n| Session | Day |\n|---|---|\n| Office hours | Wednesdays |")
LABS = "Labs run on Mondays from 14:00 to 16:00 in computer room C3."


def hit(text: str, n: int) -> Hit:
    return Hit(chunk_id=f"c{n}", doc_id=n, document=f"doc{n}.md", title=f"Doc {n}", section="Schedule", page=None,
               text=text, start=0, end=len(text),
               score=0.9, dense_score=0.8, lexical_score=0.0)


def test_the_prompt_numbers_each_sentence_as_the_check_does():
    """The prompt and the answer check must number the same sentences the same way: headings and a table's
    separator carry no number, a table row does, and numbering runs on across excerpts."""
    hits = [hit(LOGISTICS, 1), hit(LABS, 2)]
    messages, included = build_messages("When are the labs?", hits, [], "en", None, 700, PromptConfig(cite_sentences=True))
    system = messages[0]["content"]
    numbered = excerpt_sentences(included)
    assert [s.number for s in numbered] == [1, 2, 3, 4, 5]
    for s in numbered:
        assert f"[{s.number}] {s.text}" in system
    assert numbered[-1].excerpt == 1 and numbered[-1].text == LABS
    assert "## Schedule" in system and "[1] Doc 1" not in system and "From: Doc 1" in system
    assert "end each sentence of your answer with the numbers" in system
    plain, _ = build_messages("When are the labs?", hits, [], "en", None, 700)
    assert "[1] Doc 1" in plain[0]["content"] and "[5]" not in plain[0]["content"]
    assert numbered_body("One. Two.\n\nThree.", 7) == ("[7] One. [8] Two.\n\n[9] Three.", 10)


def test_cited_numbers_read_lists_and_ranges():
    assert cited_numbers("Tuesdays [1, 3]. Also [2-4] and [9].", 5) == [1, 3, 2, 4]
    assert cited_numbers("No markers here.", 5) == []


def test_a_fact_from_another_sentence_than_the_cited_one_fails():
    """"Los laboratorios son en la sala B214 [5]": B214 is in the course (the lectures' room), not in the sentence
    the answer cites for it. The check against all the excerpts passes it; the cited verifier does not, and
    names the cited sentence, which the quote fallback then shows."""
    sentences = [s.text for s in number_sentences([LOGISTICS, LABS])]
    wrong = "Los laboratorios son los lunes de 14:00 a 16:00 en la sala B214 [5]. "
    gate = SentenceGate.for_answer("¿Dónde son los laboratorios?", [LOGISTICS, LABS], "es", verifiers="facts")
    assert gate.feed(wrong) == wrong  # every fact is somewhere in the excerpts
    gate = SentenceGate.for_answer("¿Dónde son los laboratorios?", [LOGISTICS, LABS], "es", sentences=sentences)
    assert gate.feed(wrong) == ""
    assert [f.kind for f in gate.failed.findings] == [Kind.UNCITED] and named_sentences(gate.failed.findings) == [LABS]
    gate = SentenceGate.for_answer("When are the labs?", [LOGISTICS, LABS], "en", sentences=sentences)
    assert gate.feed("Labs run on Mondays from 14:00 to 16:00 in room C3 [5]. ") != "" and gate.failed is None
    gate = SentenceGate.for_answer("When are the labs?", [LOGISTICS, LABS], "en", sentences=sentences)
    assert gate.feed("Labs run on Mondays from 14:00 to 16:00. ") != ""  # no marker: the excerpts as a whole


def test_citations_point_at_the_cited_sentences():
    hits = [hit(LOGISTICS, 1), hit(LABS, 2)]
    numbered = number_sentences([h.text for h in hits])
    cited = sentence_citations("Labs are on Mondays [5]. Lectures on Tuesdays [1].", numbered, hits, 200)
    assert [(c.n, c.document, c.snippet) for c in cited] == [(5, "doc2.md", LABS), (1, "doc1.md", numbered[0].text)]
    assert sentence_citations("No markers.", numbered, hits, 200) == []
    assert number_of(LABS, numbered) == 5 and number_of("Something else entirely here.", numbered) is None
