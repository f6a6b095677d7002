"""Language codes (ISO 639-1, optionally with a region: `zh`, `zh-TW`, `pt-BR`) and their names.

Names go into prompts ("Translate ... into German"); the base code is what language
identification compares. Codes outside the table need a name given by the user.
"""

from __future__ import annotations

import re

from pipeline.errors import ConfigError

NAMES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian",
    "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "fy": "Western Frisian", "ga": "Irish",
    "gd": "Scottish Gaelic", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish",
    "lg": "Ganda", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian",
    "mg": "Malagasy", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi",
    "ms": "Malay", "mt": "Maltese", "my": "Burmese", "ne": "Nepali", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "oc": "Occitan", "om": "Oromo", "or": "Odia",
    "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua",
    "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "si": "Sinhala",
    "sk": "Slovak", "sl": "Slovenian", "so": "Somali", "sq": "Albanian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai",
    "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "tt": "Tatar", "ug": "Uyghur",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "xh": "Xhosa",
    "yo": "Yoruba", "yue": "Cantonese", "zh": "Chinese", "zu": "Zulu",
    "zh-cn": "Simplified Chinese", "zh-hans": "Simplified Chinese",
    "zh-tw": "Traditional Chinese", "zh-hant": "Traditional Chinese", "zh-hk": "Traditional Chinese",
    "pt-br": "Brazilian Portuguese", "pt-pt": "European Portuguese",
    "en-us": "American English", "en-gb": "British English",
}
_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def base(code: str) -> str:
    """`zh-TW` -> `zh`: the part language identification can tell apart."""
    return code.split("-", 1)[0].lower()


def check_code(code: str, names: dict[str, str] | None = None) -> str:
    """The code itself if it is well formed and has a name; else a ConfigError saying how to fix."""
    if not isinstance(code, str) or not _CODE.match(code):
        raise ConfigError(f"language {code!r}: expected an ISO 639-1 code like 'de' or 'zh-TW'")
    name_of(code, names)
    return code


def name_of(code: str, names: dict[str, str] | None = None) -> str:
    """English name of a language code, from `names` (user-given) first, then the table."""
    for table in (names or {}, NAMES):
        for key in (code, code.lower(), base(code)):
            if key in table:
                return table[key]
    raise ConfigError(f"language {code!r} has no known name; give one in `language_names`")
