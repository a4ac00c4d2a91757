"""One file of current figures per benchmark: what ``bench/figures.py`` turns into the table of docs/benchmarks.md.

A benchmark that wants its figures in that table calls ``record`` at the end of its run (the scripts run as
``python bench/NAME.py``, so this directory is on ``sys.path``)::

    from record import record

    record("answers-sample",
           "Regression set: 98 questions a student asks about the sample course",
           "python bench/answers.py sample --preset qwen2.5-1.5b-instruct",
           [{"metric": "right, all", "value": f"{right:.3f} ({n_right} of {n})", "target": ">= 0.90"},
            {"metric": "invented facts (fact check)", "value": str(invented)}],
           source="<the heading of the run's section in docs/benchmarks-history.md>")

then ``python bench/figures.py`` rewrites the table. ``record`` replaces ``bench/results/NAME.json`` whole:
a file holds one run's figures, so the machine and date beside them are the ones they were measured on.

The format (``bench/results/NAME.json``), checked by ``check_record`` when written and when read:

- ``name``: the file's stem; ``what``: one line saying what is measured;
- ``command``: the exact command that reproduces the figures;
- ``machine``: the CPU in words ("2 cores AMD EPYC, AVX2 only, no GPU"): speed figures mean nothing without it;
- ``date``: YYYY-MM-DD of the run;
- ``figures``: a list of ``{"metric", "value", "target" (optional), "note" (optional)}``, all text;
- ``source``: the heading of the diary section (docs/benchmarks-history.md) that tells how the run went,
  "" while it has none;
- ``note`` (optional): what the reader needs beside the figures (the commit, a shared CPU, ...).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REQUIRED = ("name", "what", "command", "machine", "date", "figures", "source")
OPTIONAL = ("note",)
FIGURE_REQUIRED = ("metric", "value")
FIGURE_OPTIONAL = ("target", "note")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")  # a file stem that reads the same in every shell and URL


class RecordError(ValueError):
    """A results file that does not hold the format above; the message names the file and the key."""


def check_record(data: Any, where: str) -> dict[str, Any]:
    """Return ``data`` if it is a valid record, else raise RecordError naming ``where`` (the file).

    Every key is checked, unknown ones too: a misspelt "targt" would otherwise vanish from the table silently.
    """
    if not isinstance(data, dict):
        raise RecordError(f"{where}: a results file holds one JSON object, not {type(data).__name__}")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise RecordError(f"{where}: missing required key(s) {', '.join(missing)} "
                          f"(a record holds {', '.join(REQUIRED)})")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise RecordError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    for key in REQUIRED + OPTIONAL:
        if key in data and key != "figures" and not isinstance(data[key], str):
            raise RecordError(f"{where}: '{key}' must be text, not {type(data[key]).__name__}")
    for key in ("name", "what", "command", "machine", "date"):
        if not data[key].strip():
            raise RecordError(f"{where}: '{key}' is empty")
    if not _NAME.match(data["name"]):
        raise RecordError(f"{where}: name {data['name']!r} must be lower-case letters, digits, '.' and '-'")
    try:
        datetime.date.fromisoformat(data["date"])
    except ValueError:
        raise RecordError(f"{where}: date {data['date']!r} is not YYYY-MM-DD") from None
    figures = data["figures"]
    if not isinstance(figures, list) or not figures:
        raise RecordError(f"{where}: 'figures' must be a non-empty list")
    for i, figure in enumerate(figures):
        at = f"{where}: figures[{i}]"
        if not isinstance(figure, dict):
            raise RecordError(f"{at} must be an object with {', '.join(FIGURE_REQUIRED)}")
        missing = [key for key in FIGURE_REQUIRED if key not in figure]
        if missing:
            raise RecordError(f"{at}: missing required key(s) {', '.join(missing)}")
        unknown = sorted(set(figure) - set(FIGURE_REQUIRED) - set(FIGURE_OPTIONAL))
        if unknown:
            raise RecordError(f"{at}: unknown key(s) {', '.join(unknown)} "
                              f"(allowed: {', '.join(FIGURE_REQUIRED + FIGURE_OPTIONAL)})")
        for key, value in figure.items():
            if not isinstance(value, str) or not value.strip():
                raise RecordError(f"{at}: '{key}' must be non-empty text (write the unit in it: \"13.3 s\")")
    return data


def describe_machine(cpuinfo: Path = Path("/proc/cpuinfo"), gpus: Path = Path("/proc/driver/nvidia/gpus")) -> str:
    """The machine in words, e.g. "2 cores AMD EPYC, AVX2 only, no GPU".

    The vector units are named because they decide the speed figures more than the core count does (the same
    answer took 13.3 s on 2 AVX2 cores and 5.8 s on 2 AVX-512 ones); the cores are the ones this process may
    use, which is what a benchmark ran on.
    """
    model, flags = "CPU", set()
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "CPU":
                model = " ".join(value.split()) or "CPU"
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if "avx512f" in flags:
        extras = [name for flag, name in (("avx512_bf16", "BF16"), ("amx_tile", "AMX")) if flag in flags]
        vectors = "AVX-512" + (f" with {', '.join(extras)}" if extras else "")
    elif "avx2" in flags:
        vectors = "AVX2 only"
    elif flags:
        vectors = "no AVX2"
    else:
        vectors = "vector units unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_gpus = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    gpu = f"{n_gpus} NVIDIA GPU{'s' if n_gpus > 1 else ''}" if n_gpus else "no GPU"
    return f"{cores} core{'s' if cores > 1 else ''} {model}, {vectors}, {gpu}"


def record(name: str, what: str, command: str, figures: list[dict[str, str]], machine: str | None = None, *,
           source: str = "", note: str = "", date: str | None = None, results_dir: Path = RESULTS) -> Path:
    """Write ``results_dir/NAME.json`` (machine: this one, described; date: today) and return its path.

    The file is checked before it is written and replaced in one step, so a bad call leaves the old figures.
    """
    data: dict[str, Any] = {"name": name, "what": what, "command": command,
                            "machine": machine or describe_machine(),
                            "date": date or datetime.date.today().isoformat(),
                            "figures": figures, "source": source}
    if note:
        data["note"] = note
    path = Path(results_dir) / f"{name}.json"
    check_record(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
