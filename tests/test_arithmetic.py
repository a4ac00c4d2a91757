"""Computed answers (tutor/arithmetic.py): a derived number is supported when the answer writes the
calculation out, its operands are in the excerpts, and the arithmetic is right."""

import pytest

from tutor.arithmetic import calculations, derived_numbers, evaluate
from tutor.evidence import Evidence
from tutor.verify import check_sentence


@pytest.mark.parametrize("sentence, derived", [
    ("The update is scaled by alpha / r = 32 / 8 = 4.", {"4"}),
    ("缩放因子为 32 / 8 = 4。", {"4"}),  # no words needed: the signs are the same in every language
    ("So 3 × 10% = 30% is deducted.", {"30%", "30"}),
    ("That is 10% × 200 = 20 points.", {"20"}),  # a percentage of a quantity
    ("With 4,096 x 2 = 8,192 tokens.", {"8,192"}),
    ("It has 9,216 = 1,536 × 6 weights.", {"9,216"}),  # the result first
    ("(2 + 3) * 4 = 20", {"20"}),
    ("Then 1/3 = 0.33.", {"0.33"}),  # rounded as written
    ("It is 2 + 2 = 5.", set()),  # wrong arithmetic derives nothing
    ("Week 8 = midterm.", set()),  # no operation
    ("2 hours = 120 minutes.", set()),  # a conversion with no operation written: not a calculation
    ("x = 5", set()),
])
def test_derived_numbers(sentence, derived):
    assert derived_numbers(sentence) == derived


def test_the_parser_evaluates_arithmetic_and_nothing_else():
    assert evaluate("2 + 3 × 4") == 14 and evaluate("(2 + 3) × 4") == 20 and evaluate("2 ^ 10") == 1024
    assert evaluate("10% × 200", percent_as_fraction=True) == 20 and evaluate("-3 + 5") == 2
    for bad in ("__import__('os')", "2 +", "(1 + 2", "1 / 0", "2 ^ 1000", "abs(3)"):
        with pytest.raises(ValueError):
            evaluate(bad)
    assert calculations("1 / 0 = 0") == []


def test_a_computed_answer_passes_the_check_and_a_wrong_one_does_not():
    """Issue 35: "If I set alpha to 32 with rank 8, by how much is the LoRA update scaled?" was refused ("the
    excerpts do not mention scaling"): 4 is written nowhere in the course, which gives the rule and 16 / 8 = 2."""
    course = "The LoRA update is scaled by alpha / r: with alpha = 16 and r = 8 the update is multiplied by 2."
    question = "If I set alpha to 32 with rank 8, by how much is the LoRA update scaled?"
    evidence = Evidence([course, question])
    assert check_sentence("The update is scaled by alpha / r = 32 / 8 = 4 [1].", evidence, "en").ok
    assert check_sentence("更新的缩放为 32 / 8 = 4。", evidence, "zh").ok
    assert check_sentence("The update is scaled by 4.", evidence, "en").unsupported == ["4"]  # no calculation shown
    assert check_sentence("The update is scaled by 32 / 8 = 5.", evidence, "en").unsupported == ["5"]  # wrong
    assert check_sentence("The update is scaled by 48 / 8 = 6.", evidence, "en").unsupported == ["48"]  # operand invented


def test_decimal_commas_powers_and_roots_are_read():
    """The statistics course's students write "0,5⁴ = 0,0625" and "15 / √25 = 3": decimal commas, superscript
    powers and square roots are arithmetic too; a comma before three digits still groups thousands."""
    from tutor.arithmetic import derived_numbers

    assert derived_numbers("P(X = 4) = 0,5⁴ = 0,0625.") == {"0,0625"}
    assert derived_numbers("EP = 15 / √25 = 15 / 5 = 3 e a margem é 1,96 × 3 = 5,88.") == {"3", "5,88"}
    assert derived_numbers("z = (92 − 70) / 10 = 2,2") == {"2,2"}
    assert derived_numbers("9,216 = 1,536 × 6") == {"9,216"}
    assert derived_numbers("z = (92 − 70) / 10 = 2,5") == set()  # wrong arithmetic supports nothing
    assert derived_numbers("√-4 = 2") == set()


def test_a_retry_after_a_bare_computed_number_asks_for_the_calculation():
    """"La probabilité … est de 0,0625." is right (0,5⁴) and was withheld twice: the number is not in the
    excerpts, and the retry, told only that, said it again. Told to show the calculation, the model can write
    "0,5⁴ = 0,0625", which the check verifies. A code or a name is corrected as before."""
    from tutor.prompts import correction_messages
    from tutor.verify.verdicts import Finding, Kind

    asks = correction_messages([], "… est de 0,0625.", [Finding(Kind.FACT, "0,0625")], "fr")[-1]["content"]
    assert "0,0625" in asks and "show the calculation" in asks
    told = correction_messages([], "… in B305.", [Finding(Kind.FACT, "B305")], "en")[-1]["content"]
    assert "B305" in told and "calculation" not in told
