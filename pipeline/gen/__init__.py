"""Building blocks of the generation ops: prompts in and parsed items out, instruction checks,
seed views, LLM call helpers and the round loop shared by Self-Instruct-style generators."""
