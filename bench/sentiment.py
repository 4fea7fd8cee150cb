"""Accuracy of the Persian comment sentiment on the labelled set in bench/data/.

Usage: ``python -m bench.sentiment [--set FILE] [--errors]``. Prints accuracy, per-class
precision and recall, the confusion matrix and (with ``--errors``) every miss.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from cloud.analytics.sentiment import label, score

LABELLED = Path(__file__).parent / "data" / "sentiment_fa.tsv"
CLASSES = ("positive", "neutral", "negative")


def read_set(path: Path = LABELLED) -> list[tuple[str, str]]:
    """Return (label, comment) pairs; lines starting with # are comments."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, text = line.split("\t", 1)
            if expected not in CLASSES:
                raise ValueError(f"{path}: unknown label {expected!r}")
            pairs.append((expected, text))
    return pairs


def evaluate(pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Return accuracy, per-class precision/recall and the confusion counts."""
    confusion = Counter((expected, label(text)) for expected, text in pairs)
    correct = sum(confusion[(c, c)] for c in CLASSES)
    per_class = {}
    for c in CLASSES:
        predicted = sum(confusion[(e, c)] for e in CLASSES)
        actual = sum(confusion[(c, p)] for p in CLASSES)
        per_class[c] = {
            "precision": round(confusion[(c, c)] / predicted, 3) if predicted else 0.0,
            "recall": round(confusion[(c, c)] / actual, 3) if actual else 0.0,
        }
    return {
        "comments": len(pairs),
        "accuracy": round(correct / len(pairs), 3) if pairs else 0.0,
        "per_class": per_class,
        "confusion": {f"{e}->{p}": n for (e, p), n in sorted(confusion.items())},
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", type=Path, default=LABELLED)
    parser.add_argument("--errors", action="store_true", help="list every miss")
    args = parser.parse_args(argv)
    pairs = read_set(args.set)
    result = evaluate(pairs)
    print(f"comments: {result['comments']}  accuracy: {result['accuracy']:.1%}")
    for c, figures in result["per_class"].items():  # type: ignore[attr-defined]
        print(f"  {c:8}  precision {figures['precision']:.3f}  recall {figures['recall']:.3f}")
    print("  confusion (expected->predicted):", result["confusion"])
    if args.errors:
        for expected, text in pairs:
            got = label(text)
            if got != expected:
                print(f"  {expected:8} -> {got:8} {score(text):+.2f}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
