"""Clock times read in each language's own CLDR formats (tutor.clock), and the checks that use them."""

import pytest

from tutor.clock import clock_spans, clock_times, without_times
from tutor.evidence import Evidence
from tutor.verify import check_sentence
from tutor.schedule import unpaired_days

COURSE = Evidence(["Lectures are on Tuesdays and Thursdays, 10:00-11:30, in room B214.",
                   "Labs are on Mondays at 14:00 in lab L3."])


@pytest.mark.parametrize("language, text, times", [
    ("ko", "월요일과 화요일 10시00분에서 11시30분까지", ["10:00", "11:30"]),
    ("ko", "오후 2시에 시작합니다", ["14:00"]),
    ("ja", "10時30分から12時まで", ["10:30", "12:00"]),
    ("de", "um 14 Uhr im Raum L3", ["14:00"]),
    ("vi", "lúc 14 giờ", ["14:00"]),
    ("th", "10 นาฬิกา 30 นาที", ["10:30"]),
    ("en", "at 2 PM on Mondays, and 10:00-11:30", ["14:00", "10:00", "11:30"]),
    ("ar", "الساعة 2:30 م", ["14:30"]),
    ("es", "a las 3 p. m.", ["15:00"]),  # CLDR writes the period with narrow spaces; answers with plain ones
    ("fr", "de 10h00 à 11h30", ["10:00", "11:30"]),
])
def test_clock_times_in_the_locale_formats_cldr_gives(language, text, times):
    assert clock_times(text, language) == times


@pytest.mark.parametrize("language, text", [("en", "Typical ranks are 8 or 16."), ("ru", "глава 14: итоги"),
                                            ("de", "Woche 12"), ("ko", "B214 강의실")])
def test_a_bare_number_is_no_clock_time(language, text):
    assert clock_spans(text, language) == []


def test_the_digits_of_a_time_are_no_numbers_of_their_own():
    assert "10" not in without_times("10시 30분에 시작", "ko") and "30" not in without_times("10시 30분에 시작", "ko")


def test_a_korean_answer_that_moves_the_lectures_to_monday_is_caught():
    """The issue's case: "월요일과 화요일 10시00분에서 11시30분까지" (Monday and Tuesday, 10:00 to 11:30). Monday is
    in the course (the labs), but never with those times."""
    answer = "강의는 월요일과 화요일 10시00분에서 11시30분까지 B214에서 진행됩니다."
    found = unpaired_days(answer, COURSE, "ko")
    assert [f.fact for f in found if f.fact] == ["월요일 10:00"]
    assert not check_sentence(answer, COURSE, "ko").ok
    right = "강의는 화요일과 목요일 10시00분에서 11시30분까지 B214에서 진행됩니다."
    assert check_sentence(right, COURSE, "ko").ok


def test_an_invented_time_in_a_locale_format_is_caught():
    assert "15:00" in [f.fact for f in check_sentence("실습은 월요일 오후 3시에 있습니다.", COURSE, "ko").findings]
    assert check_sentence("실습은 월요일 오후 2시에 있습니다.", COURSE, "ko").ok


def test_a_decimal_is_not_the_number_its_digits_make():
    """"6,0" (a Portuguese decimal) is not 60, though "9,216" and "9216" are one number."""
    course = Evidence(["A nota mínima é 60 pontos.", "The adapter adds 9,216 weights."])
    assert not course.has_number("6,0") and course.has_number("60") and course.has_number("9216")


def test_a_day_carried_over_in_the_course_language_is_a_day():
    """An English answer that writes the Portuguese course's "terças-feiras" with the times gave the day."""
    from tutor.verify import SentenceGate

    gate = SentenceGate.for_answer("When are the instructor's office hours?",
                                   ["Horário de atendimento: terças-feiras, das 15:00 às 17:00, na sala A-210."], "en")
    answer = "The office hours are on terças-feiras, from 15:00 to 17:00, in room A-210. "
    assert gate.feed(answer) == answer and gate.failed is None
