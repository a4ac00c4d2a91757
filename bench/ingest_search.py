"""Ingest throughput and search latency of the knowledge base.

1. Ingest: the squad-v2-dev paragraphs written as .txt files, added with ``KnowledgeBase.add`` (load, chunk,
   embed, SQLite, FAISS, index write), in chunks/s, as a ratio to raw ``SentenceTransformer.encode`` of the
   very same chunk texts in the same run (target >= 0.85). Each is run twice, alternating; best of two.
2. Search latency, p50/p95 over real SQuAD questions, query embedding included, at 10k and 100k chunks.
   Those corpora are synthetic: each document mixes sentences from real paragraphs, and its chunk vectors
   are *not* computed by the model (that would take an hour of 2-core CPU) but made from the real embeddings
   of the source paragraphs plus noise, inserted through the normal ``add_texts`` path (``embed=``).

    python bench/ingest_search.py
    python bench/ingest_search.py --sizes 10000 --queries 100
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from retrieval import DATASETS, squad_corpus  # noqa: E402

from basics.hardware import PRECISIONS  # noqa: E402

_SENT = re.compile(r"(?<=[.!?])\s+")


def ingest_ratio(kb_factory, embedder, docs, reps: int = 3) -> dict:
    """Alternating pairs (ingest, raw encode of the same chunks); the ratio is taken per pair, so a change
    in machine load between pairs (other jobs share the 2 cores) does not bias it; median over pairs."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for name, text in docs:
            (folder / name).write_text(text, encoding="utf-8")
        ingest_s, raw_s, texts = [], [], None
        for rep in range(reps):
            kb = kb_factory(Path(tmp) / f"data{rep}")
            t0 = time.perf_counter()
            results = kb.add([folder], "squad")
            ingest_s.append(time.perf_counter() - t0)
            assert all(r.status == "added" for r in results)
            if texts is None:
                texts = [r["text"] for r in kb.db.query("SELECT text FROM chunks ORDER BY id")]
            kb.close()
            t0 = time.perf_counter()
            embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True,
                                  prompt=embedder.spec.document_prompt or None)  # what ingest itself asks for
            raw_s.append(time.perf_counter() - t0)
    n = len(texts)
    ratios = sorted(r / i for r, i in zip(raw_s, ingest_s))
    return {"docs": len(docs), "chunks": n, "ingest_cps": n / float(np.median(ingest_s)),
            "raw_cps": n / float(np.median(raw_s)), "ratio": ratios[len(ratios) // 2], "ratios": ratios,
            "ingest_s": ingest_s, "raw_s": raw_s}


def synthetic_corpus(docs, para_vecs: np.ndarray, n_chunks: int, seed: int = 0):
    """Documents of 6 paragraphs, each paragraph 3 real sentences drawn from 2 real paragraphs, and an
    ``embed`` function giving each chunk the noisy mean of its source paragraphs' real embeddings."""
    rng = np.random.default_rng(seed)
    sents = [_SENT.split(text) for _, text in docs]
    owner: dict[str, int] = {}
    for i, ss in enumerate(sents):
        for s in ss:
            owner.setdefault(s, i)
    out = []
    n_docs = int(n_chunks / 4.3) + 1  # ~4.3 chunks per such document (measured); topped up by the caller
    for d in range(n_docs):
        paras = []
        for _ in range(6):
            a, b = rng.integers(len(docs), size=2)
            picks = [sents[a][rng.integers(len(sents[a]))], sents[b][rng.integers(len(sents[b]))],
                     sents[a][rng.integers(len(sents[a]))]]
            paras.append(" ".join(picks))
        out.append((f"synthetic-{d:06d}.md", "\n\n".join(paras)))
    dim = para_vecs.shape[1]

    def embed(texts: list[str]) -> np.ndarray:
        vecs = np.zeros((len(texts), dim), dtype=np.float32)
        for i, text in enumerate(texts):
            src = {owner[s] for s in _SENT.split(text.replace("\n\n", " ")) if s in owner} or {0}
            v = para_vecs[list(src)].mean(0) + rng.normal(0, 0.02, dim)
            vecs[i] = v / np.linalg.norm(v)
        return vecs

    return out, embed


def latency(kb, course: str, questions: list[str], mode: str) -> tuple[float, float]:
    kb.search(questions[0], course, mode=mode)  # warm: builds the BM25 index, loads jieba/FAISS
    times = []
    for q in questions:
        t0 = time.perf_counter()
        kb.search(q, course, k=5, mode=mode)
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", default=None, help="registered embedder or path (default: the default embedder)")
    ap.add_argument("--source-paragraphs", type=int, default=0,
                    help="real squad paragraphs whose embeddings seed the synthetic corpora (0 = all 581)")
    ap.add_argument("--reps", type=int, default=3, help="ingest / raw-encode pairs for the ingest ratio")
    ap.add_argument("--query-precision", default="auto", choices=PRECISIONS,
                     help="Embedder.query_precision: how questions are embedded (documents: fp32)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0 = torch default). On a CPU shared with other jobs, 1 avoids "
                         "OpenMP threads waiting on each other for a 15-token query")
    ap.add_argument("--ingest-docs", type=int, default=300, help="squad paragraphs used for the ingest ratio")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from knowledge_base import KBConfig, KnowledgeBase
    from knowledge_base.embedder import Embedder
    from basics.config import Paths

    if args.threads:
        torch.set_num_threads(args.threads)
    cache = Path(os.environ.get("TUTOR_CACHE_DIR", ROOT / ".cache" / "test-models"))
    # query_cache=0: every timed search embeds its query
    embedder = Embedder(args.embedder, query_cache=0, query_precision=args.query_precision, cache_dir=cache)
    embedder.encode(["warm up"])
    kb_config = {"embedder": embedder.name}
    print(f"embedder: {embedder.name}")
    docs, queries = squad_corpus(DATASETS["squad-v2-dev"][0])
    questions = [q for q, _ in queries][: args.queries]
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, load average {os.getloadavg()}")

    if not args.skip_ingest:
        ing = ingest_ratio(lambda d: KnowledgeBase(Paths(d, cache), KBConfig(**kb_config), embedder=embedder), embedder,
                           docs[: args.ingest_docs], args.reps)
        print(f"\ningest: {ing['docs']} files, {ing['chunks']} chunks: {ing['ingest_cps']:.1f} chunks/s end to end "
              f"vs {ing['raw_cps']:.1f} chunks/s raw SentenceTransformer.encode -> ratio {ing['ratio']:.3f} "
              f"(pair ratios {['%.3f' % r for r in ing['ratios']]}; ingest {['%.1f' % s for s in ing['ingest_s']]} s, "
              f"raw {['%.1f' % s for s in ing['raw_s']]} s)")

    if args.source_paragraphs:
        docs = docs[: args.source_paragraphs]
    para_vecs = embedder.encode([text for _, text in docs])
    print(f"\n{'chunks':>7} {'index':6} {'build s':>7}  {'mode':8} {'p50 ms':>7} {'p95 ms':>7}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            kb = KnowledgeBase(Paths(Path(tmp), cache), KBConfig(batch_chunks=4096, **kb_config), embedder=embedder)
            corpus, embed = synthetic_corpus(docs, para_vecs, size)
            t0 = time.perf_counter()
            kb.add_texts("big", corpus, embed=embed)
            short = size - kb.stats("big")["courses"]["big"]["chunks"]
            if short > 0:  # top up with more documents of the same kind (different seed)
                more, embed2 = synthetic_corpus(docs, para_vecs, short, seed=1)
                kb.add_texts("big", [("more-" + n, t) for n, t in more], embed=embed2)
            build_s = time.perf_counter() - t0
            st = kb.stats("big")["courses"]["big"]
            t0 = time.perf_counter()
            kb.close()
            kb = KnowledgeBase(Paths(Path(tmp), cache), KBConfig(**kb_config), embedder=embedder)  # reopen: verify + load
            reopen_s = time.perf_counter() - t0
            for mode in ("hybrid", "dense", "lexical"):
                p50, p95 = latency(kb, "big", questions, mode)
                print(f"{st['chunks']:7d} {st['index']:6} {build_s:7.1f}  {mode:8} {p50:7.2f} {p95:7.2f}")
            enc = []
            for q in questions:
                t0 = time.perf_counter()
                embedder.encode([q], model=embedder.query_model, kind="query")
                enc.append(1000 * (time.perf_counter() - t0))
            print(f"{'':7} {'':6} {'':7}  {'(encode)':8} {np.percentile(enc, 50):7.2f} {np.percentile(enc, 95):7.2f}"
                  f"   reopen+verify {reopen_s:.1f} s")
            kb.close()
    print("\nchunk vectors of the 10k/100k corpora are synthetic (noisy means of real paragraph embeddings), "
          "inserted through KnowledgeBase.add_texts(embed=...); query embeddings are real and timed.")
    print("command: python bench/ingest_search.py" + "".join(f" {a}" for a in sys.argv[1:]))


if __name__ == "__main__":
    main()
