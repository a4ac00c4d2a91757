"""The generator families, one module each; ``tutor/runtime/backends.py`` registers them by name.

    base.py          the ``Generator`` protocol every backend meets, ``GenerationStats``, and the
                     ``FairQueue`` / ``QueueWait`` pair that lets one local model serve many chats in turn
    llamacpp.py      ``LlamaCppGenerator``: a GGUF in this process with llama-cpp-python (the CPU default)
    transformers.py  ``LocalGenerator``: a transformers model in this process, with CPU speed-ups
                     (``optimize`` auto / bf16 / int8 / int4)
    remote.py        ``RemoteGenerator``: an OpenAI-compatible chat-completions server over SSE

Nothing here reads ``EngineConfig``: the generators take plain arguments, and the factories in
``tutor/runtime/backends.py`` turn the engine's settings into them. Importing this package loads no model library;
each generator imports its own (llama_cpp, torch, httpx) when it is created or streams.
"""
