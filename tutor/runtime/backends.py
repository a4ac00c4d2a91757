"""Generator backends registered by name, and the rule that picks one from the engine's settings.

This is the one file where a backend is added: write its generator (``tutor/runtime/generators/``), a factory
that turns an ``EngineConfig`` into it, and one ``register_backend`` line at the bottom. The factories
live here rather than next to the generators so that the generators take plain arguments and know
nothing about ``EngineConfig``, and so that the list of backends reads in one place.

    remote_url set                 -> "remote": RemoteGenerator (vLLM, TGI, llama.cpp server, Ollama)
    backend "llamacpp", or "auto"
      with a GGUF (a preset or a .gguf file) on a CPU
                                   -> "llamacpp": LlamaCppGenerator (the adapter applied from its GGUF export)
    backend "auto" otherwise       -> "transformers": LocalGenerator (HF directories and ids, CUDA, training)
    any other registered name      -> that backend

llama.cpp is the default for GGUF models on a CPU because that is what users run locally and its
quantized kernels decode several times faster than torch here (docs/benchmarks.md). A LoRA adapter
trained with peft is exported once to llama.cpp's LoRA GGUF (``tutor.runtime.lora_gguf``) next to the adapter,
so an adapted model answers at the same speed; if that export fails under ``auto``, transformers answers.

Factories import their generator module when called, so importing this module (the CLI does, for the
``--backend`` choices) loads no model library.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from basics.errors import ConfigError, ModelError
from tutor.runtime.generators.llamacpp import LlamaCppConfig, LlamaCppGenerator, adapter_gguf
from tutor.runtime.generators.remote import RemoteConfig, RemoteGenerator
from tutor.runtime.models import PRESETS, load_model, pick_device

if TYPE_CHECKING:
    from tutor.engine import EngineConfig
    from tutor.runtime.generators.base import Generator

log = logging.getLogger(__name__)

AUTO = "auto"
REMOTE = "remote"

# factory(cfg, cache_dir, adapter_dir) -> the generator; adapter_dir is the resolved adapter directory, or None
Factory = Callable[["EngineConfig", Path, "Path | None"], "Generator"]


@dataclass(frozen=True)
class Backend:
    """One registry entry: a name, the factory that builds its generator, and whether ``--backend`` offers it."""

    name: str
    factory: Factory
    help: str = ""
    choosable: bool = True  # False: chosen by another setting, not by --backend (remote: by remote_url)


_REGISTRY: dict[str, Backend] = {}


def register_backend(name: str, factory: Factory, help: str = "", choosable: bool = True) -> Backend:
    """Add a backend under ``name``; ``create_generator`` builds it when ``EngineConfig.backend == name``.

    A name is registered once (``unregister_backend`` first to replace one); ``auto`` is the choice rule,
    not a backend.
    """
    if not name or name == AUTO:
        raise ValueError(f"{name!r} cannot name a backend: {AUTO!r} is the rule that picks one.")
    if name in _REGISTRY:
        raise ValueError(f"A backend named {name!r} is already registered; unregister_backend({name!r}) first.")
    entry = Backend(name, factory, help, choosable)
    _REGISTRY[name] = entry
    return entry


def unregister_backend(name: str) -> None:
    """Remove a registered backend (tests, plugins that replace one); an unknown name is left alone."""
    _REGISTRY.pop(name, None)


def backend_names() -> tuple[str, ...]:
    """What ``EngineConfig.backend`` accepts now: ``auto`` and every choosable registered backend."""
    return (AUTO, *(b.name for b in _REGISTRY.values() if b.choosable))


def pick_backend(backend: str, model: str, device: str) -> str:
    """``auto`` -> ``llamacpp`` for a GGUF (preset or file) on the CPU, else ``transformers``; a name -> itself."""
    names = backend_names()
    if backend not in names:
        raise ConfigError(f"Unknown backend {backend!r}: use one of {', '.join(names)}.")
    if backend != AUTO:
        return backend
    is_gguf = model in PRESETS or str(model).endswith(".gguf")
    return "llamacpp" if is_gguf and pick_device(device) == "cpu" else "transformers"


def create_generator(cfg: EngineConfig, cache_dir: Path, adapter_dir: Path | None = None) -> Generator:
    """The backend for an ``EngineConfig``; ``adapter_dir`` is the resolved adapter directory, if any."""
    name = REMOTE if cfg.remote_url else pick_backend(cfg.backend, cfg.model, cfg.device)
    entry = _REGISTRY.get(name)
    if entry is None:  # a built-in that the auto rule or remote_url picks was unregistered
        raise ConfigError(f"No backend {name!r} is registered (registered: {', '.join(_REGISTRY) or 'none'}).")
    return entry.factory(cfg, cache_dir, adapter_dir)


# ------------------------------------------------------------------------------------------ the factories


def _repetition_penalty(cfg: EngineConfig) -> float:
    """The configured penalty, else the preset's, else none (1.0)."""
    preset = PRESETS.get(cfg.model)
    return cfg.repetition_penalty if cfg.repetition_penalty is not None else (preset.repetition_penalty if preset else 1.0)


def remote_generator(cfg: EngineConfig, cache_dir: Path, adapter_dir: Path | None = None) -> Generator:
    """``cfg.remote_url``'s server; no local model, so ``cache_dir`` and ``adapter_dir`` are unused."""
    # vLLM serves LoRA adapters by name (--lora-modules NAME=PATH): the adapter name is the model to ask for.
    return RemoteGenerator(RemoteConfig(cfg.remote_url, cfg.remote_model or cfg.adapter or "", cfg.remote_api_key))


def transformers_generator(cfg: EngineConfig, cache_dir: Path, adapter_dir: Path | None = None) -> Generator:
    """``cfg.model`` loaded with transformers (the adapter applied with peft), decoded in this process."""
    from tutor.runtime.generators.transformers import LocalGenerator  # deferred: it imports torch (seconds), which
    # the llama.cpp and remote backends never need

    loaded = load_model(cfg.model, cache_dir=cache_dir, device=cfg.device, adapter_dir=adapter_dir)
    return LocalGenerator(loaded, optimize=cfg.optimize, repetition_penalty=_repetition_penalty(cfg))


def llamacpp_generator(cfg: EngineConfig, cache_dir: Path, adapter_dir: Path | None = None) -> Generator:
    """``cfg.model``'s GGUF in llama.cpp, the adapter applied from its GGUF export.

    If the export fails and the backend was chosen by ``auto``, transformers answers instead (with a
    warning); asked for by name, the failure is raised.
    """
    preset = PRESETS.get(cfg.model)
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
            return transformers_generator(cfg, cache_dir, adapter_dir)
    return LlamaCppGenerator(
        str(gguf), cfg.model, chat_template=preset.chat_template if preset else None,
        stops=preset.stop if preset else (), lora_path=str(lora) if lora else None,
        adapter=Path(adapter_dir).name if adapter_dir else None, repetition_penalty=_repetition_penalty(cfg),
        config=LlamaCppConfig(n_ctx=cfg.n_ctx, seed=cfg.seed),
    )


# ------------------------------------------------------------------------------------------ the registry
# Adding a backend is adding a line here (or calling register_backend from your own module).

register_backend("llamacpp", llamacpp_generator, "llama.cpp on a GGUF in this process (the CPU default for GGUF models)")
register_backend("transformers", transformers_generator, "transformers in this process (HF models, CUDA, --optimize)")
register_backend(REMOTE, remote_generator, "an OpenAI-compatible server, chosen by --remote-url", choosable=False)

BACKENDS = backend_names()  # the --backend choices: auto | llamacpp | transformers (built-ins, fixed at import)
