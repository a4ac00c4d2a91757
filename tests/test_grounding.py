"""The answer check (tutor/grounding.py): facts in an answer must be in the excerpts it was given."""

from tutor.evidence import Evidence, split_sentences
from tutor.verify import SentenceGate, check_sentence
from tutor.verify.verdicts import Finding, Kind

LOGISTICS = ("Lectures are on Tuesdays and Thursdays, 10:00-11:30, in room B214. The course has no final exam; "
             "the final project is due in week 12. A rank-8 LoRA on a 576 x 576 projection adds 9,216 weights.")


def test_invented_logistics_are_caught():
    ev = Evidence([LOGISTICS])
    bad = check_sentence("The final exam is held on Friday, 12:00 to 13:45 in room B215.", ev, "en")
    assert set(bad.unsupported) >= {"12:00", "13:45", "B215", "Friday"}
    good = check_sentence("Lectures are on Thursdays, 10:00 to 11:30, in room B214 [1].", ev, "en")
    assert good.ok and {"10:00", "11:30", "B214"} <= set(good.facts)


def test_number_spellings_and_languages():
    ev = Evidence([LOGISTICS])
    for sentence, language in [("Es fügt 9216 Gewichte hinzu.", "de"), ("Añade 9.216 pesos [1].", "es"),
                               ("它增加 9,216 个权重。", "zh"), ("It adds 9 216 weights.", "en")]:
        assert check_sentence(sentence, ev, language).ok, sentence
    assert check_sentence("It adds 7,000 weights.", ev, "en").unsupported == ["7,000"]
    # German nouns are capitalised: only codes, acronyms and numbers are checked outside English
    assert check_sentence("Die Vorlesung findet im Raum B214 statt.", ev, "de").ok


def test_gate_releases_checked_sentences_only():
    ev = Evidence([LOGISTICS])
    gate = SentenceGate(ev, "en")
    shown = ""
    for piece in ["Lectures are in room ", "B214 [1]. The exam ", "is at 14:00. More text."]:
        shown += gate.feed(piece)
    shown += gate.finish()
    assert shown == "Lectures are in room B214 [1]. "
    assert gate.failed is not None and gate.failed.unsupported == ["14:00"]
    # a decimal point is not a sentence end: "3." waits for "3.5"
    gate = SentenceGate(Evidence(["The loss fell to 3.5 nats."]), "en")
    assert gate.feed("It fell to 3.") == ""
    assert gate.feed("5 nats. ") == "It fell to 3.5 nats. "


def test_split_sentences_latin_and_cjk():
    assert split_sentences("One. Two?\n三个。四个！") == ["One.", "Two?", "三个。", "四个！"]


def test_a_yes_to_a_question_whose_facts_the_course_lacks_fails():
    """"Are the lectures in room B305?" in a course whose lectures are in B214: "Yes" affirms the question's
    room, in any language; a "No" that states the course's room passes; a yes to a true premise passes."""
    from tutor.verify import check_sentence, premise_facts

    evidence = Evidence(["Lectures are on Tuesdays and Thursdays, 10:00-11:30, in room B214."])
    premises = premise_facts("Are the lectures in room B305?", evidence)
    assert premises == {"B305"}
    assert check_sentence("Yes, the lectures are held there [1].", evidence, "en", premises).unsupported == ["yes: B305"]
    assert not check_sentence("是的，讲座在那里。", evidence, "zh", premise_facts("讲座在B305教室吗？", evidence)).ok
    assert check_sentence("No, lectures are in room B214 [1].", evidence, "en", premises).ok
    assert check_sentence("Yes, on Tuesdays.", evidence, "en", premise_facts("Are lectures on Tuesdays?", evidence)).ok


