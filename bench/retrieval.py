"""Retrieval quality of the knowledge base: recall@1, recall@5 and MRR for dense, BM25 and hybrid search.

Each paragraph of a SQuAD-format file is one document; each answerable question is a query whose gold
document is its paragraph. Datasets: squad-v2-dev (English) and xquad-dev en / zh (the same questions in
two languages), read from ``../shared/data`` relative to the repository root; ``xquad-dev.zh->en`` asks
the Chinese questions of the English paragraphs (a Chinese student in an English course), ``en->zh`` the
reverse.

    python bench/retrieval.py                                  # every dataset, the default embedder
    python bench/retrieval.py --embedder all-MiniLM-L6-v2 --max-queries 300
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from basics.hardware import PRECISIONS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
_SQUAD, _XEN, _XZH = (DATA / "squad-v2-dev" / "squad-v2-dev.json", DATA / "xquad-dev" / "xquad-dev.en.json",
                      DATA / "xquad-dev" / "xquad-dev.zh.json")
DATASETS = {  # name: (file of the paragraphs, file of the questions); XQuAD's files are parallel
    "squad-v2-dev": (_SQUAD, _SQUAD),
    "xquad-dev.en": (_XEN, _XEN),
    "xquad-dev.zh": (_XZH, _XZH),
    "xquad-dev.zh->en": (_XEN, _XZH),
    "xquad-dev.en->zh": (_XZH, _XEN),
}
MODES = ("dense", "lexical", "hybrid")


def squad_corpus(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(documents [(name, text)], queries [(question, gold document name)]) from a SQuAD JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    docs, queries = [], []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            name = f"{a:03d}-{p:03d}.txt"
            docs.append((name, para["context"]))
            for qa in para["qas"]:
                if not qa.get("is_impossible"):
                    queries.append((qa["question"], name))
    return docs, queries


def evaluate(kb, course: str, queries: list[tuple[str, str]], k: int = 5) -> dict[str, dict[str, float]]:
    """recall@1, recall@5, MRR@k (document level) per mode. (Latency: see bench/ingest_search.py; here the
    query-embedding cache is warm after the first mode.)"""
    out = {}
    for mode in MODES:
        r1 = r5 = rr = 0.0
        t0 = time.perf_counter()
        for question, gold in queries:
            docs = []
            for h in kb.search(question, course, k=k * 3, mode=mode):  # several chunks may share a document
                if h.document not in docs:
                    docs.append(h.document)
            docs = docs[:k]
            if gold in docs:
                rank = docs.index(gold) + 1
                r1 += rank == 1
                r5 += 1
                rr += 1 / rank
        n = len(queries)
        out[mode] = {"recall@1": r1 / n, "recall@5": r5 / n, "mrr": rr / n,
                     "ms_per_query": 1000 * (time.perf_counter() - t0) / n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", default=None, help="registered embedder or path (default: the default embedder)")
    ap.add_argument("--cjk-dense-weight", type=float, default=None, help="KBConfig.cjk_dense_weight (None: per embedder)")
    ap.add_argument("--lexical-weight", type=float, default=1.0, help="KBConfig.lexical_weight")
    ap.add_argument("--query-precision", default="auto", choices=PRECISIONS,
                     help="Embedder.query_precision: how questions are embedded (documents: fp32)")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--max-queries", type=int, default=0, help="evaluate only the first N queries (0 = all)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from knowledge_base import KBConfig, KnowledgeBase
    from knowledge_base.embedder import Embedder
    from basics.config import Paths

    cache = Path(os.environ.get("TUTOR_CACHE_DIR", ROOT / ".cache" / "test-models"))
    embedder = Embedder(args.embedder, query_precision=args.query_precision, cache_dir=cache)
    print(f"embedder: {embedder.name}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Paths(Path(tmp), cache), KBConfig(embedder=embedder.name, cjk_dense_weight=args.cjk_dense_weight,
                                                            lexical_weight=args.lexical_weight), embedder=embedder)
        built: dict[Path, str] = {}  # a paragraph file is embedded once, whichever questions are asked of it
        for name in args.datasets:
            doc_file, query_file = DATASETS[name]
            docs, queries = squad_corpus(doc_file)
            if query_file != doc_file:
                queries = [(q, gold) for (q, _), (_, gold) in zip(squad_corpus(query_file)[1], queries)]
            if args.max_queries:
                queries = queries[: args.max_queries]
            course = built.get(doc_file) or name.replace(".", "-").replace(">", "")
            t0 = time.perf_counter()
            if doc_file not in built:
                kb.add_texts(course, docs, progress=True)
                built[doc_file] = course
            ingest_s = time.perf_counter() - t0
            chunks = kb.stats(course)["courses"][course]["chunks"]
            res = evaluate(kb, course, queries)
            rows.append((name, len(docs), chunks, len(queries), ingest_s, res))
        kb.close()

    print(f"\n{'dataset':17} {'docs':>5} {'chunks':>6} {'queries':>7}  {'mode':8} {'R@1':>6} {'R@5':>6} {'MRR':>6}")
    for name, ndocs, nchunks, nq, _, res in rows:
        for mode in MODES:
            r = res[mode]
            print(f"{name:17} {ndocs:5d} {nchunks:6d} {nq:7d}  {mode:8} {r['recall@1']:6.3f} {r['recall@5']:6.3f} "
                  f"{r['mrr']:6.3f}")
    print("\ncommand: python bench/retrieval.py" + "".join(f" {a}" for a in sys.argv[1:]))


if __name__ == "__main__":
    main()
