"""Computed answers: a number the answer derives is supported when the answer shows the calculation.

The answer check asks every number of an answer to be in the excerpts, so the tutor could never compute: asked
"If I set alpha to 32 with rank 8, by how much is the LoRA update scaled?", the course gives the rule (alpha / r)
and an example (16 / 8 = 2), and 4 is written nowhere. A number is derived, and so needs no excerpt of its own,
when the sentence writes the operation out and the arithmetic is right: "32 / 8 = 4". Its operands are ordinary
numbers of the sentence, which the answer check still finds in the excerpts or the question.

Only the written form counts (digits, decimal points or commas, and the signs + - − × * · / ÷ ^ √ % and
parentheses on each side of "=" or "≈"; superscript powers): no language's words, and nothing of the model's text is evaluated as code. The expression is parsed here,
by a small recursive-descent parser over numbers and those operators.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# A number as answers write it: 1,234.5 / 1 234 / 0.25 / 0,0625 (a decimal comma) / 10% (a sign is an operator
# here). A comma before exactly three digits groups thousands; before any other count it is a decimal comma.
_GROUPED = r"\d{1,3}(?:[,\u202f\u00a0 ]\d{3}(?!\d))+(?:\.\d+)?%?"
_NUM = rf"{_GROUPED}|\d+(?:[.,]\d+)?%?"
_OP = r"[-+−×*·/÷^x]"
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# An arithmetic expression: numbers joined by operators, with parentheses; at least one operator.
_EXPR = re.compile(rf"√?\(*\s*(?:{_NUM})\s*\)*(?:\s*{_OP}\s*√?\(*\s*(?:{_NUM})\s*\)*)*")
_EQUALS = re.compile(r"\s*(?:=|≈|≅)\s*")
_TOKEN = re.compile(rf"\s*({_NUM}|[-+−×*·/÷^x()√])")


@dataclass(frozen=True)
class Calculation:
    """One written calculation of an answer: ``expression = result``, checked."""

    expression: str
    result: str
    value: float


def _number(token: str) -> tuple[float, bool]:
    """(value, is a percentage) of a written number."""
    percent = token.endswith("%")
    number = token.rstrip("%")
    digits = re.sub(r"[,\u202f\u00a0 ]", "", number) if re.fullmatch(_GROUPED, number) else number.replace(",", ".")
    return float(digits), percent


class _Parser:
    """expr := term (("+" | "-") term)*; term := power (("*" | "/") power)*; power := atom ("^" atom)?;
    atom := number | "(" expr ")" | "-" atom. ``percent_as_fraction``: 10% reads as 0.1."""

    def __init__(self, tokens: list[str], percent_as_fraction: bool):
        self.tokens, self.i, self.fraction = tokens, 0, percent_as_fraction

    def parse(self) -> float:
        value = self.expr()
        if self.i != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expr(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-", "−"):
            op, right = self.take(), self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self) -> float:
        value = self.power()
        while self.peek() in ("*", "×", "·", "x", "/", "÷"):
            op, right = self.take(), self.power()
            if op in ("/", "÷"):
                if right == 0:
                    raise ValueError("division by zero")
                value /= right
            else:
                value *= right
        return value

    def power(self) -> float:
        value = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.atom()
            if abs(exponent) > 64:
                raise ValueError("exponent too large")
            value = value ** exponent
        return value

    def atom(self) -> float:
        token = self.peek()
        if token is None:
            raise ValueError("expression ends early")
        if token == "(":
            self.take()
            value = self.expr()
            if self.peek() != ")":
                raise ValueError("unclosed parenthesis")
            self.take()
            return value
        if token in ("-", "−"):
            self.take()
            return -self.atom()
        if token == "√":
            self.take()
            value = self.atom()
            if value < 0:
                raise ValueError("square root of a negative number")
            return math.sqrt(value)
        if not token[0].isdigit():
            raise ValueError(f"unexpected {token!r}")
        self.take()
        value, percent = _number(token)
        return value / 100 if percent and self.fraction else value


def evaluate(expression: str, percent_as_fraction: bool = False) -> float:
    """The value of an arithmetic expression of numbers and + - × / ^ ( ); ``ValueError`` for anything else."""
    tokens, pos = [], 0
    text = expression.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"not arithmetic: {text[pos:pos + 10]!r}")
        tokens.append(m.group(1))
        pos = m.end()
    return _Parser(tokens, percent_as_fraction).parse()


def _agrees(value: float, written: str) -> bool:
    """Whether ``value`` rounds to the number as written (to its decimals; 1% tolerance for "≈")."""
    shown, _ = _number(written)
    plain = written.rstrip("%")
    decimals = 0 if re.fullmatch(_GROUPED, plain) else len(re.split(r"[.,]", plain)[1]) if re.search(r"[.,]", plain) else 0
    return math.isclose(round(value, decimals), shown, rel_tol=1e-9, abs_tol=0.5 * 10 ** -decimals)


def _computes(expression: str) -> bool:
    return re.search(rf"\d%?\s*\)*\s*{_OP}\s*√?\(*\s*\d|√", expression) is not None


def _check(expression: str, result: str) -> Calculation | None:
    """The calculation if ``expression`` evaluates to ``result`` (percentages as written, or as fractions)."""
    for fraction in (False, True):
        try:
            value = evaluate(expression, fraction)
        except (ValueError, OverflowError, ZeroDivisionError):
            continue
        if _agrees(value, result):
            return Calculation(expression, result, value)
    return None


def calculations(sentence: str) -> list[Calculation]:
    """The right calculations a sentence writes out: each "expression = number" (or "number = expression")
    whose expression has an operator and evaluates to the number (percentages as written, or as fractions:
    "10% × 200 = 20"). A chain "alpha / r = 32 / 8 = 4" gives one per "=" that computes. Superscript powers
    and square roots read too: "0,5⁴ = 0,0625", "15 / √25 = 3"."""
    sentence = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "^" + m.group().translate(_SUPERSCRIPT), sentence)
    parts = _EQUALS.split(sentence)
    out = []
    for left, right in zip(parts, parts[1:]):
        before = [m.group().strip() for m in _EXPR.finditer(left) if m.group().strip()]
        after = _EXPR.match(right.lstrip())
        if not before or not after:
            continue
        lhs, rhs = before[-1], after.group().strip()
        if _computes(lhs) and re.fullmatch(_NUM, rhs):
            found = _check(lhs, rhs)
        elif _computes(rhs) and re.fullmatch(_NUM, lhs):
            found = _check(rhs, lhs)  # "9,216 = 1,536 × 6"
        else:
            found = None  # "= 4" after a bare number states, it does not compute
        if found:
            out.append(found)
    return out


def derived_numbers(sentence: str) -> set[str]:
    """The numbers of ``sentence`` that are results of its right calculations (as written, "%" dropped too)."""
    return {form for c in calculations(sentence) for form in (c.result, c.result.rstrip("%"))}