def test_a_yes_that_moves_a_course_fact_to_another_subject_fails():
    """B305 is in the course, as the office-hours room: "Yes" to "Are the lectures in room B305?" would move
    the lectures there. A code or number of the question must share a sentence (or table row) with one of
    its subject words; the word naming its kind ("room", "week") does not count."""
    from tutor.verify import check_sentence, premise_facts

    evidence = Evidence([
        "Lectures take place on Tuesdays from 10:00 to 11:30 in room B214. Labs run\non Mondays in room C3.",
        "- **Instructor office hours:** Wednesdays from 14:00 to 16:00 in room B305.",
        "| Four problem sets | 40% (10% each) |\n| Final project | 35% |",
    ])
    assert premise_facts("Are the lectures in room B305?", evidence) == {"B305"}
    assert premise_facts("Are the office hours in room B214?", evidence) == {"B214"}
    assert premise_facts("Is the final project worth 40%?", evidence) == {"40"}
    for true in ("Are the office hours in room B305?", "Are the lectures in room B214?", "Are the labs in room C3?",
                 "Is the final project worth 35%?"):
        assert premise_facts(true, evidence) == set(), true
    premises = premise_facts("Are the lectures in room B305?", evidence)
    assert not check_sentence("Yes, the lectures are in room B305 [1].", evidence, "en", premises).ok
    # the corrected retry is told what the course says about the lectures, not only that B305 is elsewhere
    from tutor.subjects import detached_facts
    from tutor.prompts import correction_messages

    instead = detached_facts("Are the lectures in room B305?", evidence)
    assert instead == {"B305": "Lectures take place on Tuesdays from 10:00 to 11:30 in room B214."}
    turn = correction_messages([{"role": "user", "content": "q"}], "Yes.", [Finding(Kind.AFFIRMED, "B305")], "en", instead)[-1]
    assert "for something else" in turn["content"] and "in room B214.\u201d" in turn["content"]
    assert check_sentence("No, the lectures are in room B214 [1].", evidence, "en", premises).ok
    # A Spanish question's subject words never share a sentence with English excerpts: no relation check there.
    assert premise_facts("¿Las clases son en la sala B214?", evidence, "es") == set()


def test_a_quote_is_a_whole_sentence_across_soft_line_breaks(embedder):
    """Course pages are wrapped at a fixed width; the quoted sentence must not stop at the wrap, and a
    heading is never the quote."""
    from tutor.evidence import unwrap
    from tutor.passages import best_passage

    text = ("## Collaboration\n\nStudents may discuss problem sets in groups, but each student must write and submit "
            "their own code and\nanswers and list the people they discussed with.\n\n| Part | Weight |\n| Labs | 40% |\n")
    quote = best_passage("Can my friend and I hand in the same solution?", text, embedder)
    assert quote.startswith("Students may discuss") and quote.endswith("the people they discussed with.")
    assert unwrap(text).count("\n") == text.count("\n") - 1  # only the soft break went; table rows stay lines


def test_a_table_row_kept_in_a_focused_excerpt_keeps_its_header(embedder):
    """Excerpts are cut to the sentences nearest the question; a table row cut from its header is bare cells
    ("| 10 | Project work |" was read as "the 10th day of the week"). A kept row brings the header and its
    separator; the other rows stay out."""
    from tutor.passages import focus_excerpts

    rows = "\n".join(f"| {week} | Topic number {week} |" for week in range(1, 13))
    text = ("## Schedule\n\nLectures take place on Tuesdays in room B214. Labs run on Mondays in room C3. Recordings are "
            "posted within a day.\n\n| Week | Topic |\n|------|-------|\n" + rows.replace("Topic number 10 ", "Project work "))
    focused = focus_excerpts("Which week is project work?", [text], embedder, 120)[0]
    assert "| 10 | Project work |" in focused and "| Week | Topic |\n|------|-------|" in focused, focused
    assert "| 3 | Topic number 3 |" not in focused


def test_a_sentence_denying_the_premise_may_name_it():
    """"When is the final exam?" in a course with a final project: repeating "exam" as a fact fails, saying
    the course has none passes (its other facts are still checked)."""
    from tutor.verify import check_sentence, premise_terms

    evidence = Evidence(["Grading: labs 40%, final project 35%, presented in week 12."])
    premises = premise_terms("When is the final exam?", evidence)
    assert premises == {"exam"}
    assert not check_sentence("The final exam is in week 12.", evidence, "en", premises).ok
    assert check_sentence("The course material does not mention a final exam; there is a final project in week 12.",
                          evidence, "en", premises).ok
    assert not check_sentence("There is no exam, only a test in week 14.", evidence, "en", premises).ok  # 14 invented


def test_an_english_answer_from_chinese_excerpts_is_checked_by_its_numbers_only():
    """English words and names are not spelled in Latin letters on a Chinese page (哈佛 for Harvard): there
    the premise words and the capitalised names are not checked, numbers and codes still are."""
    from tutor.verify import check_sentence, premise_terms

    evidence = Evidence(["在 20世纪80年代末 的南非撤资运动中，学生活动人士在哈佛校园竖起了一座象征性的棚子城。1998 年推出 Astra 2A。"])
    assert not evidence.latin and premise_terms("When was the divestment from South Africa movement?", evidence) == set()
    assert check_sentence("The divestment movement at Harvard began in the late 1980s [1].", evidence, "en").ok
    assert not check_sentence("It started in 1975 [1].", evidence, "en").ok
    assert check_sentence("Sky Digital used Astra 2A from 1998.", evidence, "en").ok
    assert not check_sentence("Sky Digital used Astra 2A from 1999.", evidence, "en").ok


