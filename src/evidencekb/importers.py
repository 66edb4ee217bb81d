"""Import references from the exports Zotero, PubMed and Mendeley produce.

BibTeX, RIS, PubMed/MEDLINE (``.nbib``) and CSL-JSON become BibTeX entries with
keys in the house form (first author's surname + year, a/b on a clash). A
duplicate DOI or PMID is refused with the key that already holds it.
"""

from __future__ import annotations

import json
import re
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .bibliography import Bibliography, _parse_file

__all__ = ["Record", "ImportError_", "read_file", "parse_ris", "parse_nbib", "parse_csl_json", "parse_bibtex",
           "assign_keys", "to_bibtex", "check_records", "fetch_doi"]


class ImportError_(ValueError):
    """A file that cannot be imported; the message names the file and line."""


@dataclass
class Record:
    """One imported reference. ``fields`` are plain text (RIS, MEDLINE, CSL-JSON), with the
    author list already in BibTeX form, unless ``latex`` (read from BibTeX, kept as it was)."""

    type: str
    fields: dict[str, str] = field(default_factory=dict)
    source: str = ""
    key: str = ""
    latex: bool = False


_RIS_TYPES = {"JOUR": "article", "JFULL": "article", "EJOUR": "article", "BOOK": "book", "CHAP": "incollection",
              "CONF": "inproceedings", "CPAPER": "inproceedings", "THES": "phdthesis", "RPRT": "techreport",
              "ELEC": "online", "WEB": "online"}
_CSL_TYPES = {"article-journal": "article", "article": "article", "book": "book", "chapter": "incollection",
              "paper-conference": "inproceedings", "thesis": "phdthesis", "report": "techreport",
              "webpage": "online"}


def _join_authors(names: Iterable[str]) -> str:
    """Plain-text names ("Family, Given") as a BibTeX name list: each escaped, and a name
    holding the word 'and' braced so that it stays one name."""
    out = []
    for n in names:
        n = re.sub(r"\s+", " ", n).strip()
        if not n:
            continue
        e = _escape(n)
        out.append("{" + e + "}" if re.search(r"\band\b", n, re.I) else e)
    return " and ".join(out)


def _doi(value: str) -> str:
    """A DOI without a resolver prefix (https://doi.org/, doi:)."""
    return re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", value.strip(), flags=re.I)


def _pages(start: str, end: str) -> str:
    return f"{start}--{end}" if start and end else start


def parse_ris(text: str, source: str) -> list[Record]:
    """RIS records; a line without a tag inside a record continues the field before it (an
    abstract wrapped by the exporting program), outside one it is an error."""
    out: list[Record] = []
    cur: dict[str, list[str]] | None = None
    start_line, last = 0, "TY"
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if not m:
            if line.strip() and cur is None:
                raise ImportError_(f"{source}:{n}: not an RIS line; RIS lines look like 'TY  - JOUR'.")
            if line.strip() and cur is not None:
                cur[last][-1] = (cur[last][-1] + " " + line.strip()).strip()
            continue
        tag, value = m.group(1), m.group(2).strip()
        last = tag
        if tag == "TY":
            cur, start_line = {"TY": [value]}, n
        elif cur is None:
            raise ImportError_(f"{source}:{n}: '{tag}' before the first 'TY  -' line.")
        elif tag == "ER":
            out.append(_ris_record(cur, f"{source}:{start_line}"))
            cur = None
        else:
            cur.setdefault(tag, []).append(value)
    if cur is not None:
        raise ImportError_(f"{source}:{start_line}: record has no closing 'ER  -' line.")
    return out


