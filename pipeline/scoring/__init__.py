"""LLM scoring shared by `judge`, `score_deita`, `tag` and `pairs`: prompt layout, parsers, re-asks."""
