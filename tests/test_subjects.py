"""Which subject a fact is stated about (tutor/subjects.py): a number the course has, given to the wrong thing."""

from pathlib import Path

from tutor.evidence import Evidence
from tutor.grounding import SentenceGate
from tutor.subjects import misattributed

COURSE = Path(__file__).resolve().parent.parent / "knowledge_base" / "sample_course"
LATE = ("## Late policy\n\nEach student has **three grace days** for the whole term, which can be spent on problem sets "
        "without\nasking. Once the grace days are used up, a late problem set loses **10% of its points per day**, "
        "and problem sets more than **5 days** late receive no credit.\n\nGrace days do **not** apply to the midterm "
        "quiz or to the final project report; those deadlines are\nfirm.")
GRADES = "## Grading\n\n| Component | Weight |\n|---|---|\n| Four problem sets | 40% (10% each) |\n| Final project | 35% |\n| Participation | 10% |"


def test_a_number_given_to_another_subject_names_the_course_sentence_on_the_subject():
    """The sample run's "The final project report loses 10% of its points per day": 10% is the late problem
    sets' penalty; the course says the report's deadline is firm."""
    excerpts = Evidence([LATE, GRADES])
    question = "How many points do I lose per day if I hand in the final project report late?"
    said = misattributed("The final project report loses 10% of its points per day if it is handed in late [1].",
                         question, excerpts)
    assert said == "Grace days do **not** apply to the midterm quiz or to the final project report; those deadlines are firm."
    # the same number, said of its own subject, passes; so does a percentage of a table row under its header
    assert misattributed("A late problem set loses 10% of its points per day [1].",
                         "How many points does a late problem set lose per day?", excerpts) == ""
    assert misattributed("Participation is worth 10% of the grade.", "How much is participation worth?", excerpts) == ""
    assert misattributed("The final project is worth 35% of the grade.", "How much is the final project worth?",
                         excerpts) == ""


def test_what_an_answer_says_a_number_is_of_must_be_in_its_course_context():
    """"How much is participation worth?" got "Participation is worth 10% of the final project." (asked by hand):
    the number is participation's, but of the grade. Words right after a number that the question did not bring
    must be in the number's course context; one such word is paraphrase ("overall")."""
    excerpts = Evidence([GRADES, LATE])
    question = "How much is participation worth?"
    said = misattributed("Participation is worth 10% of the final project.", question, excerpts)
    assert said == "Component: Participation; Weight: 10%."  # a table row, read with its header
    for right in ("Participation is worth 10%.", "Participation is worth 10% of the grade.",
                  "Participation counts for 10% of the overall grade."):
        assert misattributed(right, question, excerpts) == "", right


def test_a_number_whose_subject_is_named_before_it_or_in_a_table_header_passes():
    """Course text names a subject once, then gives its numbers: the two sentences before a number's, and a
    table's header, are read with it."""
    pages = [(COURSE / name).read_text(encoding="utf-8") for name in ("01-tokenization.md", "05-fine-tuning-and-lora.md")]
    excerpts = Evidence(pages)
    for question, answer in [
        ("What vocabulary size does GPT-2 use?", "GPT-2 uses a vocabulary size of 50,257."),
        ("How many trainable weights does a rank-8 LoRA add to a 576 × 576 query projection?",
         "A rank-8 LoRA adds 9,216 trainable weights to a 576 × 576 query projection."),
    ]:
        assert misattributed(answer, question, excerpts) == "", question


def test_the_gate_fails_the_sentence_and_hands_the_course_sentence_to_the_retry():
    excerpts = Evidence([LATE])
    question = "How many points do I lose per day if I hand in the final project report late?"
    gate = SentenceGate(Evidence([LATE, question]), "en", question=question, excerpts=excerpts)
    assert gate.feed("The final project report loses 10% of its points per day. ") == ""
    assert gate.failed is not None and gate.failed.unsupported[0].startswith("the course says: Grace days do")
    # without the excerpts (or for a question in another language) the gate does not read subjects
    gate = SentenceGate(Evidence([LATE, question]), "en", question=question)
    assert gate.feed("The final project report loses 10% of its points per day. ") != ""
