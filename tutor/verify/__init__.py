"""The answer check: every sentence of a generated answer passes a configured list of verifiers before a
student sees it.

- ``verdicts``: what a check finds, typed (``Kind``, ``Finding``, ``Check``).
- ``facts``: the language-neutral core: numbers, clock times, codes, names and weekdays must be in the excerpts.
- ``replies``: how a sentence relates to the question and the prompt (restated, denied, echoed).
- ``checks``: each check as a small ``Verifier`` class, by name (``EngineConfig.verifiers``).
- ``gate``: ``SentenceGate``, which runs them on a streamed answer one sentence at a time.
- ``support``: the model's own yes/no judgement of a sentence against the excerpts (measured in bench/support.py).

The names below are imported from their modules on first use, so that modules the checks build on
(``tutor.schedule``, ``tutor.translation``) can import ``tutor.verify.verdicts`` without a cycle.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SentenceGate": "gate", "check_sentence": "facts", "premise_facts": "facts", "premise_terms": "facts",
    "denied_subject": "replies", "instruction_phrases": "replies", "restates": "replies", "echoes": "replies",
    "RESTATED": "replies", "ECHOED": "replies", "LEAD_IN": "replies",
    "Check": "verdicts", "Finding": "verdicts", "Kind": "verdicts", "VERIFIERS": "checks", "DEFAULT_VERIFIERS": "checks",
    "verifiers_named": "checks", "SentenceContext": "checks",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tutor.verify' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tutor.verify.{_EXPORTS[name]}"), name)
