"""Mutation scores from mutmut's results, and random samples of mutants for modules too large to
run whole in one sitting.

    python scripts/mutation.py score [MODULE ...]      # killed / tested, per module and in all
    python scripts/mutation.py score --only FILE       # ... of the mutants named in FILE (a sample)
    python scripts/mutation.py survivors MODULE        # the surviving mutants' names
    python scripts/mutation.py sample MODULE N [SEED]  # N mutant names drawn at random (seed 1)

``sample`` reads the mutants mutmut generated (``mutants/`` exists once ``mutmut run`` has
started); run them with ``python -m mutmut run $(python scripts/mutation.py sample csl 500)``.
``score`` then counts what was run: a sample's score estimates the module's, and the 95 %
interval printed beside it says how closely. A timeout counts as caught (the mutant never
finishes); a mutant no test reaches counts as not caught.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

MUTANTS = Path(__file__).resolve().parent.parent / "mutants" / "src" / "evidencekb"
SURVIVED, NO_TESTS = 0, 33


def results(module: str) -> dict[str, int | None]:
    meta = MUTANTS / f"{module}.py.meta"
    if not meta.exists():
        raise SystemExit(f"{meta} does not exist: run mutmut on evidencekb.{module} first.")
    data = json.loads(meta.read_text(encoding="utf-8"))
    return dict(data.get("exit_code_by_key", {}))


def modules() -> list[str]:
    return sorted(p.name.removesuffix(".py.meta") for p in MUTANTS.glob("*.py.meta"))


def interval(caught: int, tested: int) -> tuple[float, float]:
    """Wilson's 95 % interval for a proportion."""
    if not tested:
        return 0.0, 1.0
    z, p = 1.96, caught / tested
    centre = (p + z * z / (2 * tested)) / (1 + z * z / tested)
    half = z * math.sqrt(p * (1 - p) / tested + z * z / (4 * tested * tested)) / (1 + z * z / tested)
    return centre - half, centre + half


def score(names: list[str], only: set[str] | None = None) -> int:
    total_caught = total_tested = 0
    print("| module | mutants | tested | caught | score | 95 % interval |")
    print("|---|---:|---:|---:|---:|---|")
    for module in names or modules():
        codes = {k: c for k, c in results(module).items() if only is None or k in only}
        if only is not None and not codes:
            continue
        tested = [c for c in codes.values() if c is not None]
        caught = sum(1 for c in tested if c not in (SURVIVED, NO_TESTS))
        low, high = interval(caught, len(tested))
        share = f"{100 * caught / len(tested):.1f} %" if tested else "-"
        print(f"| {module} | {len(codes)} | {len(tested)} | {caught} | {share} | {100 * low:.1f}–{100 * high:.1f} % |")
        total_caught += caught
        total_tested += len(tested)
    if total_tested:
        low, high = interval(total_caught, total_tested)
        print(f"| all | | {total_tested} | {total_caught} | {100 * total_caught / total_tested:.1f} % "
              f"| {100 * low:.1f}–{100 * high:.1f} % |")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("score", "survivors", "sample"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "score":
        if rest[:1] == ["--only"]:
            return score([], set(Path(rest[1]).read_text(encoding="utf-8").split()))
        return score(rest)
    if command == "survivors":
        print("\n".join(k for k, c in results(rest[0]).items() if c in (SURVIVED, NO_TESTS)))
        return 0
    module, n = rest[0], int(rest[1])
    seed = int(rest[2]) if len(rest) > 2 else 1
    names = sorted(results(module))
    print(" ".join(sorted(random.Random(seed).sample(names, min(n, len(names))))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
