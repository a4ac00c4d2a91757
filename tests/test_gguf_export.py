"""LoRA export to llama.cpp's GGUF adapter format: llama.cpp + the exported adapter answers like transformers + peft.

The slow tests train a real adapter on the bundled SmolLM2 (all attention and MLP projections, a large
learning rate so it visibly changes the answers), export it, and compare llama.cpp on the Q4_1 base GGUF
(with and without the adapter) with transformers + peft on the dequantized weights, teacher-forced on
peft's greedy answer. The Q4 kernels already make llama.cpp differ from transformers by ~0.1-0.2 logits
on average with no adapter at all; the adapter must add no more error than that, while changing the logits
by several logits, and change llama.cpp's greedy answers. The fast tests build tiny synthetic adapters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from test_finetune import BASE, write_faq

MODEL_CACHE = Path(os.environ["TUTOR_CACHE_DIR"])  # set by conftest: one shared model cache
QUESTIONS = ["Who teaches the course?", "When is the course exam?", "What is the capital of Kenya?"]
NEW_TOKENS = 12
ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def base_gguf() -> Path:
    from tutor.runtime.models import PRESETS

    directory, filename = PRESETS[BASE].locate_gguf(MODEL_CACHE)
    return Path(directory) / filename


def gguf_fields(path: Path) -> tuple[dict, dict]:
    """(metadata, {tensor name: (ggml ne, dtype name, data)}) of a GGUF file."""
    from gguf import GGUFReader

    from tutor.runtime.lora_gguf import _gguf_value

    reader = GGUFReader(str(path))
    meta = {key: _gguf_value(reader, key) for key in reader.fields if not key.startswith("GGUF.")}
    tensors = {t.name: (tuple(int(n) for n in t.shape), t.tensor_type.name, np.array(t.data)) for t in reader.tensors}
    return meta, tensors


# --- slow: a real adapter, llama.cpp against transformers + peft ---------------------------------


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> Path:
    from finetune.train import TrainConfig, train_adapter
    from basics.config import Paths

    paths = Paths(tmp_path_factory.mktemp("gguf") / "data", MODEL_CACHE)
    faq = write_faq(tmp_path_factory.mktemp("faq") / "faq.csv")
    config = TrainConfig(base=BASE, max_steps=4, batch_size=4, learning_rate=3e-3, max_length=224,
                         target_modules=ALL_PROJECTIONS, early_stopping_patience=0, show_progress=False)
    return Path(train_adapter(faq, "big", config, paths)["path"])


@pytest.fixture(scope="module")
def exported(adapter, tmp_path_factory) -> Path:
    from tutor.runtime.lora_gguf import export_lora_gguf

    out = tmp_path_factory.mktemp("export") / "big.gguf"
    assert export_lora_gguf(adapter, out, cache_dir=MODEL_CACHE) == out
    return out


@pytest.mark.slow
def test_exported_file_follows_llama_cpp_format(adapter, exported):
    from safetensors.numpy import load_file
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    meta, tensors = gguf_fields(exported)
    assert meta["general.architecture"] == "llama"  # read from the base GGUF named by card.json
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["adapter.lora.alpha"] == 16.0
    assert len(tensors) == 30 * len(ALL_PROJECTIONS) * 2 and not list(exported.parent.glob(".*tmp*"))

    peft = load_file(str(adapter / "adapter_model.safetensors"))
    prefix = "base_model.model.model.layers.3."
    ne, dtype, a = tensors["blk.3.attn_v.weight.lora_a"]
    assert (ne, dtype) == ((576, 8), "F32")  # ggml ne = [in, r]: peft's (r, in) as is, no transpose
    np.testing.assert_array_equal(a, peft[prefix + "self_attn.v_proj.lora_A.weight"])
    ne, _, b = tensors["blk.3.ffn_down.weight.lora_b"]
    assert ne == (8, 576)  # [r, out]
    np.testing.assert_array_equal(b, peft[prefix + "mlp.down_proj.lora_B.weight"])
    # q/k rows are in llama.cpp's RoPE order: transformers' own GGUF loader turns them back into peft's.
    unpermute = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    for proj, gguf_name in (("q_proj", "attn_q"), ("k_proj", "attn_k")):
        _, _, b = tensors[f"blk.3.{gguf_name}.weight.lora_b"]
        peft_b = peft[prefix + f"self_attn.{proj}.lora_B.weight"]
        assert not np.array_equal(b, peft_b)
        np.testing.assert_array_equal(unpermute.process(b, f"blk.3.{gguf_name}.weight").weights, peft_b)


def _llama(lora: Path | None):
    from llama_cpp import Llama

    return Llama(model_path=str(base_gguf()), lora_path=str(lora) if lora else None, n_ctx=512,
                 verbose=False, seed=0, logits_all=True)


def _teacher_forced(llm, seq: list[int], start: int) -> np.ndarray:
    """llama.cpp's logits predicting ``seq[start + 1:]``."""
    llm.reset()
    llm.eval(seq)
    return np.array(llm.scores[start:len(seq) - 1])


