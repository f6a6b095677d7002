"""Export: canonical records to the files training frameworks load (TRL, axolotl, LLaMA-Factory)."""
