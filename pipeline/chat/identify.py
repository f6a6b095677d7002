"""Offline language identification with py3langid (its model ships inside the package).

Code, URLs and placeholders are removed first: they are not in any language and mislead
the classifier. Returns ISO 639-1 codes (`zh`, `en`, ...) and a probability.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

from pipeline.chat.protect import strip_protected
from pipeline.errors import ConfigError

UNDETERMINED = "und"
# The 97 languages of the original langid.py model. py3langid 0.4 adds rarer labels (wuu, yue,
# ...) that steal short Chinese texts from `zh`; they are used only when asked for by name.
CLASSIC = tuple("""af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd
gl gu ha he hi hr ht hu hy id ig is it ja jv ka kk km kn ko ku ky la lg ln lo lt lv mg mk ml mn mr
ms my ne nl no om or pa pl ps pt qu ro ru sa si sk sl so sq sr sv sw ta te th tl tr ug uk ur uz vi
xh yo zh zu""".split())


@dataclass(frozen=True)
class Guess:
    lang: str
    prob: float
    chars: int

    @property
    def sure(self) -> bool:
        return self.lang != UNDETERMINED


@lru_cache(maxsize=1)
def _model():
    """The full classifier; loading its model takes a few seconds, so it is loaded once."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise ConfigError("language identification needs py3langid: "
                          "pip install 'instructpipe[langid]'") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=8)
def _identifier(langs: tuple[str, ...]):
    """A classifier restricted to `langs`: a shallow copy of the full one (the model is shared)."""
    ident = copy.copy(_model())
    try:
        ident.set_languages(list(langs))
    except ValueError as e:
        raise ConfigError(f"langid languages: {e}; known: {', '.join(known_languages())}") from None
    return ident


def known_languages() -> list[str]:
    return list(_model().labels)


def identify(text: str, *, langs: tuple[str, ...] | None = None, min_chars: int = 2,
             min_prob: float = 0.5) -> Guess:
    """Best language of `text` among `langs` (default: CLASSIC); `und` when fewer than
    `min_chars` letters remain or the best probability is below `min_prob`."""
    clean = strip_protected(text)
    letters = sum(ch.isalpha() for ch in clean)
    if letters < min_chars:
        return Guess(UNDETERMINED, 0.0, letters)
    lang, prob = _identifier(tuple(sorted(set(langs or CLASSIC)))).classify(clean)
    if prob < min_prob:
        return Guess(UNDETERMINED, float(prob), letters)
    return Guess(lang, round(float(prob), 4), letters)
