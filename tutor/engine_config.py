"""``EngineConfig``: every setting the engine decides with, with its help text; thresholds a config leaves at
None are filled from the embedder's calibration (``with_embedder_thresholds``).

The CLI flags and the app's flags are derived from these fields (``basics.flags``), so a setting is named,
typed and documented once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from basics.errors import ConfigError
from basics.language import LanguageConfig
from tutor.prompts import PromptConfig

SEARCH_MODES = ("hybrid", "dense", "lexical")


# The cosine levels an embedder is calibrated at (EmbedderSpec): each left at None in the config takes the embedder's.
THRESHOLDS = ("min_evidence", "min_quote_evidence", "min_cross_lingual_quote_evidence", "faq_threshold")


@dataclass
class EngineConfig:
    """Everything the engine decides with. Thresholds live here; the CLI and the app fill it."""

    model: str | None = field(default=None, metadata={"help": "Preset name, model directory, .gguf file or Hugging Face id; "
                              "default: the --adapter's base model (its card), else the default preset."})
    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter name (see `tutor adapters`)."})
    remote_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama) "
                                  "instead of a local model.", "env": "TUTOR_REMOTE_URL"})
    remote_model: str = field(default="", metadata={"help": "Model name on the remote server (with vLLM: a LoRA adapter's "
                              "name serves that adapter).", "env": "TUTOR_REMOTE_MODEL"})
    remote_api_key: str | None = field(default=None, metadata={"help": "Bearer token for the remote server.",
                                      "env": "TUTOR_REMOTE_API_KEY"})
    backend: str = field(default="auto", metadata={"help": "auto (llama.cpp for GGUF models on a CPU, else transformers) "
                         "| llamacpp | transformers."})
    n_ctx: int = field(default=4096, metadata={"help": "llama.cpp context window (prompt + answer), in tokens."})
    seed: int = field(default=0, metadata={"help": "Sampling seed (answers repeat at temperature > 0 too)."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA+bf16 when present, else CPU), cpu, cuda, ..."})
    optimize: str = field(default="auto", metadata={"help": "CPU speed-up: auto (bf16 where the CPU has native bf16, else none) "
                          "| none | bf16 | int8 | int4. int4 (4-bit weight-only, the GGUFs' own format) decodes fastest; "
                          "int8 degrades the 135M model's answers badly (docs/benchmarks.md, section Generation)."})
    k: int = field(default=5, metadata={"help": "Chunks retrieved per question."})
    search_mode: str = field(default="hybrid", metadata={"help": "hybrid | dense | lexical."})
    context_budget_tokens: int = field(default=700, metadata={"help": "Tokens of course excerpts in the prompt (model tokenizer)."})
    max_excerpts: int = field(default=3, metadata={"help": "Excerpts in the prompt, best first."})
    excerpt_chars: int = field(default=500, metadata={"help": "Each excerpt is cut to its sentences closest to the question, "
                               "about this many characters (prefill is most of an answer's time on a CPU); 0 keeps whole chunks."})
    max_new_tokens: int = field(default=160, metadata={"help": "Longest generated answer, in tokens."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (repeatable); > 0 samples."})
    repetition_penalty: float | None = field(default=None, metadata={"help": "None: the preset's (1.15 for the 135M-270M "
                                             "models, which loop without it; 1.0 from 0.5B on)."})
    min_evidence: float | None = field(default=None, metadata={"help": "Refuse when the top hit's dense cosine is below "
                                        "this; None: the embedder's calibrated level (EmbedderSpec.min_evidence)."})
    min_quote_evidence: float | None = field(default=None, metadata={"help": "When the model's answer fails the fact check, "
                                              "quote the top excerpt if its cosine reaches this; refuse below. None: the embedder's."})
    min_cross_lingual_quote_evidence: float | None = field(default=None, metadata={"help": "min_quote_evidence for a question "
                                                            "in another language than the excerpt (cosines across languages run "
                                                            "lower). None: the embedder's."})
    named_quote_margin: float = field(default=0.05, metadata={"help": "The course sentence the answer check named is "
                                       "quoted instead of the one closest to the question unless its cosine to the "
                                       "question is lower by more than this."})
    translate_quotes: bool = field(default=True, metadata={"help": "A quoted course sentence in another language than "
                                   "the question's is translated by the model too, and shown with the original when the "
                                   "translation keeps its numbers, times, rooms and days (tutor.translation)."})
    faq_threshold: float | None = field(default=None, metadata={"help": "FAQ question cosine at or above which the vetted "
                                         "answer is used; None: the embedder's."})
    faq_min_overlap: float = field(default=0.5, metadata={"help": "Share of the FAQ question's content terms the question must contain (guards the embedder on scripts it does not know)."})
    max_question_chars: int = field(default=2000, metadata={"help": "Longer questions are rejected (QuestionError)."})
    followup_max_words: int = field(default=4, metadata={"help": "Questions this short are treated as follow-ups when there is history."})
    nearest_topics: int = field(default=3, metadata={"help": "Topics named in a refusal."})
    citation_min_overlap: float = field(default=0.25, metadata={"help": "Without [n] markers, cite hits sharing this share of the answer's terms."})
    snippet_chars: int = field(default=220, metadata={"help": "Length of a citation snippet."})
    correct_once: bool = field(default=True, metadata={"help": "When the first sentence of an answer fails the fact "
                               "check, generate once more, told what the excerpts do not say, before quoting or refusing."})
    verifiers: str = field(default="facts,question,denial,day,subject,echo,language", metadata={"help": "The checks every "
                           "sentence of a generated answer passes before it is shown, in order (tutor.verify.checks)."})
    support_judge: bool = field(default=False, metadata={"help": "After the rules, the model judges each sentence of "
                                "its answer against the excerpts (yes/no, one short cached turn per sentence); the answer "
                                "is shown once judged (tutor.verify.support; figures in docs/benchmarks.md)."})
    support_threshold: float = field(default=0.5, metadata={"help": "The judge's probability of \"no\" from which a sentence "
                                     "is unsupported."})
    pivot_answers: bool = field(default=False, metadata={"help": "A question in another language than the excerpts is "
                                "translated into theirs, answered and checked there, and the checked answer is translated "
                                "back (shown once whole; tutor.translation's facts and meaning checks)."})
    log_questions: bool = field(default=True, metadata={"help": "Write each question to the question log."})
    language: LanguageConfig = field(default_factory=LanguageConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)

    def __post_init__(self) -> None:
        """A wrong setting fails when the config is made, naming the setting, not at the first question."""
        if self.search_mode not in SEARCH_MODES:
            raise ConfigError(f"EngineConfig.search_mode must be one of {', '.join(SEARCH_MODES)} (got {self.search_mode!r}).")
        for name in ("k", "max_excerpts", "max_new_tokens", "context_budget_tokens", "n_ctx", "max_question_chars"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"EngineConfig.{name} must be positive (got {getattr(self, name)!r}).")
        if self.temperature < 0 or self.excerpt_chars < 0:
            raise ConfigError("EngineConfig.temperature and excerpt_chars must not be negative.")
        from tutor.verify.checks import verifiers_named

        verifiers_named(self.verifiers)  # an unknown name fails here, naming the setting
        for name in THRESHOLDS:
            value = getattr(self, name)
            if value is not None and not -1.0 <= value <= 1.01:  # 1.01: "never" (above any cosine)
                raise ConfigError(f"EngineConfig.{name} is a cosine level in [-1, 1] (got {value!r}).")


def with_embedder_thresholds(config: EngineConfig, spec) -> EngineConfig:
    """``config`` with each cosine threshold left at None filled from the embedder's calibration: cosines
    of different embedders live on different scales (MiniLM's unrelated text ~0.1, EmbeddingGemma's ~0.3)."""
    return replace(config, **{name: getattr(spec, name) for name in THRESHOLDS if getattr(config, name) is None})