def _ris_record(d: dict[str, list[str]], where: str) -> Record:
    def one(*tags: str) -> str:
        for t in tags:
            if d.get(t):
                return d[t][0]
        return ""

    f: dict[str, str] = {}
    f["author"] = _join_authors(d.get("AU", []) + d.get("A1", []))
    f["title"] = one("TI", "T1")
    f["journal"] = one("JO", "JF", "T2")
    f["shortjournal"] = one("J2", "JA")
    year = re.match(r"\d{4}", one("PY", "Y1", "DA"))
    f["year"] = year.group(0) if year else ""
    f["volume"], f["number"] = one("VL"), one("IS")
    f["pages"] = _pages(one("SP"), one("EP"))
    f["doi"] = _doi(one("DO"))
    f["url"], f["abstract"], f["publisher"] = one("UR"), one("AB", "N2"), one("PB")
    for an in d.get("AN", []):
        if an.isdigit():
            f["pmid"] = an
    return Record(_RIS_TYPES.get(one("TY"), "misc"), {k: v for k, v in f.items() if v}, where)


def parse_nbib(text: str, source: str) -> list[Record]:
    """PubMed's MEDLINE format: 'TAG - value' with 6-space continuation lines."""
    records: list[tuple[int, list[tuple[str, str]]]] = []
    cur: list[tuple[str, str]] = []
    start = 1
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if cur:
                records.append((start, cur))
                cur = []
            continue
        m = re.match(r"^([A-Z]{2,4})\s*- (.*)$", line)
        if m:
            if not cur:
                start = n
            cur.append((m.group(1), m.group(2).strip()))
        elif line.startswith("      ") and cur:
            tag, value = cur[-1]
            cur[-1] = (tag, value + " " + line.strip())
        else:
            raise ImportError_(f"{source}:{n}: not a MEDLINE line; lines look like 'PMID- 12345'.")
    if cur:
        records.append((start, cur))
    out = []
    for start, tags in records:
        d: dict[str, list[str]] = {}
        for t, v in tags:
            d.setdefault(t, []).append(v)
        f: dict[str, str] = {}
        f["author"] = _join_authors(d.get("FAU", []) or d.get("AU", []))
        f["title"] = (d.get("TI") or [""])[0].rstrip(".")
        f["journal"] = (d.get("JT") or [""])[0]
        f["shortjournal"] = (d.get("TA") or [""])[0]
        y = re.match(r"\d{4}", (d.get("DP") or [""])[0])
        f["year"] = y.group(0) if y else ""
        f["volume"], f["number"] = (d.get("VI") or [""])[0], (d.get("IP") or [""])[0]
        pg = (d.get("PG") or [""])[0]
        m = re.match(r"^(\w+)-(\w+)$", pg)
        if m and len(m.group(2)) < len(m.group(1)):
            pg = m.group(1) + "--" + m.group(1)[: len(m.group(1)) - len(m.group(2))] + m.group(2)
        f["pages"] = pg.replace("-", "--") if "--" not in pg else pg
        f["pmid"] = (d.get("PMID") or [""])[0]
        for aid in d.get("AID", []) + d.get("LID", []):
            if aid.endswith("[doi]"):
                f["doi"] = _doi(aid.replace("[doi]", ""))
            if aid.endswith("[pmc]"):
                f["pmcid"] = aid.replace("[pmc]", "").strip()
        f["pmcid"] = f.get("pmcid") or (d.get("PMC") or [""])[0]
        f["abstract"] = (d.get("AB") or [""])[0]
        out.append(Record("article", {k: v for k, v in f.items() if v}, f"{source}:{start}"))
    return out


