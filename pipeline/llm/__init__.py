"""LLM access: settings, the concurrent client, the request cache, accounting and batch mode."""
