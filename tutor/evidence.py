"""What an answer may draw its facts from: the excerpts (and question) indexed once per answer.

``Evidence`` holds the excerpt text folded for matching (lower case, NFKC), its sentences, and the numbers and
clock times it states, in every spelling a number has (9,216 / 9216 / 9 216). The patterns here are the
facts the answer check (``tutor.grounding``) looks for; they are ASCII patterns on purpose: CJK characters are
word characters to Unicode patterns, so in "第12周" or "增加9,216个参数" no number was found, and a Chinese
clause holding a digit read as one code.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from basics.text import CJK_CHAR, ascii_digits
from tutor.clock import TIME, clock_times, without_times  # noqa: F401  (TIME: the checks import it from here)

# A sentence ends after . ! ? ; (and their CJK forms) or at a line break, but not after a list item's number
# at the start of a line ("1. Tokenize the text" is one sentence).
SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])(?<!^\d\.)(?<!\n\d\.)(?<!^\d\d\.)(?<!\n\d\d\.)\s+|(?<=[。！？；])|\n+")
MARKER = re.compile(r"\s*\[\d{1,2}(?:\s*[,–-]\s*\d{1,2})*\]")
# An item of a check's unsupported facts that is the course's own sentence on the matter, for the retry and
# the quote: the sentence that denies what the question asks about, or the one that gives a time's day.
SAYS = "the course says: "
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?(?!\w)", re.ASCII)
CODE = re.compile(r"\b(?=\w*\d)(?=\w*[^\W\d])\w{2,}\b|\b\w+_\w+\b", re.ASCII)  # B214, q_proj, gpt2; 3e-4 is a number


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (Latin and CJK punctuation, line breaks)."""
    return [s.strip() for s in SENTENCE_END.split(text or "") if s and s.strip()]


TABLE_SEPARATOR = re.compile(r"\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?")  # "|------|-------|" under a table's header


def table_start(lines: list[str], i: int) -> int:
    """The first row of the table that line ``i`` is a row of (its header, when the table is whole); ``i``
    when it is no table row."""
    start = i
    while lines[i].lstrip().startswith("|") and start > 0 and lines[start - 1].lstrip().startswith("|"):
        start -= 1
    return start


def table_header(lines: list[str], i: int) -> int | None:
    """The header row of the table that line ``i`` is a row of: its first row, when a separator follows it.
    None for a line that is no table row, and for a table cut below its header (an excerpt focused on the
    question): its first row left is a row like the others, not the names of the columns."""
    start = table_start(lines, i)
    if not lines[i].lstrip().startswith("|") or start + 1 >= len(lines):
        return None
    return start if TABLE_SEPARATOR.fullmatch(lines[start + 1].strip()) else None


_BLOCK_START = re.compile(r"\s*(?:#|[-*+] |\||>|\d+[.)] |```)")


def unwrap(text: str) -> str:
    """Course text with its soft line breaks joined: Markdown and plain-text pages are often wrapped at a fixed
    width, and a sentence cut at the wrap became two fragments when quoted ("…their own code and").
    Headings, list items, table rows, quotes, blank lines and fenced code keep their own lines (a wrapped
    list item is joined to its item)."""
    out: list[str] = []
    fenced = False
    for line in (text or "").split("\n"):
        stripped = line.strip()
        fence = stripped.startswith("```")
        if (out and out[-1].strip() and stripped and not fenced and not fence and not _BLOCK_START.match(line)
                and not out[-1].lstrip().startswith(("#", "|", "```"))):
            out[-1] = f"{out[-1].rstrip()} {stripped}"
        else:
            out.append(line)
        fenced ^= fence
    return "\n".join(out)


def _fold(text: str) -> str:
    """Lower-case, NFKC (full-width digits and colons become ASCII), digits of any script as 0-9, thin spaces to spaces."""
    return ascii_digits(unicodedata.normalize("NFKC", text)).lower().replace("\u202f", " ").replace("\u00a0", " ")


def _number_forms(token: str) -> set[str]:
    """Spellings of one number: 9,216 / 9216 / 9 216 / 9.216 (German) all mean the same; 6,0 and 60 do not
    (only a group of three digits is a thousands group)."""
    grouped = re.fullmatch(r"\d{1,3}(?:[.,\s]\d{3})+", token) is not None
    forms = {token, re.sub(r"[.,\s]", "", token) if grouped or re.fullmatch(r"\d+", token) else token}
    if re.fullmatch(r"\d+[.,]\d{1,2}", token):  # a decimal: 0.75 / 0,75
        forms |= {token.replace(",", "."), token.replace(".", ",")}
    return forms


