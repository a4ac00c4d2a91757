"""Language detection on the short questions students type (no model needed)."""

import pytest

from tutor.language import LanguageConfig, detect_language


@pytest.mark.parametrize(
    "text, expected",
    [
        ("什么是 BM25？", "zh"),  # an English term inside a Chinese question is still Chinese
        ("学习率太大会怎么样？", "zh"),
        ("LoRA是什么", "zh"),
        ("What is it?", "en"),  # too short for n-gram statistics: English fallback
        ("RRF?", "en"),
        ("How does reciprocal rank fusion combine the dense and lexical results?", "en"),
        ("¿Cómo funciona la fusión de rangos recíprocos en la búsqueda híbrida?", "es"),
        ("Comment fonctionne la fusion des rangs réciproques dans la recherche hybride ?", "fr"),
        ("Wie funktioniert die reziproke Rangfusion bei der hybriden Suche?", "de"),
        ("トークナイザーとは何ですか", "ja"),
        # the topic in the course's (English) terms, the small words in the student's language
        ("Was misst der Mean Reciprocal Rank (MRR)?", "de"),
        ("Was ist Grouped-Query Attention?", "de"),
        ("¿Cuáles son los valores por defecto de BM25?", "es"),
        ("Qu'est-ce que la retrieval-augmented generation ?", "fr"),
        ("When was the Transformer introduced?", "en"),
        ("How does SentencePiece represent spaces?", "en"),  # langdetect alone: Spanish
        ("What is the difference between a flat index and an HNSW index?", "en"),
        ("", "en"),
        # short questions asked by hand, answered in English before: too few letters, or one function word
        ("Wann finden die Labore statt?", "de"),
        ("Was ist LoRA?", "de"),
        ("¿Qué es LoRA?", "es"),
        ("¿Hay examen final?", "es"),
        ("Quand ont lieu les cours ?", "fr"),
        ("Y a-t-il un examen final ?", "fr"),  # "y" is Spanish too: the inversion "a-t-il" is French only
        ("Peut-on utiliser un GPU ?", "fr"),
        ("What does an add-on adapter change?", "en"),  # "add-on" looks like an inversion; English words outvote it
        # SQuAD: "was" twice is German by function words unless English ones ("where", "being") outvote it
        ("Where was Parliament's temporary home whilst the permanent building was being built?", "en"),
        ("Who was the leader when the treaty was signed?", "en"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_detection_repeats_and_respects_candidates():
    text = "Qual é a diferença entre ajuste fino completo e LoRA para modelos pequenos?"
    first = detect_language(text)
    assert all(detect_language(text) == first for _ in range(5))  # seeded: same answer every time
    assert first == "pt"
    # A language outside the candidate set falls back instead of leaking an unexpected code.
    assert detect_language(text, LanguageConfig(candidates=("en", "zh"))) == "en"