def parse_csl_json(text: str, source: str) -> list[Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportError_(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}.") from exc
    items = data if isinstance(data, list) else [data]
    out = []
    for i, it in enumerate(items):
        where = f"{source}: item {i + 1}"
        if not isinstance(it, dict):
            raise ImportError_(f"{where} is not a CSL-JSON object.")

        def text_of(name: str, it: dict[str, object] = it, where: str = where) -> str:
            v = it.get(name, "")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return str(v)
            if not isinstance(v, str):
                raise ImportError_(f"{where}: '{name}' must be text, not {type(v).__name__}.")
            return v

        names = []
        authors = it.get("author", [])
        if not isinstance(authors, list):
            raise ImportError_(f"{where}: 'author' must be a list of names, not {type(authors).__name__}.")
        for a in authors:
            if not isinstance(a, dict):
                raise ImportError_(f"{where}: each author must be an object with family and given names.")
            parts = {k: a.get(k) for k in ("literal", "non-dropping-particle", "family", "given")}
            if any(v is not None and not isinstance(v, str) for v in parts.values()):
                raise ImportError_(f"{where}: author name parts must be text.")
            if parts["literal"]:
                names.append("{" + _escape(parts["literal"]) + "}")
                continue
            fam = " ".join(x for x in (parts["non-dropping-particle"], parts["family"]) if x)
            names.append(_join_authors([f"{fam}, {parts['given'] or ''}".strip(", ")]))
        issued = it.get("issued")
        year = ""
        if issued is not None:
            if not isinstance(issued, dict):
                raise ImportError_(f"{where}: 'issued' must be an object with date-parts, not {type(issued).__name__}.")
            parts_ = issued.get("date-parts")
            if parts_ is not None:
                if not (isinstance(parts_, list) and parts_ and isinstance(parts_[0], list)):
                    raise ImportError_(f"{where}: 'issued' date-parts must be [[year, month, day]].")
                first = parts_[0][0] if parts_[0] else None
                if first is not None:
                    if isinstance(first, bool) or not isinstance(first, (int, str)) or not str(first).strip().isdigit():
                        raise ImportError_(f"{where}: the year in 'issued' must be a number, not {first!r}.")
                    year = str(int(str(first).strip()))
            else:
                raw = issued.get("raw") or issued.get("literal")
                m = re.search(r"\b(\d{4})\b", raw) if isinstance(raw, str) else None
                year = m.group(1) if m else ""
        f = {
            "author": " and ".join(names), "title": text_of("title"),
            "journal": text_of("container-title"), "shortjournal": text_of("container-title-short"),
            "year": year, "volume": text_of("volume"), "number": text_of("issue"),
            "pages": re.sub(r"\s*[-–—]+\s*", "--", text_of("page")), "doi": _doi(text_of("DOI")),
            "pmid": text_of("PMID"), "pmcid": text_of("PMCID"), "url": text_of("URL"),
            "publisher": text_of("publisher"), "abstract": text_of("abstract"),
        }
        out.append(Record(_CSL_TYPES.get(str(it.get("type", "")), "misc"), {k: v for k, v in f.items() if v}, where))
    return out


def parse_bibtex(text: str, source: str) -> list[Record]:
    from .bibliography import load_text

    bib = load_text([(source, text)])
    if bib.diagnostics:
        d = bib.diagnostics[0]
        raise ImportError_(f"{d.path}:{d.line}: {d.message}")
    return [Record(e.type, dict(e.fields), f"{source}:{e.line}", "", latex=True) for e in bib.entries.values()]


def read_file(path: Path) -> list[Record]:
    if path.is_dir():
        raise ImportError_(f"{path}: is a folder; give an export file.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportError_(f"{path}:{line}: not UTF-8 text; export it as UTF-8.") from None
    suffix = path.suffix.lower()
    if suffix in (".ris", ".txt") and re.search(r"^TY  - ", text, re.M):
        return parse_ris(text, str(path))
    if suffix in (".nbib", ".medline") or re.match(r"^PMID- ", text):
        return parse_nbib(text, str(path))
    if suffix == ".json":
        return parse_csl_json(text, str(path))
    if suffix == ".bib" or text.lstrip().startswith("@"):
        return parse_bibtex(text, str(path))
    raise ImportError_(f"{path}:1: unknown format; use .bib, .ris, .nbib (PubMed) or CSL .json.")


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum()).lower()


def house_key(rec: Record) -> str:
    from pybtex.database import Person

    from . import latex

    first = re.split(r"\s+and\s+", rec.fields.get("author", "").strip())[0] if rec.fields.get("author") else ""
    surname = "anon"
    if first:
        if first.startswith("{") and first.endswith("}"):
            surname = first[1:-1].split()[0]
        else:
            p = Person(first)
            surname = "".join(p.prelast_names + p.last_names)
        surname = _ascii(latex.decode(surname)) or "anon"
    year = re.match(r"\d{4}", latex.decode(rec.fields.get("year", "")))
    return surname + (year.group(0) if year else "nd")


def assign_keys(records: list[Record], existing: Bibliography) -> None:
    """House keys with a/b suffixes; refuse duplicate DOIs and PMIDs (in the library or the import)."""
    taken = {k.lower() for k in existing.entries}
    by_doi = {e.fields["doi"].lower(): k for k, e in existing.entries.items() if e.fields.get("doi")}
    by_pmid = {e.fields["pmid"]: k for k, e in existing.entries.items() if e.fields.get("pmid")}
    for rec in records:
        if rec.fields.get("doi"):
            rec.fields["doi"] = _doi(rec.fields["doi"])
        doi, pmid = rec.fields.get("doi", "").lower(), rec.fields.get("pmid", "")
        if doi and doi in by_doi:
            raise ImportError_(f"{rec.source}: DOI {rec.fields['doi']} is already in the library as '{by_doi[doi]}'.")
        if pmid and pmid in by_pmid:
            raise ImportError_(f"{rec.source}: PMID {pmid} is already in the library as '{by_pmid[pmid]}'.")
        base = house_key(rec)
        key, suffix = base, 0
        while key.lower() in taken:
            key = base + "abcdefghijklmnopqrstuvwxyz"[suffix]
            suffix += 1
        rec.key = key
        taken.add(key.lower())
        if doi:
            by_doi[doi] = key
        if pmid:
            by_pmid[pmid] = key


_SPECIAL = {"\\": "\\textbackslash{}", "{": "\\textbraceleft{}", "}": "\\textbraceright{}", "%": "\\%",
            "&": "\\&", "#": "\\#", "$": "\\$", "_": "\\_", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}"}
_SPECIAL_RE = re.compile(r"[\\{}%&#$_~^]")


def _escape(value: str) -> str:
    """Plain text as a BibTeX value: every character BibTeX or LaTeX reads as markup escaped
    (so no value can close its braces and start another field), white space on one line."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], re.sub(r"\s+", " ", value).strip())


def to_bibtex(records: list[Record]) -> str:
    from .bibfmt import entries_text

    # Values from RIS, MEDLINE and CSL-JSON are plain text: escape what BibTeX would read as markup.
    return entries_text((rec.type, rec.key, rec.fields if rec.latex else
                         {k: v if k == "author" else _escape(v) for k, v in rec.fields.items()})
                        for rec in records)


def check_records(text: str, records: list[Record]) -> None:
    """Refuse an import whose BibTeX would not load cleanly: nothing half-imported."""
    from .bibliography import lint, load_text

    bib = load_text([("import", text)])
    broken = {"bib-syntax", "bib-bad-key", "bib-duplicate-key", "bib-duplicate-field", "bib-unknown-string",
              "bib-bad-identifier", "bib-bad-year"}
    problems = [d for d in bib.diagnostics + lint(bib) if d.code in broken]
    if len(bib.entries) != len(records):
        problems = problems or [None]  # type: ignore[list-item]
    if problems:
        d = problems[0]
        detail = d.message if d is not None else "an entry was lost"
        raise ImportError_(f"the imported references would not load cleanly ({detail}); nothing was added.")


def fetch_doi(doi: str, resolver: str = "https://doi.org/", timeout: float = 20) -> str:
    """BibTeX for a DOI by content negotiation. Raises ImportError_ with a clear reason."""
    doi = re.sub(r"^https?://(dx\.)?doi\.org/", "", doi.strip())
    if not re.match(r"^10\.\d{4,9}/\S+$", doi):
        raise ImportError_(f"'{doi}' is not a DOI; a DOI looks like 10.1234/abc.")
    req = urllib.request.Request(resolver.rstrip("/") + "/" + doi, headers={"Accept": "application/x-bibtex"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text: str = resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise ImportError_(f"the DOI resolver answered {exc.code} for {doi}: is the DOI right?") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ImportError_(f"cannot reach the DOI resolver ({resolver}) for {doi}: are you offline? ({exc})") from exc
    if not _parse_file(text).entries:
        raise ImportError_(f"the DOI resolver did not return BibTeX for {doi}.")
    return text