class Evidence:
    """The excerpts and question a generated answer may draw its facts from, indexed once per answer."""

    def __init__(self, texts: list[str], language: str | None = None):
        if language:
            self._language = language  # the excerpts' own, when the texts hold the question too (SentenceGate.for_answer)
        self.text = _fold("\n".join(texts))
        self.originals = [s for t in texts for s in split_sentences(unwrap(t))]
        self.sentences = [_fold(s) for s in self.originals]
        self.numbers: set[str] = set()
        for m in NUMBER.finditer(self.text):
            self.numbers |= _number_forms(m.group().strip())
        # Excerpts in a CJK script spell English words and names their own way ("哈佛" for Harvard): the checks
        # of English words (names, premise words) only apply to excerpts written in Latin script.
        self.latin = len(CJK_CHAR.findall(self.text)) < 0.3 * max(1, len(re.findall(r"\w", self.text)))
        self.sentence_times = [set(clock_times(s, self.language)) for s in self.sentences]
        self.times = set().union(*self.sentence_times)

    @property
    def language(self) -> str:
        """The excerpts' own language (detected once): their weekday names are read in it, whatever the
        answer's language."""
        if not hasattr(self, "_language"):
            from basics.language import detect_language

            sample = self.text[:2000]
            if self.latin:  # a few CJK characters (a name, a question) do not make Latin-script pages Chinese
                sample = CJK_CHAR.sub(" ", sample)
            self._language = detect_language(sample)
        return self._language

    @property
    def english(self) -> bool:
        """Whether the excerpts are in English: the checks that read English words (premise words, names,
        units, denials) only apply then. Nothing assumes English course text."""
        return self.language == "en"

    def has_number(self, token: str) -> bool:
        return bool(_number_forms(token) & self.numbers)

    def sentences_with_number(self, token: str) -> list[int]:
        """Indexes of the sentences that state the number ``token``, in any of its spellings, not as part of a
        clock time; "10%" only as a percentage (the 10% late penalty is not the 10-minute presentation)."""
        percent, forms = token.endswith("%"), _number_forms(token.rstrip("%").strip())
        out = []
        for i, sentence in enumerate(self.sentences):
            text = without_times(sentence, self.language)
            if any(forms & _number_forms(m.group().strip()) and (not percent or text[m.end():].lstrip().startswith("%"))
                   for m in NUMBER.finditer(text)):
                out.append(i)
        return out

    def has_word(self, word: str, whole: bool = False) -> bool:
        """``word`` at the start of a word of the evidence; ``whole``: as a whole word give or take an
        inflection ("pass" finds "passing", "exam" does not find "example"): the same Snowball stem in the
        excerpts' language ("scaled" is the course's "scaling"), or one of a few English endings."""
        tail = r"(?:s|es|ed|d|ing|er|ers|ion|ions|ation|al|ally|ly|ment|ments)?(?!\w)" if whole else ""
        if re.search(r"(?<!\w)" + re.escape(_fold(word)) + tail, self.text) is not None:
            return True
        return whole and bool(self.stems) and stem(_fold(word), self.language) in self.stems

    @property
    def stems(self) -> set[str]:
        """The Snowball stems of the evidence's words, in its language (empty where Snowball has none)."""
        if not hasattr(self, "_stems"):
            self._stems = {stem(w, self.language) for w in re.findall(r"[^\W\d_]+", self.text)} \
                if _stemmer(self.language) else set()
        return self._stems


@lru_cache(maxsize=None)
def _stemmer(language: str):
    """Snowball's stemmer for an ISO 639-1 code (its algorithms are named in English: "portuguese"), or None."""
    import snowballstemmer
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(language).get_language_name("en").lower()
    except (ValueError, UnknownLocaleError):
        return None
    return snowballstemmer.stemmer(name) if name in snowballstemmer.algorithms() else None


def stem(word: str, language: str) -> str:
    """``word``'s Snowball stem in ``language`` ("scaled", "scaling" -> "scale"); the word where there is none."""
    stemmer = _stemmer(language)
    return stemmer.stemWord(word) if stemmer else word
