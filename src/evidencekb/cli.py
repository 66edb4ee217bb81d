"""The ``evidencekb`` command: the build's checks without building the site."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from . import bibliography as bibmod
from . import checks
from .citations import scan
from .claims import load_claims
from .diagnostics import Diagnostic, Severity, diag


def _plugin_options(config_file: Path) -> dict[str, object]:
    """The evidencekb plugin's options from mkdocs.yml (tolerating !!python tags)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    data = yaml.load(config_file.read_text(encoding="utf-8"), Loader=Loader) or {}
    for plugin in data.get("plugins") or []:
        if isinstance(plugin, dict) and "evidencekb" in plugin:
            return dict(plugin["evidencekb"] or {}) | {"docs_dir": data.get("docs_dir", "docs")}
    return {"docs_dir": data.get("docs_dir", "docs")}


def run_checks(root: Path) -> list[Diagnostic]:
    """Every check the build runs, on references/ and docs/, without building."""
    opts = _plugin_options(root / "mkdocs.yml") if (root / "mkdocs.yml").exists() else {}
    docs_dir = str(opts.get("docs_dir", "docs"))
    paths = bibmod.find_bib_files(root, opts.get("bibliography", ["references"]))  # type: ignore[arg-type]
    from .cache import default_dir, load_library

    bib = load_library(paths, root, default_dir(root))
    out = list(bib.diagnostics)
    docs = root / docs_dir
    claims, problems = load_claims(docs, str(opts.get("claims_dir", "claims")), bib.entries, docs_dir)
    out += problems
    article_file = docs / str(opts.get("article", "article.md"))
    article = checks.article_text(article_file.read_text(encoding="utf-8-sig")) if article_file.exists() else None
    out += checks.check_all(claims, bib, article, f"{docs_dir}/{opts.get('article', 'article.md')}")
    cited = {it.ref for c in claims for it in c.evidence}
    for p in sorted(docs.rglob("*.md")):
        text = p.read_text(encoding="utf-8-sig", errors="replace")
        display = p.relative_to(root).as_posix()
        for cl in scan(text):
            for key in cl.keys:
                cited.add(key)
                if key not in bib.entries:
                    out.append(diag(display, cl.line, cl.col, "unknown-citation",
                                    f"'@{key}' is not a key in any .bib file.{bib.suggest(key)}"))
    entries = bib.entries
    for key in entries:
        if key not in cited:
            path, line = entries.place(key) if isinstance(entries, bibmod.LazyEntries) else (
                entries[key].path, entries[key].line)
            out.append(diag(path, line, 1, "uncited-entry", f"no page cites '{key}'."))
    return sorted(set(out))


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
    else:
        for d in diags:
            print(d)
        print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def cmd_fmt(args: argparse.Namespace) -> int:
    from .bibfmt import diff, format_text, write_atomic

    root = Path(args.root).resolve()
    opts = _plugin_options(root / "mkdocs.yml") if (root / "mkdocs.yml").exists() else {}
    files = [Path(f) for f in args.files] or bibmod.find_bib_files(
        root, opts.get("bibliography", ["references"]))  # type: ignore[arg-type]
    changed = 0
    for path in files:
        old = path.read_text(encoding="utf-8-sig")
        new = format_text(old, sort=args.sort)
        if new == old.replace("\r\n", "\n"):
            continue
        changed += 1
        if args.check:
            sys.stdout.write(diff(str(path), old, new))
        else:
            write_atomic(path, new)
            print(f"formatted {path}")
    if args.check and changed:
        print(f"{changed} file(s) would be reformatted; run 'evidencekb fmt'.")
        return 1
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from .bibfmt import format_text, write_atomic
    from .importers import ImportError_, Record, assign_keys, fetch_doi, parse_bibtex, read_file, to_bibtex

    root = Path(args.root).resolve()
    opts = _plugin_options(root / "mkdocs.yml") if (root / "mkdocs.yml").exists() else {}
    bib = bibmod.load(bibmod.find_bib_files(root, opts.get("bibliography", ["references"])), root)  # type: ignore[arg-type]
    target = Path(args.to) if args.to else root / "references" / "imported.bib"
    try:
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
    except (ImportError_, OSError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    old = target.read_text(encoding="utf-8-sig") if target.exists() else ""
    text = format_text((old.rstrip() + "\n\n" if old.strip() else "") + to_bibtex(records))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    for r in records:
        print(f"added {r.key} to {target}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from .pages import slug_title

    root = Path(args.root).resolve()
    opts = _plugin_options(root / "mkdocs.yml") if (root / "mkdocs.yml").exists() else {}
    docs = root / str(opts.get("docs_dir", "docs"))
    article_file = docs / str(opts.get("article", "article.md"))
    quote = args.quote or args.text
    if article_file.exists():
        from .quotes import closest, find

        article = checks.article_text(article_file.read_text(encoding="utf-8-sig"))
        if find(quote, article) is None:
            print(f"error: the quote is not verbatim in {article_file.relative_to(root)}; pass --quote with the "
                  f"article's exact words. Closest passage: \"{closest(quote, article)}\"", file=sys.stderr)
            return 1
    slug = args.slug or slug_title(args.text)
    path = docs / str(opts.get("claims_dir", "claims")) / f"{slug}.md"
    if path.exists():
        print(f"error: {path.relative_to(root)} already exists; choose another --slug.", file=sys.stderr)
        return 1
    import datetime as dt

    today = dt.date.today().isoformat()
    record = {
        "claim": args.text, "quote": quote, "topic": args.topic, "verdict": "untested", "certainty": "very-low",
        "clients": "", "practice": "", "evidence": [], "reviewed": today, "override": None,
        "history": [{"date": today, "change": "Page created.", "reason": "New claim."}],
    }
    body = "---\n" + yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100) + "---\n\n" \
        "Discuss the evidence here, citing it as [@key].\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    from .bibfmt import write_atomic

    write_atomic(path, body)
    print(f"created {path.relative_to(root)}")
    return 0


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
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
