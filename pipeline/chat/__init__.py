"""Pure parts of the multi-turn and multilingual ops: prompt builders, parsers, language tools."""
