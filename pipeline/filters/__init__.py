"""Heuristic filter rules (`rules`), their phrase lists (`patterns`) and PII/URL redaction (`pii`)."""