def _greedy(llm, prompt: list[int], n: int) -> list[int]:
    llm.reset()
    llm.eval(prompt)
    out = []
    for _ in range(n):
        out.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        llm.eval([out[-1]])
    return out


@pytest.mark.slow
def test_llama_cpp_with_exported_lora_answers_like_peft(adapter, exported):
    import torch

    from tutor.runtime.models import load_model
    from tutor.prompts import build_messages

    tuned = load_model(BASE, cache_dir=MODEL_CACHE, device="cpu", adapter_dir=adapter)
    tok = tuned.tokenizer
    with_lora, without = _llama(exported), _llama(None)
    report = []
    for question in QUESTIONS:
        messages, _ = build_messages(question, [], [], "en", tok, 200)  # the format it trained on
        prompt = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))["input_ids"]
        with torch.no_grad():
            generated = tuned.model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=NEW_TOKENS,
                                             attention_mask=torch.ones(1, len(prompt), dtype=torch.long), do_sample=False)
            seq = generated[0].tolist()
            peft_logits = tuned.model(input_ids=torch.tensor([seq])).logits[0, len(prompt) - 1:-1].numpy()
            with tuned.model.disable_adapter():
                hf_base = tuned.model(input_ids=torch.tensor([seq])).logits[0, len(prompt) - 1:-1].numpy()
        cpp_lora = _teacher_forced(with_lora, seq, len(prompt) - 1)
        cpp_base = _teacher_forced(without, seq, len(prompt) - 1)

        # Greedy agreement: where llama.cpp + LoRA picks another token than peft, it is a near tie for peft.
        picks = cpp_lora.argmax(-1)
        regret = peft_logits.max(-1) - peft_logits[np.arange(len(picks)), picks]
        agree = float((picks == peft_logits.argmax(-1)).mean())
        quant_noise = float(np.abs(cpp_base - hf_base).mean())  # llama.cpp vs transformers, no adapter
        lora_error = float(np.abs(cpp_lora - peft_logits).mean())
        lora_effect = float(np.abs(peft_logits - hf_base).mean())
        cpp_lora_answer, cpp_base_answer = _greedy(with_lora, prompt, NEW_TOKENS), _greedy(without, prompt, NEW_TOKENS)
        report.append(dict(question=question, peft=tok.decode(seq[len(prompt):]), cpp_lora=tok.decode(cpp_lora_answer),
                           cpp_base=tok.decode(cpp_base_answer), agree=agree, max_regret=float(regret.max()),
                           quant_noise=quant_noise, lora_error=lora_error, lora_effect=lora_effect))
        assert regret.max() < 0.5, report[-1]
        assert lora_error < 1.5 * quant_noise + 0.05, report[-1]  # the adapter adds no error of its own
        assert lora_effect > 4 * lora_error, report[-1]  # ... and what it changes is far above the noise
        assert cpp_lora_answer != cpp_base_answer, report[-1]  # llama.cpp did apply it
    assert np.mean([r["agree"] for r in report]) >= 0.8, report
    print(json.dumps(report, indent=1))


# --- fast: synthetic adapters, errors -----------------------------------------------------------