def test_the_verbs_a_question_asks_with_are_no_premise():
    """"Which week covers LoRA?" on a page that never says "covers": an answer "Week 7 covers LoRA" asserts
    nothing the course lacks (it failed the check, and the retry answered "the course does not mention LoRA").
    A thing the question presupposes ("exam") stays a premise."""
    from tutor.verify import premise_terms

    evidence = Evidence(["| 7 | LoRA and parameter-efficient fine-tuning |", "Extensions are requested by email.",
                         "The final project is presented in week 12."])
    assert premise_terms("Which week covers LoRA?", evidence) == set()
    assert premise_terms("Which email address should I write to about an extension?", evidence) == {"address"}
    assert premise_terms("How many parameters does tying the embeddings save?", evidence) == {"embeddings"}
    assert premise_terms("When is the final exam?", evidence) == {"exam"}
    # asked by hand: "The final project is worth 35% of the course grade." failed on "worth" (the table says
    # "Weight"), and the retry inverted it: "The course grade is 35% of the final project."
    assert premise_terms("How much is the final project worth?", evidence) == set()
    # asked by hand: "A late problem set loses 10% of its points per day." failed on "after"
    late = Evidence(["Once the grace days are used up, a late problem set loses 10% of its points per day."])
    assert premise_terms("What is the late penalty after the grace days?", late) == {"penalty"}


def test_a_chinese_answer_is_checked_by_its_numbers_units_and_english_words():
    """On English excerpts a Chinese answer's numbers are numbers ("增加9,216个参数" was read as one code the
    excerpts lack, so every Chinese answer with a number fell back to an English quote); a number keeps its
    unit ("第12天", day 12, is an invented date where the course says "week 12"); the English words it
    carries over must be the excerpts' own."""
    from tutor.verify import check_sentence

    evidence = Evidence([LOGISTICS, "Attention computes softmax(Q K^T / sqrt(d_k)) V. The report is at most 6 pages."])
    for sentence in ("秩为8的LoRA增加9,216个可训练参数。", "讲座在Tuesdays的10:00到11:30在B214。", "期末项目在第12周提交。",
                     "报告最多6页。", "注意力使用softmax。"):
        assert check_sentence(sentence, evidence, "zh").ok, sentence
    assert check_sentence("期末考试在第12周的第12天进行。", evidence, "zh").unsupported == ["第12天"]
    assert check_sentence("讲座在10:00到12:30。", evidence, "zh").unsupported == ["12:30"]
    assert check_sentence("它增加7,000个参数。", evidence, "zh").unsupported == ["7,000"]
    assert check_sentence("注意力使用transformers。", evidence, "zh").unsupported == ["transformers"]


def test_a_french_spanish_or_german_number_keeps_its_unit_too():
    """"Quand ont lieu les travaux pratiques ?" got "Les travaux pratiques se déroulent le 10ème jour de la
    session, du 11 au 12ème jour.": 10, 11 and 12 are in the course (weeks of the schedule), days they are not.
    A number with a unit must be the course's number of that unit; a unit's number may be written as a word."""
    from tutor.verify import check_sentence

    evidence = Evidence([LOGISTICS, "Each student has three grace days, one every 3 months; more than 5 days late gets no credit. The quiz lasts 60 minutes. The report is at "
                                    "most 6 pages. Slides are posted within 24 hours."])
    for language, sentence in [("fr", "Le projet final est à rendre en semaine 12."), ("fr", "Le quiz dure 60 minutes."),
                               ("es", "Cada estudiante tiene 3 días de gracia."),
                               ("es", "Las entregas con más de 5 días de retraso no cuentan."), ("es", "Se publican en 24 horas."),
                               ("de", "Der Bericht hat höchstens 6 Seiten."), ("de", "Abgabe in der 12. Woche.")]:
        assert check_sentence(sentence, evidence, language).ok, sentence
    bad = check_sentence("Les travaux pratiques se déroulent le 10ème jour de la session, du 11 au 12ème jour.",
                         evidence, "fr")
    assert bad.unsupported == ["10ème jour", "12ème jour"]
    assert check_sentence("El quiz dura 12 minutos.", evidence, "es").unsupported == ["12 minutos"]
    assert check_sentence("Die Vorlesung ist am Tag 12.", evidence, "de").unsupported == ["Tag 12"]


def test_a_premise_word_is_a_whole_word():
    """"135M-parameter" names no premise "m-parameter" (the retry then answered "the excerpts do not mention
    m-parameter" instead of 2.7 billion tokens)."""
    from tutor.verify import premise_terms

    evidence = Evidence(["At roughly 20 tokens per parameter, a 135 million-parameter model needs about 2.7 billion tokens."])
    assert premise_terms("According to the Chinchilla rule, how many training tokens would a 135M-parameter model need?",
                         evidence) == {"chinchilla", "rule"}


