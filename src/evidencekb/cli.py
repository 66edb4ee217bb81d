"""The ``evidencekb`` command: the build's checks without building the site."""

from __future__ import annotations

import argparse
import json
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
    bib = bibmod.load(paths, root)
    out = list(bib.diagnostics) + bibmod.lint(bib)
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
    for key, entry in bib.entries.items():
        if key not in cited:
            out.append(diag(entry.path, entry.line, 1, "uncited-entry", f"no page cites '{key}'."))
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="evidencekb", description="Check the evidence knowledge base.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="run every check on references/ and docs/ without building the site",
                       description="Run every check on references/ and docs/ without building the site. "
                                   "Exit 0 when clean, 1 on errors (warnings too with --strict).")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--root", default=".", help="project folder holding mkdocs.yml (default: .)")
    p.set_defaults(func=cmd_check)
    args = ap.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
