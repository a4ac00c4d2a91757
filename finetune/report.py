"""Evaluation outputs: ``metrics.json``, ``rows.csv`` and a self-contained ``report.html``.

The HTML embeds its plots as base64 PNGs (matplotlib, Agg backend) so the report is one file that can
be mailed or attached to a merge request. ``read_report`` loads what ``write_report`` wrote (metrics and
rows), so a report can be compared with a later run.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import logging
from pathlib import Path

from finetune.metrics import METRIC_KEYS, METRICS

log = logging.getLogger(__name__)

ROW_COLUMNS = (
    "system", "row", "language", "question", "reference", "answerable", "source", "answer", "refused",
    "faq_match", "cited", "retrieved", "recall_at_1", "recall_at_5", "reciprocal_rank", "correct", "invented", "f1",
    "answer_recall", "exact_match", "rouge_l", "semantic_similarity", "answer_language", "language_match", "latency_ms",
)
ANSWER_FIELDS = ("system", "row", "language", "split", "question", "reference", "outcome", "answer", "correct", "invented",
                 "grounding")
PLOTTED = tuple(m.key for m in sorted((m for m in METRICS if m.plot is not None), key=lambda m: m.plot))


def write_report(result, out_dir: Path) -> Path:
    """Write the three outputs into ``out_dir`` (created); return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    with open(out_dir / "rows.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=ROW_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in result.rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in ROW_COLUMNS})
    with open(out_dir / "answers.jsonl", "w", encoding="utf-8") as f:
        # Each answer with what the model saw (excerpts) and wrote (raw text, first try, findings): what a reader
        # needs to judge an answer by reading, and the material of the support labels (bench/support.py).
        for row in result.rows:
            f.write(json.dumps({k: row.get(k) for k in ANSWER_FIELDS}, ensure_ascii=False, default=str) + "\n")
    (out_dir / "report.html").write_text(render_html(result.metrics, result.rows), encoding="utf-8")
    log.info("evaluation report written to %s", out_dir)
    return out_dir


def read_report(out_dir: Path) -> tuple[dict, list[dict]]:
    """(metrics, rows) as written by ``write_report`` (CSV values come back as strings)."""
    out_dir = Path(out_dir)
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    with open(out_dir / "rows.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return metrics, rows


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(metrics: dict, rows: list[dict]) -> dict[str, str]:
    """Title -> base64 PNG: score distributions, per-language bars, systems side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = list(metrics["systems"])
    out = {}

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, key, label in ((axes[0], "f1", "token F1"), (axes[1], "semantic_similarity", "semantic similarity")):
        for system in systems:
            values = [r[key] for r in rows if r["system"] == system and r.get(key) is not None]
            if values:
                ax.hist(values, bins=np.linspace(0, 1, 11), alpha=0.5, label=system)
        ax.set_xlabel(label)
        ax.set_ylabel("questions")
    axes[0].legend(fontsize=8)
    out["Score distributions (answerable questions)"] = _png(fig)

    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(10, 3.2))
    x = np.arange(len(PLOTTED))
    for i, system in enumerate(systems):
        block = metrics["systems"][system]
        ax.bar(x + i * width, [block.get(k) or 0 for k in PLOTTED], width, label=system)
    ax.set_xticks(x + width * (len(systems) - 1) / 2, PLOTTED, fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    out["Systems compared (same questions, same run)"] = _png(fig)

    languages = sorted({lang for s in systems for lang in metrics["systems"][s]["by_language"]})
    fig, ax = plt.subplots(figsize=(10, 3.2))
    x = np.arange(len(languages))
    for i, system in enumerate(systems):
        by = metrics["systems"][system]["by_language"]
        ax.bar(x + i * width, [(by.get(lang) or {}).get("answer_f1") or 0 for lang in languages], width, label=system)
    ax.set_xticks(x + width * (len(systems) - 1) / 2, languages)
    ax.set_ylabel("token F1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    out["Token F1 by language"] = _png(fig)
    return out


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else html.escape(str(value))


def render_html(metrics: dict, rows: list[dict]) -> str:
    systems = list(metrics["systems"])
    head = "".join(f"<th>{html.escape(s)}</th>" for s in systems)
    body = "".join(
        f"<tr><td>{k}</td>" + "".join(f"<td>{_cell(metrics['systems'][s].get(k))}</td>" for s in systems) + "</tr>"
        for k in METRIC_KEYS
    )
    images = "".join(
        f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        for title, data in plots(metrics, rows).items()
    )
    primary = metrics["primary"]
    pair_keys = ("n", "correct", "answer_f1", "language_match", "wrongly_refused", "retrieval_recall_at_5")
    pairs = (metrics["systems"][primary].get("by_language_pair") or {}).items()
    pair_rows = "".join(f"<tr><td>{html.escape(pair)}</td>" + "".join(f"<td>{_cell(block.get(k))}</td>" for k in pair_keys)
                        + "</tr>" for pair, block in pairs)
    splits = (metrics["systems"][primary].get("by_split") or {}).items()
    split_rows = "".join(f"<tr><td>{html.escape(half)}</td>" + "".join(f"<td>{_cell(block.get(k))}</td>" for k in pair_keys)
                         + "</tr>" for half, block in splits)
    sample = [r for r in rows if r["system"] == primary][:100]
    cols = ("row", "split", "language", "course_language", "question", "reference", "answer", "correct", "invented", "f1", "refused", "retrieved",
            "latency_ms")
    table = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in sample)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Evaluation report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}} img{{max-width:100%}}</style></head><body>
<h1>Evaluation report</h1>
<p>FAQ file <code>{html.escape(str(metrics.get('faq_file', '')))}</code>, model <code>{html.escape(str(metrics.get('model', '')))}</code>,
created {html.escape(str(metrics.get('created', '')))}. Primary system: <b>{html.escape(primary)}</b>.
FAQ matching was {'on' if metrics.get('config', {}).get('use_faq') else 'off (no gold answers leak from the FAQ)'}.</p>
<table><tr><th>metric</th>{head}</tr>{body}</table>
<h2>Tuning half and held-out half ({html.escape(primary)}; fixed by a hash of each question)</h2>
<table><tr><th>half</th>{''.join(f'<th>{k}</th>' for k in pair_keys)}</tr>{split_rows}</table>
<h2>By question language -> course material language ({html.escape(primary)})</h2>
<table><tr><th>pair</th>{''.join(f'<th>{k}</th>' for k in pair_keys)}</tr>{pair_rows}</table>
{images}
<h2>Answers ({html.escape(primary)}, first {len(sample)})</h2>
<table><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{table}</table>
</body></html>
"""
