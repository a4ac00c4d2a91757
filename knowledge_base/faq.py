"""The FAQ names other packages import (``from knowledge_base.faq import load_faq, FAQEntry, ...``).

The FAQ lives in three modules, one idea each:

* ``faq_files.py``: the file formats (CSV / TSV / JSONL / chat-messages JSONL), ``load_faq`` and the
  writers symmetric with it (``write_faq_csv``, ``write_faq_jsonl``);
* ``faq_entries.py``: ``FAQEntry``, ``FAQLimits`` and the validation of one record, problem by row;
* ``faq_match.py``: a course's FAQ in the database with its question embeddings, and the nearest match.

This module only re-exports the first two, so ``tutor/``, ``finetune/``, ``app.py`` and the benchmarks
keep their imports; new code inside ``knowledge_base`` imports from the modules above.
"""

from __future__ import annotations

from knowledge_base.faq_entries import FAQEntry, FAQLimits, normalize_question
from knowledge_base.faq_files import load_faq, write_faq_csv, write_faq_jsonl

__all__ = ["FAQEntry", "FAQLimits", "load_faq", "normalize_question", "write_faq_csv", "write_faq_jsonl"]
