"""LoRA fine-tuning on an FAQ file with peft and the transformers ``Trainer``.

The steps, top to bottom: validate the FAQ (before any model loads, so a bad file costs nothing),
split it, load the base through ``tutor.runtime.models.load_model`` (the engine's loader: same weights, same
tokenizer and chat template), encode examples in the engine's prompt format, train with ``Trainer``
(validation loss each epoch, early stopping, checkpoints that ``resume`` picks up), measure train and
validation loss before and after, then save the adapter and its ``card.json`` under
``DATA_DIR/adapters/NAME``.

The ``Trainer`` is used rather than a hand loop because it already does what a loop would have to
re-implement: gradient accumulation, bf16 on CUDA, checkpoint/resume with optimizer and RNG state,
early stopping on the best validation loss.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable

from basics.config import Paths
from basics.errors import ConfigError
from tutor.adapters import AdapterCard, checkpoints_dir, install_adapter, validate_name
from tutor.runtime.models import DEFAULT_PRESET
from finetune.data import DataConfig, FAQInput, build_examples, collate, read_faq_data, split_entries

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict], None]


@dataclass
class TrainConfig:
    """Hyper-parameters of one LoRA run. Defaults suit a 135M-270M model on a few hundred FAQ rows."""

    base: str = field(default=DEFAULT_PRESET, metadata={"help": "Base model: preset name, model directory or HF id."})
    r: int = field(default=8, metadata={"help": "LoRA rank (attention dimension of the update)."})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha; the update is scaled by alpha / r."})
    dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: tuple[str, ...] | None = field(
        default=None, metadata={"help": "Modules to adapt; None: the preset's list (attention projections)."}
    )
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate (linear decay)."})
    epochs: float = field(default=3.0, metadata={"help": "Passes over the training rows."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."})
    batch_size: int = field(default=8, metadata={"help": "Examples per device batch."})
    grad_accum: int = field(default=1, metadata={"help": "Batches accumulated per optimizer step."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_length: int = field(default=384, metadata={"help": "Tokens per example (prompt + answer)."})
    val_fraction: float = field(default=0.2, metadata={"help": "Share of rows held out for validation loss."})
    seed: int = field(default=42, metadata={"help": "Seed for the split, LoRA init and data order."})
    early_stopping_patience: int = field(default=2, metadata={"help": "Epochs without validation improvement before stopping (0: off)."})
    eval_steps: int | None = field(default=None, metadata={"help": "Validate every N steps instead of every epoch."})
    rag: bool = field(default=False, metadata={"help": "Train on prompts holding the retrieved course chunks."})
    course: str | None = field(default=None, metadata={"help": "Course searched for RAG prompts."})
    rag_k: int = field(default=3, metadata={"help": "Chunks per RAG prompt."})
    device: str = field(default="auto", metadata={"help": "cpu, cuda or auto (CUDA with bf16 when present, else CPU)."})
    precision: str = field(default="auto", metadata={"help": "auto | fp32 | bf16. bf16 is mixed precision (autocast, fp32 "
                           "master weights); auto picks it on CUDA with bf16 and on CPUs with native bf16 (AVX512-BF16/AMX)."})
    resume: bool = field(default=False, metadata={"help": "Continue from the run's last checkpoint if there is one."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an existing adapter of the same name."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept for resuming."})
    loss_rows: int = field(default=64, metadata={"help": "Training rows scored for the before/after train loss (a sample: scoring all doubles a large run)."})
    show_progress: bool = field(default=True, metadata={"help": "tqdm progress bar."})

    def data_config(self) -> DataConfig:
        return DataConfig(
            val_fraction=self.val_fraction, seed=self.seed, max_length=self.max_length,
            rag=self.rag, course=self.course, rag_k=self.rag_k,
        )

    def check(self) -> None:
        """Reject settings that would fail deep inside the trainer with a less useful message."""
        for name in ("r", "alpha", "batch_size", "grad_accum", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"TrainConfig.learning_rate must be in (0, 1), got {self.learning_rate}.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"TrainConfig.dropout must be in [0, 1), got {self.dropout}.")
        if self.max_steps == 0 or (self.max_steps < 0 and self.epochs <= 0):
            raise ConfigError("Nothing to train: set epochs > 0 or max_steps > 0.")
        if self.rag and not self.course:
            raise ConfigError("--rag needs --course: the course whose documents fill the prompts.")


def _progress_callback(progress: ProgressFn):
    """A ``TrainerCallback`` forwarding steps, losses and evaluations to ``progress(dict)``."""
    from transformers import TrainerCallback

    class _Hook(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            progress({"stage": "train", "step": state.global_step, "max_steps": state.max_steps,
                      "epoch": state.epoch, **(logs or {})})

    return _Hook()


def _use_bf16(precision: str, device: str) -> bool:
    """Mixed bf16 where the hardware does bf16 natively; emulated bf16 would be slower than fp32."""
    import torch

    from basics.hardware import PRECISIONS, cpu_supports_bf16

    if precision not in PRECISIONS:
        raise ConfigError(f"Unknown precision={precision!r}: use {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision == "bf16"
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return device.startswith("cpu") and cpu_supports_bf16()


def train_adapter(
    faq: FAQInput,
    name: str,
    config: TrainConfig = TrainConfig(),
    paths: Paths | None = None,
    kb=None,
    progress: ProgressFn | None = None,
) -> dict:
    """Train and register adapter ``name`` on ``faq``; return its card (with ``path``).

    ``faq`` is an FAQ file (what ``tutor finetune`` passes) or a list of ``FAQEntry`` (what the app passes:
    the course's FAQ as the knowledge base holds it); the card's ``data_file`` names the file, or the
    course and entry count, so an adapter can be traced to its real data.
    """
    paths = paths or Paths.from_env()
    notify = progress or (lambda event: None)
    validate_name(name)
    config.check()
    if (paths.adapters_dir / name).exists() and not config.overwrite:
        raise ConfigError(f"Adapter {name!r} already exists at {paths.adapters_dir / name}: "
                          "pick another --name, or remove it first (`tutor adapters rm`).")

    data = read_faq_data(faq)  # a file raises FAQFormatError here, before anything heavy happens
    entries = data.entries
    train_rows, val_rows = split_entries(entries, config.val_fraction, config.seed)
    if not train_rows:
        raise ConfigError(f"{data.source}: at least 2 FAQ rows are needed to train.")
    if config.rag and kb is None:
        from knowledge_base import KnowledgeBase

        kb = KnowledgeBase(paths)
    if config.rag and config.course not in kb.courses():
        raise ConfigError(f"--course {config.course!r} is not in the knowledge base (courses: {', '.join(kb.courses()) or 'none'}).")
    notify({"stage": "load", "base": config.base, "rows": len(entries)})

    # Deferred on purpose: peft and transformers take seconds to import, and `tutor finetune --help` or a
    # malformed FAQ file should answer at once.
    from peft import LoraConfig, get_peft_model
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed

    from tutor.runtime.models import load_model, pick_device

    set_seed(config.seed)
    device = pick_device(config.device)
    loaded = load_model(config.base, cache_dir=paths.cache_dir, device=device, for_training=True)
    tok = loaded.tokenizer
    data_config = config.data_config()
    train_ex = build_examples(train_rows, tok, data_config, kb=kb)
    val_ex = build_examples(val_rows, tok, data_config, kb=kb)
    if not train_ex:
        raise ConfigError(f"{data.source}: no training example fits max_length={config.max_length}.")

    targets = config.target_modules or loaded.lora_target_modules
    lora = LoraConfig(
        r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, task_type="CAUSAL_LM",
        target_modules=list(targets) if not isinstance(targets, str) else targets,
    )
    model = get_peft_model(loaded.model, lora)

    has_val = bool(val_ex)
    strategy = ("steps" if config.eval_steps else "epoch") if has_val else "no"
    run_dir = checkpoints_dir(paths, name)
    use_bf16 = _use_bf16(config.precision, device)
    args = TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        eval_strategy=strategy,
        save_strategy=strategy if has_val else ("steps" if config.eval_steps else "epoch"),
        eval_steps=config.eval_steps,
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_val,
        metric_for_best_model="eval_loss" if has_val else None,
        greater_is_better=False if has_val else None,
        logging_strategy="steps",
        logging_steps=1,
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not device.startswith("cuda"),
        bf16=use_bf16,
        report_to="none",
        disable_tqdm=not config.show_progress,
        label_names=["labels"],
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ex, eval_dataset=val_ex or None,
        data_collator=lambda batch: collate(batch, tok.pad_token_id), callbacks=[_progress_callback(notify)],
    )
    early_stop = None
    if has_val and config.early_stopping_patience > 0:
        early_stop = EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)

    def losses(when: str) -> dict:
        # Measured outside training (early stopping detached), so they never count against patience.
        sample = train_ex[: config.loss_rows]
        out = {f"train_loss_{when}": trainer.evaluate(sample, metric_key_prefix="train")["train_loss"]}
        if has_val:
            out[f"val_loss_{when}"] = trainer.evaluate(val_ex, metric_key_prefix="eval")["eval_loss"]
        notify({"stage": "eval", **out})
        return out

    resume_from = None
    if config.resume:
        from transformers.trainer_utils import get_last_checkpoint

        resume_from = get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None
        log.info("resuming from %s", resume_from or "scratch (no checkpoint found)")
    elif run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run must not mix its checkpoints with an old one's

    before = losses("before")
    if early_stop is not None:
        trainer.add_callback(early_stop)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    elapsed = time.perf_counter() - started
    if early_stop is not None:
        trainer.remove_callback(early_stop)
    after = losses("after")

    staged = paths.adapters_dir / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    model.save_pretrained(str(staged))
    card = {
        "name": name,
        "base": config.base,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_file": data.source,
        "data_sha256": data.sha256,
        "rows": {"train": len(train_ex), "val": len(val_ex)},
        "target_modules": list(targets) if not isinstance(targets, str) else targets,
        "device": device,
        "bf16": use_bf16,
        "hyperparameters": {k: v for k, v in asdict(config).items() if k not in ("show_progress", "overwrite")},
        "metrics": {
            **before, **after,
            "train_loss_logged": result.training_loss,
            "steps": result.global_step,
            "epochs": trainer.state.epoch,
            "train_runtime_s": round(elapsed, 2),
            "samples_per_second": result.metrics.get("train_samples_per_second"),
            "best_checkpoint": trainer.state.best_model_checkpoint,
        },
        "resumed_from": resume_from,
    }
    AdapterCard.from_dict(card).save(staged)
    path = install_adapter(paths, name, staged, overwrite=config.overwrite)
    card["path"] = str(path)
    notify({"stage": "done", "path": str(path), **card["metrics"]})
    log.info("adapter %s saved to %s (val loss %s -> %s)", name, path, before.get("val_loss_before"), after.get("val_loss_after"))
    return card
