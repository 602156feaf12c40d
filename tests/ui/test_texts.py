"""The page's texts: one table, both languages, both tabs."""

from __future__ import annotations

import re

from captioner.ui import texts

HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def test_every_text_has_korean_and_english_and_english_has_no_hangul():
    for key, (ko, en) in texts.TEXTS.items():
        assert ko and en, key
        # the one exception: the example prompt placeholder stays a Korean sentence? no: none
        assert not HANGUL.search(en), (key, en)
    assert texts.t("generate", "ko") == "생성" and texts.t("generate", "en") == "Generate"
    assert texts.t("video_info", "en", mb=50, minutes=20).endswith("up to 50 MB and 20 min")


def test_the_switch_values_map_to_languages():
    assert texts.lang_of("English") == texts.lang_of("en") == "en"
    assert texts.lang_of("한국어") == texts.lang_of(None) == texts.lang_of("??") == "ko"
