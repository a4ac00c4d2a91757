"""Scripts, words and stopwords: one definition of each, shared by search, grounding, language detection,
the prompt's token estimate and the metrics.

Why one place: a character class for Chinese written six times drifts (one copy had the compatibility
ideographs, another kana, a third neither), and then BM25, the answer check and the F1 disagree about what a
Chinese character is.
"""

from __future__ import annotations

import re
import unicodedata

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs: extension A, unified, compatibility
KANA = "\u3040-\u30ff"  # hiragana and katakana
HANGUL = "\uac00-\ud7af\u1100-\u11ff"  # syllables and jamo

HAN_CHAR = re.compile(f"[{HAN}]")
KANA_CHAR = re.compile(f"[{KANA}]")
HANGUL_CHAR = re.compile(f"[{HANGUL}]")
CJK_CHAR = re.compile(f"[{HAN}{KANA}{HANGUL}]")  # a character written without spaces between words
HAN_KANA_RUN = re.compile(f"[{HAN}{KANA}]+")

# A word: a run of Chinese/Japanese characters (segmented later, where it matters) or of letters and digits.
_WORD = re.compile(f"[{HAN}{KANA}]+|[^\\W_]+", re.UNICODE)

# Words that say nothing about a topic, English and Chinese: dropped from BM25 queries and from the content
# terms that FAQ matching and citations compare.
STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its of on or our she so
    than that the their them then there these they this to was we were what when where which who whom why will
    with you your do does did how can could would should may might not no yes been being about also use used uses
    的 了 是 在 和 与 及 或 也 就 都 而 着 之 其 这 那 个 一个 有 为 以 于 上 中 对 把 被 让 给 从 到 吗 呢 吧 啊 什么 哪 哪个 哪些 谁 如何 怎么 多少 几
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``; a run of Chinese or Japanese characters is one item (no spaces there)."""
    return [m.group(0).lower() for m in _WORD.finditer(text)]


def is_cjk_run(word: str) -> bool:
    """Whether an item of ``words`` is a Chinese/Japanese run rather than a spaced word."""
    return bool(HAN_KANA_RUN.match(word))


def is_cjk(text: str, threshold: float = 0.3) -> bool:
    """True when CJK characters make up at least ``threshold`` of the non-space characters."""
    chars = [c for c in text if not c.isspace()]
    cjk = len(CJK_CHAR.findall(text))
    return cjk > 0 and cjk >= threshold * len(chars)


# A UTF-16 surrogate on its own: a browser or client can send one (JSON "\ud800"), Python keeps it in a str,
# and encoding it as UTF-8 for the reply then fails ("surrogates not allowed").
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> int | None:
    """The position of the first lone UTF-16 surrogate in ``text``, or None when it is valid Unicode text."""
    match = _SURROGATE.search(text or "")
    return match.start() if match else None


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so that it can be shown back and stored."""
    return _SURROGATE.sub("\ufffd", text or "")


_SCRIPT_SEPARATOR = re.compile(r"(?<=\d)[\u066b\u060c](?=\d)|(?<=\d)\u066c(?=\d{3})")  # ٫ and ، as decimal marks, ٬ grouping


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit written 0-9 (Arabic-Indic "٦", Devanagari "६", full-width "６") and the
    Arabic decimal mark between digits written "," ("6٫0" and the "6،0" a model writes are the course's 6,0):
    the answer check compares numbers by their ASCII digits, whatever script the answer uses."""
    if text.isascii():
        return text
    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)  # not "⁴"
    return _SCRIPT_SEPARATOR.sub(lambda m: "," if m.group() != "\u066c" else "", text)
