"""The Zensical path: check, stage, build. Zensical runs Python-Markdown extensions but no
MkDocs plugins, so what the plugin does inside an MkDocs build is done here around it.

:func:`stage` runs the site stage into a folder of its own (``.cache/evidencekb/zensical``):
the docs, with claim pages, the article and the claims index as the plugin shows them, the
generated pages and files, our assets, and an ``mkdocs.yml`` derived from the project's
(docs and site inside the folder, the evidencekb extension configured with the library's
absolute paths, claim pages in the navigation). The repository stays clean. Zensical then
builds the staged folder; the site is copied to the requested ``site_dir`` with
``claims.json``. :func:`serve` restages whenever the docs, the claims, the screening logs or
the library change, and Zensical's own server rebuilds and reloads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .claims import split_front_matter
from .diagnostics import ORDER, Diagnostic, Severity
from .safe import CLAIM_BOOST, TABS_EXTENSION, front_matter
from .site import Project, Site, config_loader, formatters

__all__ = ["stage", "build", "serve", "staging_dir", "EngineError"]

ASSETS = ("evidencekb.css", "evidencekb.js")


class EngineError(RuntimeError):
    """Zensical is missing or failed; the message says what to do."""


def staging_dir(root: Path) -> Path:
    return root / ".cache" / "evidencekb" / "zensical"


def _write_if_changed(path: Path, text: str) -> bool:
    """Write only what changed, so that a watching server rebuilds only what it must."""
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` only where they differ (as :func:`_write_if_changed`)."""
    if not target.exists() or target.stat().st_size != source.stat().st_size or target.read_bytes() != source.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _config(project: Project, claims: list[str]) -> dict[str, Any]:
    """The staged configuration: the project's own, pointed at the staged docs."""

    data = yaml.load((project.root / "mkdocs.yml").read_text(encoding="utf-8"), Loader=config_loader()) or {}
    opts = project.options
    data["docs_dir"] = "docs"
    data["site_dir"] = "site"
    data["plugins"] = [p for p in data.get("plugins") or []
                       if not (p == "evidencekb" or (isinstance(p, dict) and "evidencekb" in p))]
    ext_conf = {"bibliography": [str((project.root / b).resolve()) for b in opts.bibliography],
                "style": opts.style if not opts.style.endswith(".csl") else str((project.root / opts.style).resolve()),
                "references_title": opts.references_title,
                "cache": str((project.root / ".cache" / "evidencekb").resolve()) if opts.cache else ""}
    exts = []
    for e in data.get("markdown_extensions") or []:
        name = e if isinstance(e, str) else next(iter(e)) if isinstance(e, dict) and e else None
        if name == "evidencekb":
            continue
        if name == "pymdownx.snippets" and isinstance(e, dict):  # its paths stay the project's
            conf = dict(e[name] or {})
            for k in ("base_path", "auto_append"):
                if k == "base_path" and conf.get(k):
                    paths = conf[k] if isinstance(conf[k], list) else [conf[k]]
                    conf[k] = [str((project.root / p).resolve()) for p in paths]
            e = {name: conf}
        exts.append(e)
    exts.append({"evidencekb": ext_conf})
    tabbed, settings = TABS_EXTENSION
    if not any(e == tabbed or (isinstance(e, dict) and tabbed in e) for e in exts):
        exts.append({tabbed: dict(settings)})  # generated pages' tabs of copyable references
    data["markdown_extensions"] = exts
    for key, asset in (("extra_css", "assets/evidencekb.css"), ("extra_javascript", "assets/evidencekb.js")):
        lst = list(data.get(key) or [])
        if asset not in lst:
            lst.append(asset)
        data[key] = lst
    index = f"{opts.claims_dir.strip('/')}/index.md"

    def visit(items: Any) -> bool:
        for item in items if isinstance(items, list) else []:
            for v in (item.values() if isinstance(item, dict) else [item]):
                if isinstance(v, list):
                    targets = [x if isinstance(x, str) else next(iter(x.values()), None) if isinstance(x, dict) else None
                               for x in v]
                    if index in targets:
                        v.extend(p for p in claims if p not in targets)
                        return True
                    if visit(v):
                        return True
        return False

    if data.get("nav"):
        visit(data["nav"])
    return data