def test_a_weekday_in_any_language_must_be_the_courses():
    """A German answer moved the office hours from Wednesday to "Dienstag": capitalised names are checked only
    in English, so weekdays in German, Spanish, French and Chinese are read by their English names."""
    from tutor.verify import check_sentence

    evidence = Evidence(["Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305."])
    assert check_sentence("Die Sprechstunden sind am Dienstag von 14:00 bis 16:00.", evidence, "de").unsupported[0] == "Dienstag"
    assert check_sentence("Die Sprechstunden sind am Mittwoch von 14:00 bis 16:00.", evidence, "de").ok
    assert check_sentence("Son los miércoles.", evidence, "es").ok
    assert check_sentence("Son los martes.", evidence, "es").unsupported == ["martes"]
    assert check_sentence("办公时间是星期三14:00到16:00。", evidence, "zh").ok
    assert check_sentence("办公时间是周二。", evidence, "zh").unsupported == ["周二"]


def test_an_answer_that_only_restates_the_question_fails():
    """"Normalisation is applied before computing exact match in the SQuAD convention." answered "What does
    normalisation do before computing exact match …?" and passed every fact check. A first sentence that
    says the question back is held until one with something to say follows; alone, it fails. An answer
    that adds a number word ("one or two tokens"), a short answer and a yes/no answer are no restatements."""
    from tutor.verify import RESTATED, SentenceGate, restates

    question = "What does normalisation do before computing exact match in the SQuAD convention?"
    restated = "Normalisation is applied before computing exact match in the SQuAD convention."
    assert restates(restated, question)
    assert restates("The attention mechanism decides which tokens to look at.",
                    "How does the attention mechanism decide which tokens to look at?")
    assert not restates("A Chinese character usually takes one or two tokens.",
                        "How many tokens does a Chinese character usually take?")
    assert not restates("You need Python.", "What language do I need?")
    assert not restates("Yes, the midterm quiz is open-notes.", "Is the midterm quiz open-notes?")

    evidence = Evidence(["In the SQuAD convention, normalisation lower-cases the text and removes punctuation."])
    gate = SentenceGate(evidence, "en", question=question)
    assert gate.feed(restated + " ") == "" and gate.finish() == ""
    assert gate.failed.unsupported == [RESTATED] and gate.failed_sentence == restated
    gate = SentenceGate(evidence, "en", question=question)
    assert gate.feed(restated + " ") == ""
    assert gate.feed("It lower-cases the text and removes punctuation [1]. ") == \
        restated + " It lower-cases the text and removes punctuation [1]. "
    assert gate.finish() == "" and gate.failed is None


def test_an_answer_that_copies_the_rules_fails():
    """"Which week covers LoRA?" got "The course material does not mention LoRA and what it says instead is ..."
    and a SQuAD question "The course material does not mention the question and what it says instead.": the
    model echoed its rules. Four words in a row from the rules fail a sentence, unless the excerpts say them
    too; the denial the rules ask for ("the course material does not mention ...") is no echo."""
    from tutor.verify import ECHOED, echoes
    from tutor.prompts import INSTRUCTIONS

    evidence = Evidence(["Week 7: LoRA and parameter-efficient fine-tuning. There is no class in the reading week."])
    assert echoes("The course material does not mention the question and what it says instead.", INSTRUCTIONS, evidence)
    assert echoes("The course material does not mention LoRA and what it says instead is that there is no class.",
                  INSTRUCTIONS, evidence)
    for answer in ("The course material does not mention a final exam.", "Week 7 covers LoRA [1].",
                   "If the question is about LoRA, week 7 covers it."):
        assert not echoes(answer, INSTRUCTIONS, evidence), answer
    quoting = Evidence(["Reply only in English, in one to three sentences."])  # the course says it: no echo
    assert not echoes("Reply in one to three sentences.", INSTRUCTIONS, quoting)

    gate = SentenceGate(evidence, "en", instructions=INSTRUCTIONS)
    assert gate.feed("The course material does not mention the question and what it says instead. ") == ""
    assert gate.failed.unsupported == [ECHOED]


