"""Click options shared by every ``tutor`` subcommand, so each is spelled and documented once."""

from __future__ import annotations

import click

from basics.config import DEFAULT_COURSE

data_dir_option = click.option(
    "--data-dir",
    envvar="TUTOR_DATA_DIR",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the database, indexes, adapters and model cache live [env TUTOR_DATA_DIR; default: per-user data dir].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
course_option = click.option("--course", default=DEFAULT_COURSE, show_default=True, help="Course (collection) name.")
embedder_option = click.option(
    "--embedder",
    envvar="TUTOR_EMBEDDER",
    default=None,
    help="Embedder for retrieval: embeddinggemma-300m (default, multilingual), all-MiniLM-L6-v2 (English, "
         "faster) or a sentence-transformers path [env TUTOR_EMBEDDER]. A course is searched only with the "
         "embedder that indexed it (`tutor kb reindex` re-embeds it).",
)
