"""The model runtime: what turns chat messages into text, apart from what the tutor does with it.

- ``models``: the presets (bundled GGUFs, their chat templates), loading an HF model or path with transformers.
- ``backends``: the registry that picks and builds a generator (llama.cpp, transformers, a remote server).
- ``generators``: the backends themselves, one protocol (``generators.base.Generator``: messages in, text
  deltas out), and the fair queue that makes waiting visible.
- ``lora_gguf``: a peft adapter exported as a llama.cpp LoRA GGUF; ``int4``: 4-bit weights for the torch path.

- ``machine``: one timed prompt at first start, to say whether this CPU answers in time with the model.

The answering pipeline (``tutor.engine``) only calls ``backends.create_generator`` and ``Generator.stream``.
"""