def test_an_answer_must_deny_what_the_course_denies():
    """"Which GPU do I need to run the labs?" was answered with the final projects' "20 GPU hours": the course
    says no GPU is needed. When the excerpt sentence closest to the question's subject negates one of its
    words ("no GPU"), an English answer's first sentence must deny too; the retry is told that sentence. A
    negation elsewhere in the sentence is no denial of the question."""
    from tutor.evidence import SAYS
    from tutor.verify import SentenceGate, denied_subject
    from tutor.prompts import correction_messages

    labs = "All labs run on a laptop CPU: the course uses a small model, so no GPU is needed."
    evidence = Evidence([labs + " Students can request up to 20 GPU hours for their projects."])
    assert denied_subject("Which GPU do I need to run the labs?", evidence) == labs
    gate = SentenceGate(evidence, "en", denied=labs)
    assert gate.feed("You can request up to 20 GPU hours [1]. ") == ""
    assert gate.failed.unsupported == [SAYS + labs]
    gate = SentenceGate(evidence, "en", denied=labs)
    assert gate.feed("No GPU is needed: the labs run on a laptop CPU [1]. ") != ""
    retry = correction_messages([], "You can request up to 20 GPU hours.", [Finding(Kind.SAYS, says=labs)], "en")
    assert labs in retry[-1]["content"]

    grace = Evidence(["Grace days do not apply to the final project report; those deadlines are firm.",
                      "The written report of at most 6 pages is due at the end of week 12."])
    assert denied_subject("How long can the final project report be?", grace) == ""


def test_a_day_and_a_time_must_be_given_together_by_the_course():
    """A German answer put the instructor's office hours (Wednesdays 14:00-16:00) on "Dienstag", a day the
    excerpts name, for the lectures: each weekday of a sentence with clock times must share an excerpt
    sentence with one of them, in any language. The failure names the course's sentence for that time, the
    office hours rather than the labs, which are at 14:00 too."""
    from tutor.evidence import SAYS

    evidence = Evidence(["Lectures take place on Tuesdays and Thursdays from 10:00 to 11:30 in room B214. Labs run on "
                         "Mondays from 14:00 to 16:00 in computer room C3.",
                         "- Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305."])
    wrong = check_sentence("Die Sprechstunden sind am Dienstag von 14:00 bis 16:00 in Raum B305.", evidence, "de")
    assert wrong.unsupported == ["Dienstag 14:00", SAYS + "- Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305."]
    assert not check_sentence("Office hours are on Tuesdays from 14:00 to 16:00.", evidence, "en").ok
    assert not check_sentence("办公时间是星期二14:00到16:00。", evidence, "zh").ok
    for right, language in [("Die Sprechstunden sind am Mittwoch von 14:00 bis 16:00 in Raum B305.", "de"),
                            ("Lectures are on Tuesdays and Thursdays from 10:00 to 11:30, labs on Mondays from 14:00.", "en"),
                            ("办公时间是星期三14:00到16:00。", "zh")]:
        assert check_sentence(right, evidence, language).ok, right


def test_a_time_must_come_with_the_day_the_course_gives_it():
    """"¿Cuándo son las horas de oficina del profesor?" got "de 14:00 a 16:00 en el aula B305": true times, and
    the day (Wednesdays) left out. When every excerpt sentence with the answer's time names a day, a sentence
    giving the time without one fails, naming the course's sentence, whatever the question's language or
    wording ("Quando são as aulas práticas?" was missed by a word list of "when" in five languages). A time the
    course gives without a day, a date, or a day said in an earlier sentence fail nothing."""
    from tutor.evidence import SAYS
    from tutor.schedule import omitted_day

    office = "- Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305, or by appointment."
    evidence = Evidence(["Labs run on Mondays from 14:00 to 16:00 in computer room C3.", office,
                         "Problem sets are due at 23:59 local time."])
    spanish = "Las horas de oficina son de 14:00 a 16:00 en el aula B305."
    assert omitted_day(spanish, evidence, "es") == office
    assert omitted_day("Las horas de oficina son los miércoles de 14:00 a 16:00.", evidence, "es") == ""
    assert omitted_day("They are due at 23:59 local time.", evidence) == ""  # the course names no day either
    # a date pins the day: "El examen final es el 1º de julio de 2026, a las 08:00" (the course: "quarta-feira, 1º
    # de julho de 2026, das 08:00 às 11:00") was withheld for its missing weekday
    exam = Evidence(["A prova final acontece na quarta-feira, 1º de julho de 2026, das 08:00 às 11:00, no auditório A-01."])
    assert omitted_day("El examen final es el 1º de julio de 2026, a las 08:00, en el auditorio A-01.", exam, "es") == ""
    assert omitted_day("El examen final es a las 08:00, en el auditorio A-01.", exam, "es") != ""

    gate = SentenceGate(evidence, "es")
    assert gate.feed(spanish + " ") == "" and gate.failed.unsupported == [SAYS + office]
    gate = SentenceGate(evidence, "es")
    assert gate.feed("Son los miércoles. Empiezan a las 14:00 y terminan a las 16:00. ") != "" and gate.failed is None
    labs = Evidence(["As aulas práticas são às quintas-feiras, das 14:00 às 15:40, na sala D-214."])
    gate = SentenceGate.for_answer("Quando são as aulas práticas?", labs.originals, "pt")
    assert gate.feed("As aulas práticas são das 14:00 às 15:40, na sala D-214. ") == ""
    assert gate.failed.unsupported == [SAYS + labs.originals[0]]