def stage(project: Project, site: Site | None = None, out: Path | None = None) -> tuple[Path, Site]:
    """Lay the site out for Zensical; returns the staged mkdocs.yml and the loaded site."""
    from .cache import default_dir

    cache_dir = default_dir(project.root) if project.options.cache else None
    site = site or Site.load(project, cache_dir, source_links=True)
    fmt = formatters(cache_dir)
    site.prefetch(fmt)
    out = out or staging_dir(project.root)
    docs_out = out / "docs"
    written: set[Path] = set()

    def put(rel: str, text: str | Path) -> None:
        path = docs_out / rel
        if isinstance(text, Path):  # a file the cache keeps
            _copy_if_changed(text, path)
        else:
            _write_if_changed(path, text)
        written.add(path)

    docs = project.docs_dir
    for p in sorted(docs.rglob("*")) if docs.is_dir() else []:
        if not p.is_file():
            continue
        rel = p.relative_to(docs).as_posix()
        if p.suffix != ".md":
            target = docs_out / rel
            _copy_if_changed(p, target)
            written.add(target)
            continue
        text = p.read_bytes().decode("utf-8-sig", errors="replace")
        front, body, _ = split_front_matter(text)
        title = site.page_title(rel)
        if title is not None:  # a claim page: its record is not Zensical's business
            c = site.claim_for(rel)
            head = front_matter(title=title, **({"description": c.description} if c and c.description else {}),
                                search={"boost": CLAIM_BOOST})
        else:
            head = f"---\n{front}---\n" if front else ""
        put(rel, head + site.page_markdown(rel, body, fmt))
    for rel, text in site.generated(fmt).items():
        put(rel, text)
    for asset in ASSETS:
        put(f"assets/{asset}", resources.files("evidencekb").joinpath(f"assets/{asset}").read_text(encoding="utf-8"))
    for p in sorted(docs_out.rglob("*"), reverse=True) if docs_out.exists() else []:
        if p.is_file() and p not in written:
            p.unlink()  # a page removed from the docs leaves the staged site too
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    claims = [f"{project.options.claims_dir.strip('/')}/{c.slug}.md" for c in site.claims]
    config = out / "mkdocs.yml"
    data = _config(project, claims)
    data["copyright"] = site.footer(str(data.get("copyright") or ""))
    _write_if_changed(config, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    fmt.save(site.bib.entries)
    return config, site


def _zensical() -> list[str]:
    try:
        import zensical  # noqa: F401
    except ImportError:
        raise EngineError("Zensical is not installed: pip install 'evidencekb[zensical]' (or pip install zensical)."
                          ) from None
    return [sys.executable, "-m", "zensical"]


def report(diags: list[Diagnostic], out: Any = sys.stderr) -> int:
    """Print diagnostics as the MkDocs build does; return the number of errors."""
    errors = 0
    for d in sorted(set(diags), key=ORDER):
        if d.severity == Severity.ERROR:
            errors += 1
            print(f"ERROR   -  evidencekb: {d.path}:{d.line}:{d.col}: {d.code}: {d.message}", file=out)
        else:
            print(f"INFO    -  evidencekb: {d.path}:{d.line}:{d.col}: {d.code}: {d.message}", file=out)
    return errors


def build(project: Project, site_dir: Path | None = None, strict: bool = False) -> int:
    """Check, stage and build with Zensical; 1 on any error (or warning with ``strict``)."""
    from .cache import default_dir

    site = Site.load(project, default_dir(project.root) if project.options.cache else None, source_links=True)
    diags = site.check()
    errors = report(diags)
    if errors or (strict and diags):
        print(f"evidencekb: {errors} error(s), {len(diags) - errors} warning(s); the site was not built.",
              file=sys.stderr)
        return 1
    config, site = stage(project, site)
    proc = subprocess.run([*_zensical(), "build", "-f", str(config)], cwd=project.root)
    if proc.returncode:
        return proc.returncode
    built = config.parent / "site"
    target = (site_dir or project.root / "site").resolve()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(built, target)
    (target / "claims.json").write_text(site.claims_json(formatters(None)), encoding="utf-8")
    return 0


def _sources(project: Project) -> Iterator[Path]:
    opts = project.options
    roots = [project.docs_dir, project.root / opts.screening_dir, project.root / "mkdocs.yml",
             project.root / opts.risk_of_bias, project.root / opts.mcid]
    roots += [project.root / b for b in opts.bibliography]
    for r in roots:
        if r.is_dir():
            yield from (p for p in r.rglob("*") if p.is_file())
        elif r.exists():
            yield r


def _stamp(project: Project) -> tuple[tuple[str, int, int], ...]:
    out = []
    for p in _sources(project):
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


def serve(project: Project, dev_addr: str | None = None, interval: float = 1.0) -> int:
    """Stage, then run Zensical's server; restage whenever a source changes."""
    cmd = _zensical()
    config, site = stage(project)
    report(site.check())
    stop = threading.Event()

    def watch() -> None:
        last = _stamp(project)
        while not stop.wait(interval):
            now = _stamp(project)
            if now != last:
                last = now
                try:
                    _, fresh = stage(project)
                    report(fresh.check())
                except Exception as exc:  # keep serving; say what went wrong
                    print(f"evidencekb: could not restage the site: {exc}", file=sys.stderr)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    args = [*cmd, "serve", "-f", str(config)] + (["-a", dev_addr] if dev_addr else [])
    try:
        return subprocess.run(args, cwd=project.root).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
