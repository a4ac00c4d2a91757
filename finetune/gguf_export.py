"""Moved to ``tutor.lora_gguf``: the llama.cpp backend applies adapters through it, and ``tutor`` must not
import ``finetune``. This re-export stays only while ``tutor/backends.py`` still imports it from here;
delete it once that import reads ``from tutor.lora_gguf import export_lora_gguf``."""

from tutor.lora_gguf import export_lora_gguf  # noqa: F401