def test_an_answer_that_repeats_a_sentence_ends_there():
    """Greedy decoding looped: "Bessel의 정리는 표본분산을 계산할 때 사용됩니다." came ten times. A sentence the answer
    already gave ends it (``ended``, no failure): what was shown stays, nothing more is read."""
    evidence = Evidence(["Dividir por n − 1 corrige o viés (correção de Bessel)."])
    gate = SentenceGate(evidence, "ko")
    loop = "Bessel의 정리는 표본분산을 계산할 때 사용됩니다. "
    assert gate.feed("n-1로 나눕니다. " + loop + loop + loop) == "n-1로 나눕니다. " + loop
    assert gate.ended and gate.failed is None and gate.feed(loop) == "" and gate.finish() == ""
    gate = SentenceGate(evidence, "en")
    assert gate.feed("It uses n − 1.\n\nIt uses n − 1 [1].") == "It uses n − 1.\n\n"
    assert gate.finish() == "" and gate.ended


def test_a_retry_drops_an_opening_apology():
    """Asked "办公时间是什么时候？", the retry opened with "抱歉，我之前的回答不准确。" (sorry, my previous answer was
    wrong), shown alone when its next sentence failed: the student never saw that answer. A retry's opening
    apology that states nothing is dropped; one that carries facts, and a first answer's, are kept."""
    evidence = Evidence(["- Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305."])
    gate = SentenceGate(evidence, "zh", retry=True)
    assert gate.feed("抱歉，我之前的回答不准确。办公时间是周三14:00到16:00。") == "办公时间是周三14:00到16:00。"
    gate = SentenceGate(evidence, "en", retry=True)
    assert gate.feed("Sorry, my previous answer was wrong. ") == "" and gate.finish() == "" and not gate.released
    gate = SentenceGate(evidence, "en", retry=True)
    assert gate.feed("Sorry: office hours are on Wednesdays from 14:00 to 16:00. ") != ""
    assert SentenceGate(evidence, "en").feed("Sorry, my previous answer was wrong. ") != ""


def test_an_answer_that_only_denies_is_told_apart():
    """The engine adds what the course says to an answer that only denies; one that says it too, or answers,
    is left as it is (tutor.engine, ``SentenceGate.only_denies``)."""
    evidence = Evidence([LOGISTICS])
    gate = SentenceGate(evidence, "en")
    gate.feed("The excerpts do not mention encoder layers. ")
    assert gate.finish() == "" and gate.only_denies
    gate = SentenceGate(evidence, "en")
    gate.feed("The course has no final exam; the final project is due in week 12. ")
    assert not gate.only_denies
    gate = SentenceGate(evidence, "en")
    gate.feed("Lectures are on Tuesdays and Thursdays. ")
    assert not gate.only_denies and not SentenceGate(evidence, "en").only_denies
    gate = SentenceGate(Evidence(["Because it has no recurrence, all positions are processed in parallel."]), "en")
    gate.feed("Transformers train faster because they have no recurrence, so all positions are processed in parallel. ")
    assert gate.released and not gate.only_denies  # an explanation with a negation denies nothing
    gate = SentenceGate(Evidence(["A compressor that kicks back is said to kick back."]), "en")
    gate.feed('The excerpts do not mention "term" but they do say "kick back."')
    gate.finish()
    assert gate.released and not gate.only_denies  # a denial that goes on to answer


def test_a_sentence_that_is_the_question_fails_in_any_language():
    evidence = Evidence([LOGISTICS])
    for language, question in [("fr", "Y a-t-il un examen final ?"), ("zh", "期末考试是什么时候？"), ("en", "What is BPE?")]:
        gate = SentenceGate(evidence, language, question=question)
        gate.feed(question + " [1] ")
        gate.finish()
        assert gate.failed is not None and gate.released == "", (language, gate.released)
    gate = SentenceGate(evidence, "fr", question="Y a-t-il un examen final ?")
    assert gate.feed("Non, il n'y a pas d'examen final. ") != ""  # an answer that reuses its words is an answer


