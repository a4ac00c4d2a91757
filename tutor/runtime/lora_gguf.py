"""Export a peft LoRA adapter to llama.cpp's LoRA GGUF, so an adapted model answers at llama.cpp speed.

This is how the llama.cpp backend applies an adapter (``tutor.runtime.backends`` exports it once, next to the
adapter, on first use), so it lives with the serving code; ``finetune`` trains adapters but is not
needed to serve them.

The project trains LoRA with transformers + peft on the dequantized weights of a GGUF preset
(``tutor.runtime.models.load_model``), but on a CPU the quantized GGUF under llama.cpp decodes several times
faster than the same model in torch. llama.cpp applies a LoRA at load time from its own adapter format
(``Llama(model_path=BASE_GGUF, lora_path=ADAPTER_GGUF)``), so exporting the adapter keeps the fast
backend for fine-tuned models without merging the update into (and re-quantizing) the base.

The file follows llama.cpp's own converter (``convert_lora_to_gguf.py``) exactly:

- metadata: ``general.architecture`` = the base's arch, ``general.type`` = ``adapter``,
  ``adapter.type`` = ``lora``, ``adapter.lora.alpha`` = ``lora_alpha`` (float32; llama.cpp scales the
  update by alpha / rank, rank read from each tensor);
- tensors: ``<base tensor>.lora_a`` and ``.lora_b`` (e.g. ``blk.0.attn_q.weight.lora_a``), float32,
  written in peft's own layout: lora_A as (r, in) and lora_B as (out, r), which gguf's writer stores as
  ggml ``ne = [in, r]`` and ``[r, out]``, the shapes llama.cpp checks against the base tensor
  ``ne = [in, out]``. No transpose;
- for the ``llama`` architecture the converter permutes the rows of the base ``q_proj``/``k_proj``
  weights (HF's rotate-half RoPE layout to llama.cpp's interleaved one), and the same permutation of
  the output rows is applied to lora_B of those projections, or the update would land on the wrong
  rows. Qwen2/Qwen3 and Gemma 3 have no such permutation.

The whole file is computed before anything is written, then written to a temporary sibling and renamed:
an error (``basics.errors.ModelError``, naming the file at fault) never leaves a partial output.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from basics.config import Paths
from basics.errors import ModelError
from tutor.adapters import CARD_FILE, PEFT_CONFIG, AdapterCard
from tutor.runtime.models import PRESETS

log = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"

# GGUF architectures we can export for -> whether llama.cpp's converter permutes q/k rows for RoPE.
SUPPORTED_ARCHS: dict[str, bool] = {"llama": True, "qwen2": False, "qwen3": False, "gemma3": False}
# transformers ``model_type`` -> GGUF architecture, for a base known only by its config.json.
HF_MODEL_TYPES: dict[str, str] = {
    "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma3": "gemma3", "gemma3_text": "gemma3",
}
# Prefixes of multimodal wrappers, rewritten as the converter does before mapping names.
_LM_PREFIXES = (("model.language_model.", "model."), ("language_model.", ""))
_LORA_KEY = re.compile(r"^(?P<base>.+)\.lora_(?P<half>[AB])\.weight$")


@dataclass(frozen=True)
class BaseInfo:
    """What the export needs to know about the base model."""

    arch: str
    source: str  # where it came from, for messages
    n_head: int | None = None
    n_head_kv: int | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # GGUF tensor name -> ggml ne


def export_lora_gguf(
    adapter_dir: str | Path,
    out_path: str | Path,
    base_arch: str | None = None,
    *,
    base_gguf: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Write the peft adapter in ``adapter_dir`` as a llama.cpp LoRA GGUF at ``out_path``; return it.

    The base model is read from ``base_gguf`` when given, else from the preset named in the adapter's
    ``card.json`` (its GGUF located under ``cache_dir``, default ``Paths.from_env().cache_dir``), else
    from the ``config.json`` of ``base_model_name_or_path``. ``base_arch`` ("llama", "qwen2", "gemma3")
    names the architecture when the base cannot be found; it must agree with the base when it can.
    """
    adapter_dir, out_path = Path(adapter_dir), Path(out_path)
    config = _read_adapter_config(adapter_dir)
    pairs = _pair_tensors(_read_adapter_tensors(adapter_dir), adapter_dir)
    base = _resolve_base(adapter_dir, config, base_arch, base_gguf, cache_dir)
    tensors = _gguf_tensors(pairs, base, adapter_dir)
    alpha = _file_alpha(config, adapter_dir)
    _write_atomically(out_path, base.arch, alpha, tensors, name=adapter_dir.name)
    log.info("exported %d LoRA tensor pairs of %s (%s) to %s", len(pairs), adapter_dir, base.arch, out_path)
    _record_on_card(adapter_dir, out_path)
    return out_path


