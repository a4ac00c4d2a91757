"""Int4 weight-only linear layers for CPU decoding (``optimize="int4"``).

Why: decoding one token on a CPU is memory-bound; every step reads every weight once. Weights stored as
4-bit groups are a quarter of fp32 and half of int8, and torch ships a CPU kernel that multiplies by them
directly (``aten._weight_int4pack_mm_for_cpu``). The bundled presets were published as 4-bit GGUFs (Q4_1,
Q4_K_M: groups of 32 with a scale and a minimum), so 4-bit affine groups of 32 come back to nearly the
same grid the weights were shipped on.

Prefill (many tokens at once) is compute-bound instead, and the int4 kernel is slower there than a bf16
matmul; each layer keeps a bf16 copy for inputs of more than ``PREFILL_ROWS`` rows. Memory is ~1.25x the
bf16 model, speed is measured in ``bench/generation.py`` and ``bench/decode_step.py``.
"""

from __future__ import annotations

GROUP = 32
PREFILL_ROWS = 8


def _int4_linear_class():
    import torch

    class Int4Linear(torch.nn.Module):
        """An ``nn.Linear`` as 4-bit affine groups of ``GROUP`` input columns (bf16 scales and zeros)."""

        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            w = linear.weight.detach().float()
            n, k = w.shape
            groups = w.reshape(n, k // GROUP, GROUP)
            lo, hi = groups.amin(-1), groups.amax(-1)
            scale = ((hi - lo) / 15).clamp(min=1e-8)
            q = torch.round((groups - lo[..., None]) / scale[..., None]).clamp(0, 15).to(torch.int32).reshape(n, k)
            zero = lo + 8 * scale  # torch's convention: w = (q - 8) * scale + zero
            self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 8))
            self.register_buffer("scales_zeros", torch.stack([scale, zero], -1).transpose(0, 1).contiguous().to(torch.bfloat16))
            self.register_buffer("dense", linear.weight.detach().to(torch.bfloat16))  # for prefill
            self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().to(torch.bfloat16))
            self.out_features, self.in_features = n, k

        def forward(self, x):
            x = x.to(torch.bfloat16)
            if x.numel() // x.shape[-1] > PREFILL_ROWS:
                return torch.nn.functional.linear(x, self.dense, self.bias)
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x.reshape(-1, x.shape[-1]), self.packed, GROUP, self.scales_zeros)
            if self.bias is not None:
                y = y + self.bias
            return y.reshape(*x.shape[:-1], self.out_features)

    return Int4Linear


def quantize_int4(model):
    """Cast ``model`` to bf16 and replace every ``nn.Linear`` whose width fits the groups with ``Int4Linear``.

    Inference only, CPU only. Attention stays SDPA: eager attention was ~15% faster per step in
    ``bench/decode_step.py`` but no faster in the full generator on a ~600-token prompt, and its prefill
    was slower (docs/benchmarks.md, section Generation).
    """
    import torch

    int4_linear = _int4_linear_class()
    model.to(torch.bfloat16)

    def swap(module) -> None:
        for name, child in module.named_children():
            if isinstance(child, torch.nn.Linear) and child.in_features % GROUP == 0:
                setattr(module, name, int4_linear(child))
            else:
                swap(child)

    swap(model)
    return model
