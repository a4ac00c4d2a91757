"""FAQ rows -> tokenised training examples in the engine's own prompt format; a seeded split.

The model must be trained on exactly the prompt it will see when it answers, or fine-tuning teaches a
format the engine never uses. So the messages come from ``tutor.prompts.build_messages`` - the
function the engine itself calls - and are rendered with the tokenizer's chat template:

* plain: system + user question -> assistant answer (no retrieved context);
* ``rag``: the prompt carries the chunks the knowledge base retrieves for that question (same search
  the engine runs), so the model learns to answer *from context*, extractively.

Loss is on the answer only: every prompt token gets label -100, so the adapter learns to answer,
not to reproduce the system rules or the course text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from basics.errors import ConfigError
from knowledge_base.faq_entries import FAQEntry
from knowledge_base.faq_files import load_faq
from tutor import prompts
from basics.language import entry_language
from tutor.prompts import build_messages

log = logging.getLogger(__name__)

IGNORE_INDEX = -100  # the label value torch's cross-entropy skips


@dataclass
class DataConfig:
    """How FAQ rows become examples."""

    val_fraction: float = field(default=0.2, metadata={"help": "Share of rows held out for validation loss."})
    seed: int = field(default=42, metadata={"help": "Seed of the train/validation split."})
    max_length: int = field(default=384, metadata={"help": "Tokens per example; the prompt's context is cut to fit."})
    rag: bool = field(default=False, metadata={"help": "Put the retrieved course chunks in the prompt (needs a course)."})
    course: str | None = field(default=None, metadata={"help": "Course whose knowledge base the RAG prompts search."})
    rag_k: int = field(default=3, metadata={"help": "Chunks retrieved per question for RAG prompts."})


def file_sha256(path: str | Path) -> str:
    """Hash of the FAQ file, recorded on the adapter card so a run can be traced to its data."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


FAQInput = Union[str, os.PathLike, Sequence["FAQEntry"]]


@dataclass(frozen=True)
class FAQData:
    """An FAQ to train or evaluate on, with what a card or report records about where it came from."""

    entries: list
    source: str  # the file's absolute path, or e.g. "course sample FAQ (12 entries)"
    sha256: str  # of the file's bytes, or of the entries' content


def read_faq_data(faq: FAQInput) -> FAQData:
    """A file path is read and validated (``FAQFormatError`` names every bad row); a list of ``FAQEntry``
    (a course's FAQ from the knowledge base) is taken as it is, so a caller holding entries never has to
    write them to a temporary file that the card would then name instead of the real source."""
    if isinstance(faq, (str, os.PathLike)):
        return FAQData(load_faq(faq), str(Path(faq).resolve()), file_sha256(faq))
    entries = list(faq)
    if not all(isinstance(e, FAQEntry) for e in entries):
        raise ConfigError("The FAQ must be a file path or a list of knowledge_base.FAQEntry.")
    courses = {e.course for e in entries}
    n = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    source = f"course {courses.pop()} FAQ ({n})" if len(courses) == 1 and None not in courses else f"FAQ entries ({n})"
    return FAQData(entries, source, entries_sha256(entries))


def entries_sha256(entries: Sequence["FAQEntry"]) -> str:
    """Hash of what the entries say (not their database ids or row numbers): equal FAQs hash equal."""
    content = [{k: v for k, v in e.to_dict().items() if k not in ("id", "row")} for e in entries]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def split_entries(entries: list, val_fraction: float, seed: int, min_val: int = 1) -> tuple[list, list]:
    """Seeded shuffle, then the first ``val_fraction`` rows (at least ``min_val``) are validation."""
    if len(entries) < 2:
        return list(entries), []
    order = list(range(len(entries)))
    random.Random(seed).shuffle(order)
    n_val = max(min_val, round(len(entries) * val_fraction))
    n_val = min(n_val, len(entries) - 1)
    val = [entries[i] for i in sorted(order[:n_val])]
    train = [entries[i] for i in sorted(order[n_val:])]
    return train, val


def target_answer(entry, language: str) -> str:
    """The assistant turn to learn: the row's answer, or the engine's refusal for unanswerable rows."""
    if entry.answerable:
        return entry.answer
    return prompts.refusal_text(language, [])


def prompt_messages(entry, tokenizer, config: DataConfig, kb=None, max_prompt_tokens: int | None = None) -> list[dict]:
    """System + user messages for one row, built by the engine's own prompt builder.

    With ``rag`` the retrieved excerpts get whatever of ``max_prompt_tokens`` the rules and the
    question leave, so the answer is never the part that gets cut.
    """
    language = entry_language(entry)
    bare, _ = build_messages(entry.question, [], [], language, tokenizer, 0)
    if not config.rag:
        return bare
    if kb is None or not config.course:
        raise ConfigError("RAG examples need a knowledge base course: pass --course with --rag.")
    hits = kb.search(entry.question, config.course, k=config.rag_k)
    limit = max_prompt_tokens if max_prompt_tokens is not None else config.max_length
    overhead = len(tokenizer(tokenizer.apply_chat_template(bare, tokenize=False, add_generation_prompt=True),
                             add_special_tokens=False)["input_ids"])
    messages, _included = build_messages(entry.question, hits, [], language, tokenizer, max(0, limit - overhead))
    return messages


def encode_example(prompt: list[dict], answer: str, tokenizer, max_length: int) -> dict[str, list[int]] | None:
    """Token ids and labels with the prompt masked; None when no answer token fits."""
    prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": answer}], tokenize=False)
    if not full_text.startswith(prompt_text):
        # A template that renders the assistant turn differently than its generation prompt would
        # make the mask wrong; none of ours does, but fail loudly rather than train on garbage.
        raise ValueError("chat template: the answer rendering does not extend the generation prompt")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full_text[len(prompt_text):], add_special_tokens=False)["input_ids"]
    answer_text = full_text[len(prompt_text):]
    if tokenizer.eos_token and tokenizer.eos_token not in answer_text:
        # Chat templates close the turn with their own marker (<|im_end|> is SmolLM2's EOS); a template
        # without one needs EOS appended, or the model never learns to stop.
        answer_ids = answer_ids + [tokenizer.eos_token_id]
    ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:max_length]
    if all(x == IGNORE_INDEX for x in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def build_examples(entries: list, tokenizer, config: DataConfig, kb=None) -> list[dict[str, Any]]:
    """Encode rows; the RAG context budget leaves room for each row's answer within ``max_length``."""
    examples = []
    skipped = 0
    for entry in entries:
        language = entry_language(entry)
        answer = target_answer(entry, language)
        answer_len = len(tokenizer(answer, add_special_tokens=False)["input_ids"]) + 8  # + end-of-turn markers
        prompt = prompt_messages(entry, tokenizer, config, kb=kb, max_prompt_tokens=config.max_length - answer_len)
        example = encode_example(prompt, answer, tokenizer, config.max_length)
        if example is None:
            skipped += 1
            continue
        examples.append(example)
    if skipped:
        log.warning("%d FAQ row(s) skipped: their prompt alone fills max_length=%d", skipped, config.max_length)
    return examples


def collate(batch: list[dict[str, list[int]]], pad_id: int) -> dict:
    """Right-pad a batch; padding is masked in both the attention and the labels."""
    import torch

    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        labels[i, :n] = torch.tensor(b["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