def _record_on_card(adapter_dir: Path, out_path: Path) -> None:
    """Note an export written inside the adapter directory on its card (``AdapterCard.gguf``, relative, so
    the directory stays movable): listings then show which adapters llama.cpp can apply as they are."""
    try:
        relative = out_path.resolve().relative_to(adapter_dir.resolve())
    except ValueError:
        return  # an export elsewhere is the user's file, not part of the adapter
    if not (adapter_dir / CARD_FILE).is_file():
        return
    try:
        card = AdapterCard.load(adapter_dir)
        if card.gguf != str(relative):
            card.gguf = str(relative)
            card.save(adapter_dir)
    except (ModelError, OSError) as exc:  # the export itself is good: a card we cannot update must not undo it
        log.warning("%s: exported, but not recorded on the adapter card (%s)", out_path, exc)


# --- reading the adapter ----------------------------------------------------------------------


def _read_adapter_config(adapter_dir: Path) -> dict:
    path = adapter_dir / PEFT_CONFIG
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the peft adapter config ({exc}).") from exc
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise ModelError(f"{path}: peft_type is {config.get('peft_type')!r}; only LoRA adapters can be exported.")
    if config.get("use_dora"):
        raise ModelError(f"{path}: a DoRA adapter cannot be exported, llama.cpp applies plain LoRA only.")
    if "lora_alpha" not in config:
        raise ModelError(f"{path}: no lora_alpha in the adapter config.")
    return config