def test_a_lead_in_waits_for_what_it_announces_and_list_numbers_are_not_facts():
    """Asked "迟交作业怎么扣分？" (how are late problem sets penalised?), the tutor showed "迟交作业扣分，具体如下："
    (late work loses points, as follows:) and nothing else: the list item after it failed the check on its
    item number "1". An item's number is not a fact, and a lead-in is shown only with the sentence it announces."""
    from tutor.verify import LEAD_IN

    evidence = Evidence(["Once the grace days are used up, a late problem set loses 10% of its points per day."])
    assert check_sentence("1. 每晚交一天扣10%的分数。", evidence, "zh").ok
    assert check_sentence("2) Each day late costs 10% [1].", evidence, "en").ok
    assert check_sentence("1、每晚交一天扣10%。", evidence, "zh").ok
    assert check_sentence("每晚交一天扣15%。", evidence, "zh").unsupported == ["15"]  # a number in the text still counts
    gate = SentenceGate(evidence, "zh")
    assert gate.feed("迟交作业扣分，具体如下：\n") == ""
    assert gate.feed("1. 每晚交一天扣10%的分数。\n") == "迟交作业扣分，具体如下：\n1. 每晚交一天扣10%的分数。\n"
    gate = SentenceGate(evidence, "zh")
    assert gate.feed("迟交作业扣分，具体如下：\n1. 每晚交一天扣20%的分数。\n") == "" and gate.failed is not None
    assert not gate.released  # nothing shown: the engine retries, then quotes the course
    gate = SentenceGate(evidence, "en")
    assert gate.feed("The penalty is as follows:") == "" and gate.finish() == ""
    assert gate.failed is not None and gate.failed.unsupported == [LEAD_IN]  # the log says why, not "restates"


def test_a_korean_answer_cannot_move_the_lectures_to_other_days():
    """Issue 35: "강의는 언제 어디에서 하나요?" got "월요일과 화요일 10시00분에서 11시30분까지 B214" (Monday and Tuesday)
    for a course whose lectures are on Tuesdays and Thursdays: the weekday names were a table of five languages.
    They come from CLDR now, for any language; the same holds for a Russian or Greek answer."""
    evidence = Evidence(["Lectures are on Tuesdays and Thursdays from 10:00 to 11:30 in room B214."])
    wrong = check_sentence("강의는 월요일과 화요일 10:00부터 11:30까지 B214에서 합니다.", evidence, "ko")
    assert "월요일" in wrong.unsupported and "화요일" not in wrong.unsupported, wrong.unsupported
    assert check_sentence("강의는 화요일과 목요일 10:00부터 11:30까지 B214에서 합니다.", evidence, "ko").ok
    assert not check_sentence("Лекции проходят по понедельникам в 10:00.", evidence, "ru").ok
    assert check_sentence("Лекции проходят по вторникам и четвергам с 10:00 до 11:30.", evidence, "ru").ok
    assert not check_sentence("Οι διαλέξεις γίνονται Δευτέρα και Τρίτη.", evidence, "el").ok


def test_findings_are_typed_and_invented_facts_count_only_facts():
    """The check's findings carry a kind, the fact and the course sentence they name (tutor/verdicts.py); the
    evaluation's "invented facts" reads the kinds, so a named course sentence is no invented fact."""
    from tutor.verify.verdicts import invented, named_sentences

    office = "- Instructor office hours: Wednesdays from 14:00 to 16:00 in room B305."
    evidence = Evidence([office, "Lectures are on Tuesdays from 10:00 to 11:30 in room B214."])
    check = check_sentence("Die Sprechstunde ist am Dienstag von 14:00 bis 16:00 in B307.", evidence, "de")
    kinds = [(f.kind, f.fact) for f in check.findings]
    assert (Kind.FACT, "B307") in kinds and (Kind.FACT, "Dienstag 14:00") in kinds, kinds
    assert named_sentences(check.findings) == [office]
    assert sorted(invented(check.findings)) == ["B307", "Dienstag 14:00"]
    assert check.unsupported == [f.text for f in check.findings]  # the one-line form the logs show


def test_the_gate_runs_the_configured_verifiers_by_name():
    """Each check is a named verifier (tutor.verify.checks): the list decides what runs, in order, and every
    finding carries its kind."""
    from tutor.verify import VERIFIERS, Kind, SentenceGate
    from tutor.verify.checks import SentenceContext

    evidence = Evidence(["Lectures are in room B214 on Tuesdays."])
    invented = "The lectures are in room B305. "
    default = SentenceGate(evidence, "en")
    assert default.feed(invented) == "" and [f.kind for f in default.failed.findings] == [Kind.FACT]
    without_facts = SentenceGate(evidence, "en", verifiers="question,echo")
    assert without_facts.feed(invented) == invented and without_facts.failed is None
    for name, cls in VERIFIERS.items():  # each runs alone on a sentence and returns a Check
        assert cls.name == name and cls().check(invented, SentenceContext(evidence, "en")) is not None


