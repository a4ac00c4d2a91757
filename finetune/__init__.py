"""Fine-tuning (LoRA on FAQ pairs) and batch evaluation of the whole tutor."""