def _read_adapter_tensors(adapter_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    path = adapter_dir / ADAPTER_WEIGHTS
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # OSError, or safetensors' own SafetensorError on a damaged file
        raise ModelError(f"{path}: cannot read the adapter weights ({exc}).") from exc
    return {name: t.float().numpy() for name, t in tensors.items()}


def _hf_base_name(key: str) -> str:
    """``base_model.model.model.language_model.layers.0...`` -> ``model.layers.0...`` (no lora suffix)."""
    name = key.removeprefix("base_model.model.")
    for prefix, replacement in _LM_PREFIXES:
        if name.startswith(prefix):
            return replacement + name[len(prefix):]
    return name


def _pair_tensors(tensors: dict[str, np.ndarray], adapter_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Group lora_A/lora_B by base module: ``{"model.layers.0.self_attn.q_proj.weight": (A, B)}``."""
    path = adapter_dir / ADAPTER_WEIGHTS
    halves: dict[str, dict[str, np.ndarray]] = {}
    unknown = []
    for key, value in tensors.items():
        match = _LORA_KEY.match(key)
        if match is None or value.ndim != 2:
            unknown.append(key)
            continue
        halves.setdefault(_hf_base_name(match["base"]) + ".weight", {})[match["half"]] = value
    if unknown:
        raise ModelError(f"{path}: tensors that are not LoRA A/B matrices cannot be exported to llama.cpp: "
                         f"{', '.join(sorted(unknown)[:8])}{' ...' if len(unknown) > 8 else ''}.")
    if not halves:
        raise ModelError(f"{path}: no LoRA tensors in the adapter.")
    pairs = {}
    for name, half in halves.items():
        if set(half) != {"A", "B"}:
            raise ModelError(f"{path}: {name} has lora_{''.join(half)} but not its other half.")
        a, b = half["A"], half["B"]
        if a.shape[0] != b.shape[1]:
            raise ModelError(f"{path}: {name}: lora_A {a.shape} and lora_B {b.shape} disagree on the rank.")
        pairs[name] = (a, b)
    return pairs


def _file_alpha(config: dict, adapter_dir: Path) -> float:
    """The ``adapter.lora.alpha`` that makes llama.cpp's alpha / rank equal peft's scale."""
    path = adapter_dir / PEFT_CONFIG
    if config.get("alpha_pattern"):
        raise ModelError(f"{path}: per-module alpha (alpha_pattern) cannot be exported, llama.cpp has one alpha per adapter.")
    alpha = float(config["lora_alpha"])
    if config.get("use_rslora"):  # peft scales by alpha / sqrt(r), llama.cpp by alpha / r
        if config.get("rank_pattern"):
            raise ModelError(f"{path}: rsLoRA with per-module ranks (rank_pattern) cannot be exported.")
        alpha *= math.sqrt(float(config["r"]))
    return alpha


# --- the base model ---------------------------------------------------------------------------


def _resolve_base(
    adapter_dir: Path, config: dict, base_arch: str | None, base_gguf: str | Path | None, cache_dir: str | Path | None
) -> BaseInfo:
    base = _find_base(adapter_dir, config, base_gguf, cache_dir)
    if base_arch is not None:
        if base is not None and base.arch != base_arch:
            raise ModelError(f"{adapter_dir}: base_arch={base_arch!r}, but its base {base.source} is {base.arch!r}.")
        base = base or BaseInfo(arch=base_arch, source=f"base_arch={base_arch!r}")
    if base is None:
        raise ModelError(f"{adapter_dir}: the base model's architecture is unknown (no card.json naming a preset, "
                         "no readable base config): pass base_arch ('llama', 'qwen2', 'gemma3') or base_gguf.")
    if base.arch not in SUPPORTED_ARCHS:
        raise ModelError(f"{adapter_dir}: base architecture {base.arch!r} (from {base.source}) is not supported "
                         f"for export; supported: {', '.join(SUPPORTED_ARCHS)}.")
    return base


def _find_base(adapter_dir: Path, config: dict, base_gguf: str | Path | None, cache_dir: str | Path | None) -> BaseInfo | None:
    """The base from an explicit GGUF, the card's preset GGUF, or the base's config.json; None if none."""
    if base_gguf is not None:
        return read_gguf_base(Path(base_gguf))
    preset_gguf = _preset_gguf(adapter_dir, cache_dir)
    if preset_gguf is not None:
        return read_gguf_base(preset_gguf)
    return _config_base(config.get("base_model_name_or_path"))


def _preset_gguf(adapter_dir: Path, cache_dir: str | Path | None) -> Path | None:
    """The GGUF of the preset named by ``card.json``'s ``base``, if it is a preset we can locate."""
    try:
        preset = AdapterCard.load(adapter_dir).base
    except ModelError:  # no card or an unreadable one: the base's config.json may still tell
        return None
    if preset not in PRESETS:
        return None
    if cache_dir is None:
        cache_dir = Paths.from_env().cache_dir
    try:
        directory, filename = PRESETS[preset].locate_gguf(Path(cache_dir))
    except ModelError as exc:
        log.warning("base GGUF of preset %s not found (%s); falling back to its config.json", preset, exc)
        return None
    return Path(directory) / filename


def _gguf_value(reader, key: str):
    """A scalar or string metadata value of a ``GGUFReader`` (None when absent)."""
    from gguf import GGUFValueType

    fld = reader.fields.get(key)
    if fld is None or not fld.data:
        return None
    if fld.types and fld.types[0] == GGUFValueType.STRING:
        return bytes(fld.parts[fld.data[0]]).decode("utf-8")
    values = [fld.parts[i][0].item() for i in fld.data]
    if fld.types and fld.types[0] == GGUFValueType.ARRAY:  # per-layer head counts: usable when uniform
        return values[0] if len(set(values)) == 1 else None
    return values[0]


def read_gguf_base(path: Path) -> BaseInfo:
    """Architecture, head counts and tensor shapes (ggml ``ne``) of a base GGUF."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the base GGUF ({exc}).") from exc
    arch = _gguf_value(reader, "general.architecture")
    if not arch:
        raise ModelError(f"{path}: the base GGUF has no general.architecture.")
    return BaseInfo(
        arch=arch, source=str(path),
        n_head=_gguf_value(reader, f"{arch}.attention.head_count"),
        n_head_kv=_gguf_value(reader, f"{arch}.attention.head_count_kv"),
        shapes={t.name: tuple(int(n) for n in t.shape) for t in reader.tensors},
    )


def _config_base(model_path: str | None) -> BaseInfo | None:
    """A base known only by a local transformers directory (``config.json``)."""
    if not model_path or not (Path(model_path) / "config.json").is_file():
        return None
    path = Path(model_path) / "config.json"
    try:
        hf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if "num_attention_heads" not in hf:  # a multimodal wrapper: the language model's own config
        hf = hf.get("text_config", hf)
    model_type = hf.get("model_type", "")
    arch = HF_MODEL_TYPES.get(model_type)
    if arch is None:
        return BaseInfo(arch=model_type or "unknown", source=str(path))
    n_head = hf.get("num_attention_heads")
    return BaseInfo(arch=arch, source=str(path), n_head=n_head, n_head_kv=hf.get("num_key_value_heads", n_head))


# --- mapping and writing ----------------------------------------------------------------------


def _tensor_name_map(arch: str, n_blocks: int):
    import gguf

    arch_enum = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}[arch]
    return gguf.get_tensor_name_map(arch_enum, n_blocks)


def _n_blocks(names) -> int:
    layers = [int(m[1]) for m in (re.search(r"\.layers\.(\d+)\.", n) for n in names) if m]
    return max(layers, default=0) + 1


def _permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute`` on the output rows (HF rotate-half -> interleaved RoPE)."""
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _rope_permute(gguf_name: str, b: np.ndarray, base: BaseInfo, adapter_dir: Path) -> np.ndarray:
    """lora_B with the converter's q/k row permutation applied where the architecture has one."""
    kind = re.fullmatch(r"blk\.\d+\.attn_([qk])\.weight", gguf_name)
    if not SUPPORTED_ARCHS[base.arch] or kind is None:
        return b
    if not base.n_head:
        raise ModelError(f"{adapter_dir}: the base's attention head count is unknown ({base.source}), needed to "
                         f"reorder {gguf_name} for llama.cpp: pass base_gguf.")
    n_head = base.n_head if kind[1] == "q" else (base.n_head_kv or base.n_head)
    return _permute_rows(b, n_head)


def _check_shape(gguf_name: str, a: np.ndarray, b: np.ndarray, base: BaseInfo, adapter_dir: Path) -> None:
    """The checks llama.cpp makes at load, made here so a mismatch fails at export, naming the file."""
    if not base.shapes:
        return
    expected = base.shapes.get(gguf_name)
    if expected is None:
        raise ModelError(f"{adapter_dir / ADAPTER_WEIGHTS}: {gguf_name} is not a tensor of the base {base.source}.")
    if len(expected) != 2 or (a.shape[1], b.shape[0]) != expected:
        raise ModelError(f"{adapter_dir / ADAPTER_WEIGHTS}: {gguf_name} has (in, out) = {(a.shape[1], b.shape[0])}, "
                         f"the base {base.source} has {expected}: wrong base model?")


def _map_names(pairs: dict, arch: str, adapter_dir: Path) -> dict[str, str]:
    """peft module weight name -> llama.cpp tensor name; ``ModelError`` listing any that have none."""
    name_map = _tensor_name_map(arch, _n_blocks(pairs))
    mapped = {hf_name: name_map.get_name(hf_name, try_suffixes=(".weight",)) for hf_name in pairs}
    unmapped = sorted(hf_name for hf_name, gguf_name in mapped.items() if gguf_name is None)
    if unmapped:
        raise ModelError(f"{adapter_dir / ADAPTER_WEIGHTS}: no llama.cpp '{arch}' tensor for LoRA on "
                         f"{', '.join(unmapped[:8])}{' ...' if len(unmapped) > 8 else ''}.")
    return mapped


def _gguf_tensors(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]], base: BaseInfo, adapter_dir: Path
) -> list[tuple[str, np.ndarray]]:
    """``[(blk.N.attn_q.weight.lora_a, A), (....lora_b, B), ...]`` as float32 in peft's layout."""
    out = []
    for hf_name, gguf_name in sorted(_map_names(pairs, base.arch, adapter_dir).items(), key=lambda kv: kv[1]):
        a, b = pairs[hf_name]
        _check_shape(gguf_name, a, b, base, adapter_dir)
        b = _rope_permute(gguf_name, b, base, adapter_dir)
        out.append((gguf_name + ".lora_a", np.ascontiguousarray(a, dtype=np.float32)))
        out.append((gguf_name + ".lora_b", np.ascontiguousarray(b, dtype=np.float32)))
    return out


def _write_atomically(out_path: Path, arch: str, alpha: float, tensors: list[tuple[str, np.ndarray]], name: str) -> None:
    import gguf

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp{os.getpid()}")
    try:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(name)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        for tensor_name, data in tensors:
            writer.add_tensor(tensor_name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out_path)
    except OSError as exc:
        raise ModelError(f"{out_path}: cannot write the LoRA GGUF ({exc}).") from exc
    finally:
        tmp.unlink(missing_ok=True)