def test_checks_that_read_english_words_stay_silent_on_a_course_in_another_language():
    """Nothing assumes English course text: an English question on a Portuguese course shares no words with its
    pages, so its words are no premises the course lacks, and a Korean answer carrying "terças-feiras" over
    from the page is checked as that whole word."""
    from tutor.verify import check_sentence, premise_terms

    course = Evidence(["Horário de atendimento: terças-feiras, das 15:00 às 17:00, na sala A-210 (Bloco A)."])
    assert course.language == "pt" and not course.english
    assert premise_terms("When are the instructor's office hours?", course) == set()
    assert check_sentence("The office hours are on Tuesdays from 15:00 to 17:00 in room A-210.", course, "en").ok
    assert check_sentence("면담 시간은 terças-feiras 15:00~17:00, A-210입니다.", course, "ko").ok


def test_units_come_from_cldr_for_every_pair_of_languages():
    """A number with a unit is read with CLDR's unit words of the answer's language and looked for with those of
    the course's: a Russian "на 12-й день" or a Korean "12일" is no week 12 in a Portuguese course either."""
    from tutor.verify import check_sentence
    from tutor.verify.facts import unit_words

    assert {"días", "semanas"} <= set(unit_words("es")) and {"일", "주"} <= set(unit_words("ko"))
    assert "h" not in unit_words("es")  # one-letter abbreviations are no unit words ("14h" is a time)
    course = Evidence(["O projeto final é apresentado na semana 12.", "| 10 | Trabalho de projeto |"])
    assert check_sentence("기말 프로젝트는 12주차에 발표합니다.", course, "ko").ok
    assert [f.fact for f in check_sentence("기말 프로젝트는 12일에 발표합니다.", course, "ko").findings] == ["12일"]
    assert [f.fact for f in check_sentence("Проект представляют через 12 дней.", course, "ru").findings] == ["12 дней"]


def test_a_chinese_question_does_not_make_english_excerpts_chinese():
    """The gate's evidence holds the question too: one Chinese question made the English excerpts "zh" (the
    script rule), which silenced every check of English excerpts and let "第12天" (day 12) through."""
    from tutor.verify import SentenceGate

    gate = SentenceGate.for_answer("期末考试是什么时候？", ["The final project is presented in week 12.",
                                                        "You have three grace days for problem sets."], "zh")
    assert gate.context.evidence.language == "en" and gate.context.excerpts.english
    assert gate.feed("期末考试在第12周的第12天进行。") == "" and gate.failed.unsupported == ["第12天"]
    assert Evidence(["The final project is presented in week 12.", "期末考试是什么时候？"]).language == "en"


def test_an_answer_that_is_only_a_citation_marker_is_no_answer():
    """A Turkish question got "[1]" and nothing else, counted as an answer: it is held like a lead-in, shown
    with a sentence that follows, and fails alone so that the engine retries or quotes the course."""
    excerpt = "The American Medical Association (AMA) Code of Ethics provides that physicians may dispense drugs."
    gate = SentenceGate.for_answer("Hangi kurum bunu belirtmiştir?", [excerpt], "tr")
    assert gate.feed("[1]") == "" and gate.finish() == ""
    assert gate.failed is not None and gate.failed.findings[0].kind is Kind.LEAD_IN
    gate = SentenceGate.for_answer("Hangi kurum bunu belirtmiştir?", [excerpt], "tr")
    assert gate.feed("[1] Amerikan Tabipler Birliği (AMA). ") == "[1] Amerikan Tabipler Birliği (AMA). "
    assert gate.finish() == "" and gate.failed is None


def test_a_question_word_the_course_writes_in_another_form_is_no_premise():
    """"By how much is the LoRA update scaled?" failed its answer as repeating a premise: the course says "a
    scaling constant". Words are compared by their Snowball stem in the excerpts' language, so an inflection
    is the same word in any language Snowball knows, while "exam" still does not find "example"."""
    from tutor.verify import premise_terms

    evidence = Evidence(["LoRA: alpha is a scaling constant. With alpha = 16 and rank r = 8 the update is multiplied by 2."])
    assert premise_terms("If I set alpha to 32 with rank 8, by how much is the LoRA update scaled?", evidence) == set()
    assert evidence.has_word("scaled", whole=True) and not evidence.has_word("example", whole=True)
    pt = Evidence(["A prova é corrigida em uma semana e a nota sai na sexta-feira."])
    assert pt.has_word("corrigidas", whole=True) and not pt.has_word("provavelmente", whole=True)
