"""The ``evidencekb`` command: the build's checks without building the site."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

from . import bibliography as bibmod
from .diagnostics import ORDER, Diagnostic, Severity
from .site import Project, Site


def _project(root: Path) -> Project:
    return Project.from_config_file(root / "mkdocs.yml")


def run_checks(root: Path) -> list[Diagnostic]:
    """Every check the build runs (the site stage's own list), without building."""
    from .cache import default_dir

    project = _project(root)
    site = Site.load(project, default_dir(root) if project.options.cache else None)
    return site.check()


def cmd_check(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    diags = run_checks(root)
    if args.strict:
        diags = [Diagnostic(d.path, d.line, d.col, d.code, d.message, Severity.ERROR) for d in diags]
    errors = sum(1 for d in diags if d.severity == Severity.ERROR)
    warnings = len(diags) - errors
    if args.format == "json":
        print(json.dumps({"diagnostics": [
            {"path": d.path, "line": d.line, "col": d.col, "severity": d.severity.value, "code": d.code,
             "message": d.message} for d in diags], "errors": errors, "warnings": warnings}, indent=2))
    else:  # one write: a large library's thousands of lines, not a call each
        sys.stdout.write("".join(f"{d}\n" for d in diags) + f"{errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _read_utf8(path: Path) -> str:
    """A text file's content, or a ValueError saying what is wrong with it."""
    if not path.exists():
        raise ValueError(f"{path}: no such file.")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a .bib file.")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8.") from None


def cmd_fmt(args: argparse.Namespace) -> int:
    from .bibfmt import WriteError, diff, format_text, write_atomic

    root = Path(args.root).resolve()
    files = [Path(f) for f in args.files] or bibmod.find_bib_files(root, _project(root).options.bibliography)
    changed = failed = 0
    for path in files:
        try:
            old = _read_utf8(path)
        except (ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        problems: list[str] = []
        new = format_text(old, sort=args.sort, problems=problems, fix=args.fix)
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
        if new == old.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"):
            continue
        changed += 1
        if args.check:
            sys.stdout.write(diff(str(path), old, new))
            continue
        try:
            write_atomic(path, new)
        except (WriteError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"formatted {path}")
    if args.check and changed:
        print(f"{changed} file(s) would be reformatted; run 'evidencekb fmt'.")
        return 1
    return 1 if failed else 0


def cmd_add(args: argparse.Namespace) -> int:
    from .bibfmt import WriteError, format_text, write_atomic
    from .importers import (
        ImportError_,
        Record,
        assign_keys,
        check_records,
        fetch_doi,
        parse_bibtex,
        read_file,
        to_bibtex,
    )

    root = Path(args.root).resolve()
    project = _project(root)
    bib = bibmod.load(bibmod.find_bib_files(root, project.options.bibliography), root)
    target = Path(args.to) if args.to else root / "references" / "imported.bib"
    try:
        old = _read_utf8(target) if target.exists() or target.is_dir() else ""
        records: list[Record] = []
        for doi in args.doi or []:
            resolver = os.environ.get("EVIDENCEKB_DOI_RESOLVER", "https://doi.org/")
            records += parse_bibtex(fetch_doi(doi, resolver), f"doi:{doi}")
        for f in args.files:
            records += read_file(Path(f))
        if not records:
            print("nothing to add: give files or --doi", file=sys.stderr)
            return 2
        assign_keys(records, bib)
        text = to_bibtex(records)
        check_records(text, records)
    except (ImportError_, OSError, ValueError) as exc:
        return _fail(str(exc))
    new = format_text((old.rstrip() + "\n\n" if old.strip() else "") + text)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, new)
    except (WriteError, OSError) as exc:
        return _fail(str(exc))
    for r in records:
        print(f"added {r.key} to {target}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from .bibfmt import WriteError, write_atomic
    from .claims import SLUG
    from .pages import slug_title

    root = Path(args.root).resolve()
    project = _project(root)
    docs = project.docs_dir
    article_file = docs / project.options.article
    quote = args.quote or args.text
    if article_file.exists():
        from .checks import article_text
        from .quotes import closest, find

        try:
            article = article_text(_read_utf8(article_file))
        except ValueError as exc:
            return _fail(str(exc))
        if find(quote, article) is None:
            return _fail(f"the quote is not verbatim in {project.display(article_file)}; pass --quote with the "
                         f"article's exact words. Closest passage: \"{closest(quote, article)}\"")
    slug = args.slug or slug_title(args.text)
    if not SLUG.match(slug):
        return _fail(f"'{slug}' is not a slug: use lower-case letters, digits and hyphens (no '/', '..' or spaces).")
    folder = (docs / project.options.claims_dir).resolve()
    path = folder / f"{slug}.md"
    if path.parent != folder:
        return _fail(f"'{slug}' would leave the claims folder.")
    if path.exists():
        return _fail(f"{project.display(path)} already exists; choose another --slug.")
    import datetime as dt

    today = dt.date.today().isoformat()
    record = {
        "claim": args.text, "quote": quote, "topic": args.topic, "verdict": "untested", "certainty": "very-low",
        "bottom_line": "No study has tested this claim yet.",
        "question": {"population": "Who the claim is about", "intervention": "What it says is done or happens",
                     "comparison": "Compared with what", "outcome": "What it says changes"},
        "searches": [{"source": "pubmed", "terms": "write the exact search here", "date": today, "results": 0}],
        "outcomes": [{"id": "main", "name": "The claim's main outcome", "kind": "association",
                      "certainty": "very-low"}],
        "clients": "", "practice": "", "evidence": [], "reviewed": today, "override": None,
        "history": [{"date": today, "change": "Page created.", "reason": "New claim."}],
    }
    body = "---\n" + yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100) + "---\n\n" \
        "Discuss the evidence here. Cite a reference by its key in brackets, as in `[@smith2020]`.\n"
    log = project.root / project.options.screening_dir / f"{slug}.yaml"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, body)
        if not log.exists():
            log.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(log, "# Every record the searches returned, with its decision.\nrecords: []\n")
    except (WriteError, OSError) as exc:
        return _fail(str(exc))
    print(f"created {project.display(path)} and {project.display(log)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Re-run each claim's PubMed searches; list (or add) records not yet screened."""
    import datetime as dt

    from .bibfmt import WriteError, write_atomic
    from .living import Client, NetworkError, search_claim, unscreened_rows

    root = Path(args.root).resolve()
    project = _project(root)
    site = Site.load(project, None)
    client = Client()
    today = dt.date.today().isoformat()
    total = 0
    for c in site.claims:
        if args.claim and c.slug not in args.claim:
            continue
        log = site.logs.get(c.slug)
        ids = [r.id for r in log.records] if log else []
        try:
            found, ran = search_claim(client, c.searches, ids, site.bib.entries, today)
        except NetworkError as exc:
            return _fail(str(exc))
        if not ran:
            print(f"{c.slug}: no PubMed search recorded (add one with source: pubmed to {c.path}).")
            continue
        total += len(found)
        print(f"{c.slug}: {len(found)} new record(s) from {ran} PubMed search(es) since "
              f"{c.searched or 'the start'}.")
        for f in found:
            print(f"  pmid:{f.pmid}  {f.year or '----'}  {f.title}")
        if args.add and found:
            path = site.log_path(c.slug)
            try:
                old = _read_utf8(path) if path.exists() else "records:\n"
            except ValueError as exc:
                return _fail(str(exc))
            text = old if old.endswith("\n") else old + "\n"
            if re.search(r"^records:\s*\[\s*\]\s*$", text, re.M):
                text = re.sub(r"^records:\s*\[\s*\]\s*$", "records:", text, flags=re.M)
            pubmed = [i for i, s in enumerate(c.searches, 1) if s.source == "pubmed"]
            try:
                write_atomic(path, text + unscreened_rows(found, pubmed[0] if len(pubmed) == 1 else None))
            except (WriteError, OSError) as exc:
                return _fail(str(exc))
            print(f"  added as unscreened to {project.display(path)}; screen them, then set each search's date to "
                  f"{today} in {c.path}.")
    print(f"{total} new record(s); {client.requests} request(s) to NCBI.")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every entry's metadata against Crossref (DOI) and PubMed (PMID)."""
    from .living import Client, NetworkError, esummary, verify_entry

    root = Path(args.root).resolve()
    project = _project(root)
    bib = bibmod.load(bibmod.find_bib_files(root, project.options.bibliography), root)
    keys = args.keys or list(bib.entries)
    client = Client()
    diags: list[Diagnostic] = []
    try:
        pmids = [bib[k].fields["pmid"].strip() for k in keys if k in bib and bib[k].fields.get("pmid", "").strip()]
        pubmed = esummary(client, pmids) if pmids else {}
        for k in keys:
            if k not in bib:
                print(f"error: '{k}' is not a key in any .bib file.{bib.suggest(k)}", file=sys.stderr)
                return 2
            diags += verify_entry(client, bib[k], pubmed)
    except NetworkError as exc:
        return _fail(str(exc))
    for d in sorted(diags, key=ORDER):
        print(d)
    errors = sum(1 for d in diags if d.severity == Severity.ERROR)
    print(f"{len(keys)} entr{'y' if len(keys) == 1 else 'ies'} checked: {errors} error(s), "
          f"{len(diags) - errors} warning(s).")
    return 1 if errors or (args.strict and diags) else 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build the site with the chosen engine; every engine runs the same checks."""
    root = Path(args.root).resolve()
    if args.engine == "zensical":
        from .engines import EngineError, build

        try:
            return build(_project(root), Path(args.site_dir).resolve() if args.site_dir else None, args.strict)
        except EngineError as exc:
            return _fail(str(exc))
    cmd = [sys.executable, "-m", args.engine, "build", "--strict"] + (["-d", args.site_dir] if args.site_dir else [])
    import subprocess

    return subprocess.run(cmd, cwd=root).returncode


def cmd_serve(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if args.engine == "zensical":
        from .engines import EngineError, serve

        try:
            return serve(_project(root), args.dev_addr)
        except EngineError as exc:
            return _fail(str(exc))
    import subprocess

    return subprocess.run([sys.executable, "-m", args.engine, "serve"] + (["-a", args.dev_addr] if args.dev_addr else []),
                          cwd=root).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="evidencekb", description="Check and maintain the evidence knowledge base.")
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=".", help="project folder holding mkdocs.yml (default: .)")
    p = sub.add_parser("check", parents=[common], help="run every check on references/ and docs/ without building the site",
                       description="Run every check on references/ and docs/ without building the site. "
                                   "Exit 0 when clean, 1 on errors (warnings too with --strict).")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fmt", parents=[common], help="normalise .bib files (field order, indentation, page ranges, braces)",
                       description="Normalise .bib files in place, atomically, losing nothing. "
                                   "With --check, change nothing: show a diff and exit 1 if a file is not formatted.")
    p.add_argument("files", nargs="*", help=".bib files (default: the configured bibliography)")
    p.add_argument("--check", action="store_true", help="report, do not write")
    p.add_argument("--sort", action="store_true", help="sort entries by key")
    p.add_argument("--fix", action="store_true",
                   help="also fix what the checks suggest: a DOI written with https://doi.org/ or doi: becomes the bare DOI")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("add", parents=[common], help="import references from BibTeX, RIS, PubMed (.nbib), CSL-JSON or a DOI",
                       description="Import references with house keys (surname + year, a/b on a clash). "
                                   "A duplicate DOI or PMID is refused, naming the existing key.")
    p.add_argument("files", nargs="*", help="exports to import (.bib, .ris, .nbib, .json)")
    p.add_argument("--doi", action="append", help="fetch BibTeX for this DOI from doi.org (needs a network)")
    p.add_argument("--to", help="the .bib file to add to (default: references/imported.bib)")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("new", help="scaffold a new page", description="Scaffold a new page.")
    kinds = p.add_subparsers(dest="kind", required=True)
    c = kinds.add_parser("claim", parents=[common], help="a claim page with a valid, empty record",
                         description="Create docs/claims/<slug>.md with a valid record: verdict untested, no evidence.")
    c.add_argument("text", help="the claim, in the article's words (or give --quote)")
    c.add_argument("--quote", help="the article's exact words, if the claim text is paraphrased")
    c.add_argument("--slug", help="page name (default: from the text)")
    c.add_argument("--topic", default="mechanism", choices=("anatomy", "mechanism", "cause", "treatment",
                                                             "prognosis", "context"))
    c.set_defaults(func=cmd_new)
    p = sub.add_parser("search", parents=[common], help="re-run each claim's PubMed searches and list new records",
                       description="Re-run every search recorded with source 'pubmed' (NCBI E-utilities) from the "
                                   "day it was last run, and list the records the claim's screening log does not "
                                   "hold. Needs a network; NCBI_API_KEY raises the rate limit; HTTPS_PROXY is used.")
    p.add_argument("claim", nargs="*", help="claim slugs (default: every claim)")
    p.add_argument("--add", action="store_true", help="append the new records to the screening logs as unscreened")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("verify", parents=[common], help="check entries' metadata against Crossref and PubMed",
                       description="Look each entry's DOI up in Crossref and its PMID in PubMed, and report where "
                                   "the library disagrees (title, first author, year, journal, volume, first page) "
                                   "and any retraction. Needs a network.")
    p.add_argument("keys", nargs="*", help="citation keys (default: every entry)")
    p.add_argument("--strict", action="store_true", help="exit 1 on any mismatch, not only errors")
    p.set_defaults(func=cmd_verify)
    for name, helptext in (("build", "build the site (checks first) with MkDocs, ProperDocs or Zensical"),
                           ("serve", "serve the site, rebuilding on changes to docs, claims and .bib files")):
        p = sub.add_parser(name, parents=[common], help=helptext,
                           description=helptext[0].upper() + helptext[1:] + ". Zensical runs no MkDocs plugins, so "
                           "for it evidencekb runs the checks and lays out the generated pages itself, in "
                           ".cache/evidencekb/zensical.")
        p.add_argument("--engine", choices=("mkdocs", "properdocs", "zensical"), default="mkdocs")
        if name == "build":
            p.add_argument("--site-dir", help="where to write the site (default: site)")
            p.add_argument("--strict", action="store_true", help="(zensical) fail on warnings too")
            p.set_defaults(func=cmd_build)
        else:
            p.add_argument("-a", "--dev-addr", help="address to serve on (default: 127.0.0.1:8000)")
            p.set_defaults(func=cmd_serve)
    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The command: :func:`main`, then exit without the collector's passes over everything
    imported as the interpreter shuts down (about 15 ms of a 300 ms check); what
    finalizers and exit handlers do is kept."""
    code = main()
    import gc

    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