def fake_adapter(directory: Path, modules: dict[str, tuple[int, int]], r: int = 2, extra: dict | None = None,
                 card_base: str | None = None, **config) -> Path:
    """A peft-style adapter dir with random lora_A (r, in) / lora_B (out, r) for ``{module: (in, out)}``."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tensors = {}
    for module, (n_in, n_out) in modules.items():
        tensors[f"base_model.model.{module}.lora_A.weight"] = rng.standard_normal((r, n_in), dtype=np.float32)
        tensors[f"base_model.model.{module}.lora_B.weight"] = rng.standard_normal((n_out, r), dtype=np.float32)
    save_file({**tensors, **(extra or {})}, str(directory / "adapter_model.safetensors"))
    adapter_config = {"peft_type": "LORA", "r": r, "lora_alpha": 4, "base_model_name_or_path": str(directory / "nowhere"),
                      **config}
    (directory / "adapter_config.json").write_text(json.dumps(adapter_config))
    if card_base:
        (directory / "card.json").write_text(json.dumps({"name": directory.name, "base": card_base}))
    return directory


def test_synthetic_qwen2_adapter_exports_without_reordering(tmp_path):
    from tutor.runtime.lora_gguf import export_lora_gguf

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.q_proj": (16, 16), "model.layers.1.mlp.up_proj": (16, 24)},
                           use_rslora=True)
    meta, tensors = gguf_fields(export_lora_gguf(adapter, tmp_path / "out" / "a.gguf", base_arch="qwen2"))
    assert meta["general.architecture"] == "qwen2" and meta["general.type"] == "adapter"
    assert meta["adapter.lora.alpha"] == pytest.approx(4 * 2 ** 0.5)  # rsLoRA's alpha/sqrt(r) as llama.cpp's alpha/r
    assert sorted(tensors) == ["blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b",
                               "blk.1.ffn_up.weight.lora_a", "blk.1.ffn_up.weight.lora_b"]
    assert tensors["blk.1.ffn_up.weight.lora_b"][0] == (2, 24)
    from safetensors.numpy import load_file

    np.testing.assert_array_equal(tensors["blk.0.attn_q.weight.lora_b"][2],
                                  load_file(str(adapter / "adapter_model.safetensors"))["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"])


def test_architecture_comes_from_the_cards_preset_gguf(tmp_path):
    from tutor.runtime.lora_gguf import export_lora_gguf

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.k_proj": (576, 192)}, card_base=BASE)
    meta, tensors = gguf_fields(export_lora_gguf(adapter, tmp_path / "a.gguf", cache_dir=MODEL_CACHE))
    assert meta["general.architecture"] == "llama"
    assert tensors["blk.0.attn_k.weight.lora_b"][0] == (2, 192)


def test_an_export_inside_the_adapter_is_recorded_on_its_card(tmp_path):
    from tutor.adapters import AdapterCard
    from tutor.runtime.lora_gguf import export_lora_gguf

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.k_proj": (576, 192)}, card_base=BASE)
    export_lora_gguf(adapter, tmp_path / "elsewhere.gguf", cache_dir=MODEL_CACHE)
    assert AdapterCard.load(adapter).gguf is None  # the user's own file, not part of the adapter
    export_lora_gguf(adapter, adapter / "adapter.gguf", cache_dir=MODEL_CACHE)  # where the llama.cpp backend puts it
    card = AdapterCard.load(adapter)
    assert (card.gguf, card.base, card.name) == ("adapter.gguf", BASE, "a")


@pytest.mark.parametrize("extra, card_base, base_arch, message", [
    ({"base_model.model.model.layers.0.self_attn.rotary_emb.lora_A.weight": np.zeros((2, 8), np.float32),
      "base_model.model.model.layers.0.self_attn.rotary_emb.lora_B.weight": np.zeros((8, 2), np.float32)},
     None, "llama", "no llama.cpp 'llama' tensor for LoRA on model.layers.0.self_attn.rotary_emb.weight"),
    ({"base_model.model.lm_head.modules_to_save.default.weight": np.zeros((8, 8), np.float32)},
     None, "llama", "not LoRA A/B matrices.*lm_head"),
    ({}, None, "gpt2", "architecture 'gpt2'.*not supported"),
    ({}, None, None, "architecture is unknown"),
    ({}, BASE, "qwen2", "base_arch='qwen2', but its base .*'llama'"),
])
def test_unexportable_adapter_raises_and_writes_nothing(tmp_path, extra, card_base, base_arch, message):
    from tutor.runtime.lora_gguf import export_lora_gguf
    from basics.errors import ModelError

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.v_proj": (576, 192)}, extra=extra, card_base=card_base)
    out = tmp_path / "out" / "a.gguf"
    with pytest.raises(ModelError, match=message) as err:
        export_lora_gguf(adapter, out, base_arch=base_arch, cache_dir=MODEL_CACHE)
    assert str(adapter) in str(err.value)  # names the adapter (or its weights file)
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_failed_export_keeps_an_existing_file(tmp_path):
    from tutor.runtime.lora_gguf import export_lora_gguf
    from basics.errors import ModelError

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.v_proj": (16, 16)},
                           extra={"base_model.model.model.layers.0.self_attn.v_proj.lora_magnitude_vector": np.ones(16, np.float32)})
    out = tmp_path / "a.gguf"
    out.write_bytes(b"previous export")
    with pytest.raises(ModelError, match="lora_magnitude_vector"):
        export_lora_gguf(adapter, out, base_arch="llama")
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.gguf"]


def test_llama_q_proj_needs_the_head_count(tmp_path):
    from tutor.runtime.lora_gguf import export_lora_gguf
    from basics.errors import ModelError

    adapter = fake_adapter(tmp_path / "a", {"model.layers.0.self_attn.q_proj": (16, 16)})
    with pytest.raises(ModelError, match="head count is unknown"):
        export_lora_gguf(adapter, tmp_path / "a.gguf", base_arch="llama")
    assert not (tmp_path / "a.gguf").exists()
