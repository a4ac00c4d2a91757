"""Which generator backend answers, chosen once from the engine's settings.

    remote_url set                 -> RemoteGenerator (vLLM, TGI, llama.cpp server, Ollama)
    backend "llamacpp", or "auto"
      with a GGUF (a preset or a .gguf file) on a CPU
                                   -> LlamaCppGenerator (the adapter applied from its GGUF export)
    otherwise                      -> LocalGenerator (transformers: HF directories and ids, CUDA, training)

llama.cpp is the default for GGUF models on a CPU because that is what users run locally and its
quantized kernels decode several times faster than torch here (docs/benchmarks.md). A LoRA adapter
trained with peft is exported once to llama.cpp's LoRA GGUF (``finetune.gguf_export``) next to the adapter,
so an adapted model answers at the same speed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tutor.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "llamacpp", "transformers")
ADAPTER_GGUF = "adapter.gguf"


def adapter_gguf(adapter_dir: Path, base_gguf: Path) -> Path:
    """The adapter's llama.cpp export, written next to it on first use (atomic; seconds)."""
    target = Path(adapter_dir) / ADAPTER_GGUF
    weights = Path(adapter_dir) / "adapter_model.safetensors"
    if target.is_file() and (not weights.is_file() or target.stat().st_mtime >= weights.stat().st_mtime):
        return target
    from finetune.gguf_export import export_lora_gguf

    return export_lora_gguf(Path(adapter_dir), target, base_gguf=Path(base_gguf))


def pick_backend(backend: str, model: str, device: str) -> str:
    """``auto`` -> ``llamacpp`` for a GGUF (preset or file) on the CPU, else ``transformers``."""
    from tutor.models import PRESETS, pick_device

    if backend not in BACKENDS:
        raise ConfigError(f"Unknown backend {backend!r}: use one of {', '.join(BACKENDS)}.")
    if backend != "auto":
        return backend
    is_gguf = model in PRESETS or str(model).endswith(".gguf")
    return "llamacpp" if is_gguf and pick_device(device) == "cpu" else "transformers"


def create_generator(cfg, cache_dir: Path, adapter_dir: Path | None = None):
    """The backend for an ``EngineConfig``; ``adapter_dir`` is the resolved adapter directory, if any."""
    from tutor.generators.llamacpp import LlamaCppConfig, LlamaCppGenerator
    from tutor.generators.remote import RemoteConfig, RemoteGenerator
    from tutor.generators.transformers import LocalGenerator
    from tutor.models import PRESETS, load_model

    if cfg.remote_url:
        # vLLM serves LoRA adapters by name (--lora-modules NAME=PATH): the adapter name is the model to ask for.
        return RemoteGenerator(RemoteConfig(cfg.remote_url, cfg.remote_model or cfg.adapter or "", cfg.remote_api_key))
    preset = PRESETS.get(cfg.model)
    penalty = cfg.repetition_penalty if cfg.repetition_penalty is not None else (preset.repetition_penalty if preset else 1.0)
    backend = pick_backend(cfg.backend, cfg.model, cfg.device)
    if backend == "llamacpp":
        if preset is not None:
            gguf = preset.gguf_path(cache_dir)
        elif str(cfg.model).endswith(".gguf") and Path(cfg.model).expanduser().is_file():
            gguf = Path(cfg.model).expanduser()
        else:
            raise ModelError(f"--backend llamacpp needs a GGUF: {cfg.model!r} is neither a preset nor a .gguf file.")
        lora = None
        if adapter_dir is not None:
            try:
                lora = adapter_gguf(adapter_dir, gguf)
            except ModelError as exc:
                if cfg.backend == "llamacpp":
                    raise
                log.warning("%s; answering with transformers instead", exc)
                backend = "transformers"
        if backend == "llamacpp":
            return LlamaCppGenerator(
                str(gguf), cfg.model, chat_template=preset.chat_template if preset else None,
                stops=preset.stop if preset else (), lora_path=str(lora) if lora else None,
                adapter=Path(adapter_dir).name if adapter_dir else None, repetition_penalty=penalty,
                config=LlamaCppConfig(n_ctx=cfg.n_ctx, seed=cfg.seed),
            )
    loaded = load_model(cfg.model, cache_dir=cache_dir, device=cfg.device, adapter_dir=adapter_dir)
    return LocalGenerator(loaded, optimize=cfg.optimize, repetition_penalty=penalty)
