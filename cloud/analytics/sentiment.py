"""Persian comment sentiment from a curated lexicon: positive, neutral or negative.

Feedback comments are short and informal ("خیلی عالی بود", "پرسنل بی‌ادب"), so a lexicon
with a few rules does well and stays explainable to HQ, where a trained model would need a
labelled corpus nobody has. The words live in ``sentiment_lexicon.toml`` (HQ can edit it);
``bench/sentiment.py`` measures accuracy on a labelled set of comments.

Text is normalised first: Persian letters and digits (``common.persian.normalize_text``),
no diacritics or tatweel, the zero-width non-joiner dropped (``بی‌ادب`` = ``بیادب``), and
letters stretched three times or more cut to one (``عاااالی``). The prefixes ``می``,
``نمی`` and ``بی`` written apart are joined to the next word. Rules: a word followed within
two words by a negator (``خوب نبود``) or preceded by one of ``هیچ``/``بدون``/``نه`` counts
the other way; an intensifier (``خیلی``) before a word multiplies it by 1.5; after a
contrast (``ولی``, ``اما``) words weigh 1.5, as people put their point after the "but".
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cloud.analytics.clv import AnalyticsError
from common.persian import normalize_text

LEXICON_FILE = Path(__file__).with_name("sentiment_lexicon.toml")
THRESHOLD = 0.6  # |score| above this is not neutral; a lone "thanks" (0.5) stays neutral
MAX_PHRASE = 3
NEGATE_AFTER = 2
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")  # harakat, superscript alef, tatweel
_STRETCH = re.compile(r"(\w)\1{2,}")
_SPLIT = re.compile(r"[\s\.,،؛;:!؟?\"'«»()\[\]{}<>\-_/\\|*+=~`…]+")
_GLUE = ("می", "نمی", "بی")
# Plurals, comparatives, personal endings, the colloquial "is" and the indefinite ending:
# گرونه, مشکلی, ناراضی‌ام, ممنونم.
_SUFFIXES = ("هایی", "های", "ها", "ترین", "تر", "ایم", "اید", "اند", "ام", "ای", "ه", "ی", "م")


def normalize(text: str) -> str:
    """Normalise a comment for matching (see the module docstring)."""
    text = normalize_text(text.replace("\u200c", "").replace("\u200f", "").replace("\u200e", ""))
    text = _DIACRITICS.sub("", text)
    return _STRETCH.sub(r"\1", text).lower()


def tokens(text: str) -> list[str]:
    """Split normalised text into words, emoji apart, with detached prefixes re-joined."""
    words: list[str] = []
    for part in _SPLIT.split(normalize(text)):
        words.extend(_emoji_apart(part))
    joined: list[str] = []
    for word in words:
        if joined and joined[-1] in _GLUE:
            joined[-1] += word
        else:
            joined.append(word)
    return joined


def _emoji_apart(part: str) -> list[str]:
    out, word = [], ""
    for ch in part:
        if unicodedata.category(ch) == "So":  # symbols: emoji
            if word:
                out.append(word)
            out.append(ch)
            word = ""
        elif unicodedata.category(ch) not in ("Mn", "Cf"):  # variation selectors, joiners
            word += ch
    return [*out, word] if word else out


@dataclass(frozen=True)
class Lexicon:
    """Weighted words and phrases (as token tuples) and the rule words."""

    weights: dict[tuple[str, ...], float]
    negators: frozenset[str]
    pre_negators: frozenset[str]
    intensifiers: frozenset[str]
    contrasts: frozenset[str]


@functools.cache
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    """Read the lexicon once; raise naming the file when it is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        weights: dict[tuple[str, ...], float] = {}
        for group, weight in (
            ("very_positive", 2.0),
            ("positive", 1.0),
            ("mild_positive", 0.5),
            ("negative", -1.0),
            ("very_negative", -2.0),
            ("neutral", 0.0),
        ):
            for entry in data[group]:
                words = tuple(tokens(entry))
                weights[words] = weight
                # Compounds are written with a space or a zero-width non-joiner, which
                # normalising drops: "خوش برخورد" must match "خوش‌برخورد" (one word) too.
                weights.setdefault(("".join(words),), weight)
        rules = {
            name: frozenset(t for word in data[name] for t in tokens(word))
            for name in ("negators", "pre_negators", "intensifiers", "contrasts")
        }
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise AnalyticsError(f"cannot read the sentiment lexicon {path}: {exc}") from exc
    return Lexicon(weights, **rules)


def _match(words: list[str], i: int, lexicon: Lexicon) -> tuple[float, int]:
    """Return the weight and length of the longest lexicon entry starting at ``words[i]``."""
    for size in range(min(MAX_PHRASE, len(words) - i), 0, -1):
        weight = lexicon.weights.get(tuple(words[i : i + size]))
        if weight is not None:
            return weight, size
    return _stem_match(words[i], lexicon), 1


def _stem_match(word: str, lexicon: Lexicon) -> float:
    for suffix in _SUFFIXES:  # گرانتر, قیمتها: the stem may be the entry
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            weight = lexicon.weights.get((word[: -len(suffix)],))
            if weight is not None:
                return weight
    return 0.0


def score(text: str, lexicon: Lexicon | None = None) -> float:
    """Return the comment's sentiment score: below 0 negative, above 0 positive."""
    lexicon = lexicon or load_lexicon()
    words = tokens(text)
    total, i, after_contrast = 0.0, 0, False
    while i < len(words):
        word = words[i]
        if word in lexicon.contrasts:
            after_contrast, i = True, i + 1
            continue
        weight, size = _match(words, i, lexicon)
        if weight:  # a neutral phrase (کم چرب) matched with weight 0 and hides its words
            following = words[i + size : i + size + NEGATE_AFTER]
            if any(w in lexicon.negators for w in following) or (
                i > 0 and words[i - 1] in lexicon.pre_negators
            ):
                weight = -weight * 0.75  # "not good" is less bad than "bad"
            if i > 0 and words[i - 1] in lexicon.intensifiers:
                weight *= 1.5
            total += weight * (1.5 if after_contrast else 1.0)
        i += size
    return round(total, 3)


def label(text: str, lexicon: Lexicon | None = None) -> str:
    """Return ``positive``, ``neutral`` or ``negative``."""
    value = score(text, lexicon)
    if value > THRESHOLD:
        return "positive"
    if value < -THRESHOLD:
        return "negative"
    return "neutral"
