"""Language-model machinery shared by every LM experiment (transformers, LoRA); it takes *Settings, not params."""
