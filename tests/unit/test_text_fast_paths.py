"""transport.text.first_unprintable's fast paths agree with the per-character definition."""

import itertools
import unicodedata

from transport.text import _HIDDEN_CATEGORIES, first_unprintable


def by_category(text: str, allowed: str = "") -> int | None:
    return next((position for position, char in enumerate(text)
                 if char not in allowed and unicodedata.category(char) in _HIDDEN_CATEGORIES), None)


def test_every_character_of_the_first_planes_is_judged_as_its_category_says():
    for code in range(0x20000):
        assert first_unprintable(chr(code)) == by_category(chr(code)), hex(code)


def test_short_mixes_with_and_without_allowed_characters_agree():
    alphabet = "a \n\t\x1b\x7f\u00a0\u202e\u200bé"
    for length in range(4):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            for allowed in ("", "\n", "\n\t", "é\n"):
                assert first_unprintable(text, allowed) == by_category(text, allowed), (text, allowed)
