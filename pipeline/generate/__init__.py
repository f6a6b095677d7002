"""Pieces of the `generate` op: the reply's JSON schema (`schema`) and the output mapping (`mapping`)."""
