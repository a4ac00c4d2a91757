"""The instructor's dashboard drawn: two matplotlib figures and the console's tables, from a
``tutor.dashboard.Dashboard``. Pure functions, like ``render.py``, so how it looks is tested without a server.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot: no global figure state shared between
the server's threads, and nothing to close by hand (Gradio's Plot encodes them as PNG with the Agg canvas).
Texts from students (questions) go into Dataframe cells, which show text, never HTML; the summary line is
Markdown, so the one text in it that is not ours (the course id) is escaped.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from tutor.dashboard import OUTCOME_COLUMNS, Dashboard
from webapp.render import safe_markdown

# One colour per outcome, the same in both figures and the summary's order.
COLORS = {"answered": "#2f855a", "faq": "#2b6cb0", "quoted": "#d69e2e", "refused": "#c53030", "error": "#718096",
          "rated_down": "#805ad5"}
LABELS = {"answered": "answered", "faq": "FAQ", "quoted": "quoted", "refused": "refused", "error": "error",
          "rated_down": "👎"}
TOPIC_HEADERS = ["questions", "examples", "documents cited", "refused", "👎"]
DOCUMENT_HEADERS = ["document", "title", "chunks", "added"]
GAP_HEADERS = ["question", "why", "times asked", "last asked", "FAQ question", "cosine"]
WHY = {"refused": "refused", "error": "error", "rated_down": "👎"}


def summary(dash: Dashboard) -> str:
    """One Markdown paragraph: the course, the period, the number of questions and each outcome's share."""
    total = dash.totals
    head = f"**{safe_markdown(dash.course)}**, {dash.first_day} to {dash.last_day}: **{total.questions}** questions"
    if not total.questions:
        return head + ". Nothing was asked in this period."
    shares = ", ".join(f"{LABELS[name]} {share:.0%}" for name, share in dash.shares.items())
    grouped = f" Topics group the latest {dash.grouped} questions." if dash.grouped < total.questions else ""
    return (f"{head} ({shares}). {len(dash.never_cited)} of {len(dash.documents)} documents never cited; "
            f"{len(dash.closed_gaps)} unanswered questions now answered by the FAQ.{grouped}")


def _days(dash: Dashboard) -> list[date]:
    return [date.fromisoformat(r.day) for r in dash.per_day]


def _date_axis(ax) -> None:
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def per_day_figure(dash: Dashboard) -> Figure:
    """Questions per day (a line), with those rated down (a second line)."""
    fig = Figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    days = _days(dash)
    ax.plot(days, [r.questions for r in dash.per_day], marker="o", markersize=3, color=COLORS["faq"], label="questions")
    ax.plot(days, [r.rated_down for r in dash.per_day], marker="o", markersize=3, color=COLORS["rated_down"],
            label="rated down")
    ax.set_title("Questions per day (UTC)", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    _date_axis(ax)
    return fig


def outcome_figure(dash: Dashboard) -> Figure:
    """Each day's questions split by outcome, as shares of that day (stacked bars; a day without questions
    stays empty), so a day the tutor refused more stands out whatever the day's traffic."""
    fig = Figure(figsize=(6.4, 3.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    days = _days(dash)
    bottom = [0.0] * len(days)
    for name in OUTCOME_COLUMNS:
        share = [getattr(r, name) / r.questions * 100 if r.questions else 0.0 for r in dash.per_day]
        ax.bar(days, share, bottom=bottom, width=0.8, color=COLORS[name], label=LABELS[name])
        bottom = [b + s for b, s in zip(bottom, share)]
    ax.set_title("Outcomes per day (% of the day's questions)", fontsize=10)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, ncols=len(OUTCOME_COLUMNS), loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False)
    _date_axis(ax)
    return fig


def topics_table(dash: Dashboard) -> list[list]:
    """The most asked topics: size, example questions (one a line), the documents cited with their counts."""
    return [[t.size, "\n".join(t.examples), "\n".join(f"{name} ({n})" for name, n in t.documents) or "(none)",
             t.refused, t.rated_down] for t in dash.topics]


def never_cited_table(dash: Dashboard) -> list[list]:
    return [[d.name, d.title, d.chunks, d.added_at[:10]] for d in dash.never_cited]


def gaps_table(dash: Dashboard) -> list[list]:
    return [[g.question, WHY.get(g.why, g.why), g.times, g.last_asked[:16].replace("T", " "), g.faq_question,
             f"{g.cosine:.2f}"] for g in dash.closed_gaps]


def outputs(dash: Dashboard, files: list[Path]) -> tuple:
    """What the Dashboard tab's components show, in their order: summary, the two figures, the three tables and
    the CSV files to download."""
    return (summary(dash), per_day_figure(dash), outcome_figure(dash), topics_table(dash), never_cited_table(dash),
            gaps_table(dash), [str(f) for f in files])
