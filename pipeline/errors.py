"""The small error vocabulary: every error a user can cause is one of these.

The CLI prints `str(error)` as one line on stderr and exits 1; anything else is a bug.
"""


class UserError(Exception):
    """Base for errors the user can fix (bad config, bad input, missing key...)."""


class ConfigError(UserError):
    """A recipe, parameter or CLI option is invalid."""


class InputError(UserError):
    """An input file or row is unreadable or malformed (message names file:line)."""


class LLMError(UserError):
    """The LLM endpoint refused the run (auth, quota): the run stops."""


class ParseError(UserError):
    """Model output could not be parsed."""


class BudgetError(UserError):
    """A cost or request budget was reached; the run stopped and can resume."""


class LockError(UserError):
    """Another process holds the run folder."""
