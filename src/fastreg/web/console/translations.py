"""The console's message catalogues (``i18n/zh.json``, ``i18n/en.json``): Chinese by default, English on request."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
CATALOGUE_DIR = Path(__file__).parent / "i18n"


@cache
def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((CATALOGUE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **params)``: the message in ``lang`` (falling back to Chinese, then to the key)."""
    primary = catalogue(lang if lang in LANGS else DEFAULT_LANG)
    fallback = catalogue(DEFAULT_LANG)

    def t(key: str, **params: object) -> str:
        text = primary.get(key) or fallback.get(key) or key
        return text.format(**params) if params else text

    return t
