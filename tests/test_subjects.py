"""Which subject a fact is stated about (tutor/subjects.py): a number the course has, given to the wrong thing."""

from pathlib import Path

from tutor.evidence import Evidence
from tutor.verify import SentenceGate
from tutor.subjects import false_denial, holds, misattributed

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


def test_on_a_tie_the_numbers_own_sentence_is_named():
    """"Why is the LoRA matrix A initialised to zero?" (a false premise: B is) got "The LoRA matrix A is
    initialised to zero because ... the product B A is zero at step 0." The sentence holding 0 names
    "initialised" and "zero"; the 9,216-weights sentence names "LoRA" and "matrix": as many. The answer fails,
    and the course sentence it is told (and quoted) is the one that says A is initialised randomly."""
    excerpts = Evidence([(COURSE / "05-fine-tuning-and-lora.md").read_text(encoding="utf-8")])
    said = misattributed("The LoRA matrix A is initialised to zero because the product B A is zero at step 0.",
                         "Why is the LoRA matrix A initialised to zero?", excerpts)
    assert said.startswith("- `A` is initialised randomly and **`B` is initialised to zero**"), said
    # A tie where the other sentence says more of the answer's words names the other sentence: "lose ... points
    # per day" is the late problem sets' rule; the 35% row only names the final project (asked in a sample run).
    said = misattributed("You lose 35% of the final project's points per day if you hand it in late.",
                         "How many points do I lose per day if I hand in the final project report late?",
                         Evidence([LATE, GRADES]))
    assert said.startswith("Once the grace days are used up, a late problem set loses **10% of its points"), said


def test_the_gate_fails_the_sentence_and_hands_the_course_sentence_to_the_retry():
    excerpts = Evidence([LATE])
    question = "How many points do I lose per day if I hand in the final project report late?"
    gate = SentenceGate(Evidence([LATE, question]), "en", question=question, excerpts=excerpts)
    assert gate.feed("The final project report loses 10% of its points per day. ") == ""
    assert gate.failed is not None and gate.failed.unsupported[0].startswith("the course says: Grace days do")
    # without the excerpts (or for a question in another language) the gate does not read subjects
    gate = SentenceGate(Evidence([LATE, question]), "en", question=question)
    assert gate.feed("The final project report loses 10% of its points per day. ") != ""


def test_a_denial_fails_when_one_course_sentence_holds_what_it_denies():
    """Asked by hand: "How many GPU hours can I get for my final project?" got "The course material does not
    mention the number of GPU hours available for the final project. Instead, it states ... up to 20 GPU
    hours": a student cannot tell which half to believe. True denials of the sample course still pass."""
    pages = [(COURSE / name).read_text(encoding="utf-8")
             for name in ("01-tokenization.md", "03-transformer-architecture.md", "08-course-logistics.md")]
    excerpts = Evidence(pages)
    for question, denial, course in [
        ("How many GPU hours can I get for my final project?",
         "The course material does not mention the number of GPU hours available for the final project [1].",
         "Students who want to train larger models for their projects can request up to **20 GPU hours**"),
        ("What vocabulary size does GPT-2 use?", "The excerpts do not specify the vocabulary size of GPT-2.",
         "Model: GPT-2; Algorithm: byte-level BPE; Vocabulary size: 50,257."),  # a table row, read with its header
        # one word denied, a number asked for: asked by hand, the retry said so before "participation is worth 10%"
        ("How much is participation worth?", "The course material does not mention participation.",
         "Component: Participation; Weight: 10%."),
    ]:
        assert false_denial(denial, question, excerpts).startswith(course), question
    for question, denial in [
        # "encoder" and "SmolLM2" share a sentence on Byte-Pair Encoding; "layers" is the word that matters
        ("How many encoder layers does SmolLM2-135M have?",
         "The course material does not mention encoder layers for SmolLM2-135M."),
        # the course gives the assistant's office hours, never a name; "Fridays" is no name
        ("Who is the teaching assistant?", "The course material does not specify the name of the teaching assistant."),
        ("Is there a final exam?", "The course material does not mention a final exam."),
        ("How many GPU hours can I get?", "I could not find this in the course material."),  # no denial of a thing
        ("Who is the instructor?", "The course material does not mention the instructor."),  # one word, no name
        ("What is BPE?", "The course material does not mention BPE."),  # one word, asks for neither name nor number
    ]:
        assert false_denial(denial, question, excerpts) == "", question


def test_the_gate_hands_a_false_denial_s_course_sentence_to_the_retry():
    page = (COURSE / "08-course-logistics.md").read_text(encoding="utf-8")
    excerpts = Evidence([page])
    question = "How many GPU hours can I get for my final project?"
    gate = SentenceGate(Evidence([page, question]), "en", question=question, excerpts=excerpts)
    assert gate.feed("The course material does not mention the number of GPU hours for the final project. ") == ""
    assert gate.failed is not None and "denial" in gate.failed.facts
    assert gate.failed.unsupported[-1].startswith("the course says: Students who want to train larger models")


def test_a_table_row_read_with_its_header_is_found_in_its_excerpt():
    """The engine quotes the course sentence the check named, if an excerpt holds it; a table row is named
    with its header's words, and must still be found (else "How much is participation worth?" was refused)."""
    assert holds(GRADES, "Component: Participation; Weight: 10%.")
    assert holds(LATE, "Grace days do **not** apply to the midterm quiz or to the final project report; those deadlines are")
    assert not holds(GRADES, "Component: Participation; Weight: 35%.")
    assert not holds(GRADES, "Weight: 10%.")  # one cell alone is no row


def test_an_answer_that_opens_by_denying_coverage():
    from tutor.subjects import denies_coverage

    assert denies_coverage("The course material does not mention the name of Bohemond's nephew. Instead, it states "
                           "that Tancred joined the crusade [1].")
    assert denies_coverage("The excerpts do not say when the lab meets.")
    assert denies_coverage("The course doesn't mention a lab.")
    # a negation about the subject itself, or a denial after the first sentence, is no refusal
    assert not denies_coverage("The course has no final exam; the final project is due in week 12 [1].")
    assert not denies_coverage("Lectures are in B214 [1]. The excerpts do not mention a lab.")
    assert not denies_coverage("")


def test_a_table_row_is_named_with_its_header_only_when_the_header_is_there():
    """A row is quoted as "Component: Final project; Weight: 35%." under its header; in an excerpt cut below the
    header the first row left is no header ("Midterm quiz (week 6): Final project; 15%: 35%." was quoted)."""
    from tutor.subjects import _readable

    whole = ["| Component | Weight |", "|---|---|", "| Midterm quiz (week 6) | 15% |", "| Final project | 35% |"]
    assert _readable(whole, 3) == "Component: Final project; Weight: 35%."
    assert _readable(whole[2:], 1) == "Final project; 35%."
    assert holds("\n".join(whole[2:]), "Final project; 35%.")  # the engine finds the row it names
