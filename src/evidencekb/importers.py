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
           "assign_keys", "to_bibtex", "fetch_doi"]


class ImportError_(ValueError):
    """A file that cannot be imported; the message names the file and line."""


@dataclass
class Record:
    type: str
    fields: dict[str, str] = field(default_factory=dict)
    source: str = ""
    key: str = ""


_RIS_TYPES = {"JOUR": "article", "JFULL": "article", "EJOUR": "article", "BOOK": "book", "CHAP": "incollection",
              "CONF": "inproceedings", "CPAPER": "inproceedings", "THES": "phdthesis", "RPRT": "techreport",
              "ELEC": "online", "WEB": "online"}
_CSL_TYPES = {"article-journal": "article", "article": "article", "book": "book", "chapter": "incollection",
              "paper-conference": "inproceedings", "thesis": "phdthesis", "report": "techreport",
              "webpage": "online"}


def _join_authors(names: Iterable[str]) -> str:
    return " and ".join(n for n in names if n.strip())


def _pages(start: str, end: str) -> str:
    return f"{start}--{end}" if start and end else start


def parse_ris(text: str, source: str) -> list[Record]:
    out: list[Record] = []
    cur: dict[str, list[str]] | None = None
    start_line = 0
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if not m:
            if line.strip() and cur is None:
                raise ImportError_(f"{source}:{n}: not an RIS line; RIS lines look like 'TY  - JOUR'.")
            continue
        tag, value = m.group(1), m.group(2).strip()
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
    f["doi"] = re.sub(r"^https?://(dx\.)?doi\.org/", "", one("DO"))
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
                f["doi"] = aid.replace("[doi]", "").strip()
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
        if not isinstance(it, dict):
            raise ImportError_(f"{source}:1: item {i + 1} is not a CSL-JSON object.")
        names = []
        for a in it.get("author", []):
            if "literal" in a:
                names.append("{" + a["literal"] + "}")
            else:
                fam = " ".join(x for x in (a.get("non-dropping-particle"), a.get("family")) if x)
                names.append(f"{fam}, {a.get('given', '')}".strip(", "))
        issued = (it.get("issued") or {}).get("date-parts") or [[]]
        f = {
            "author": _join_authors(names), "title": it.get("title", ""),
            "journal": it.get("container-title", ""), "shortjournal": it.get("container-title-short", ""),
            "year": str(issued[0][0]) if issued and issued[0] else "", "volume": str(it.get("volume", "")),
            "number": str(it.get("issue", "")), "pages": str(it.get("page", "")).replace("-", "--"),
            "doi": it.get("DOI", ""), "pmid": str(it.get("PMID", "")), "pmcid": it.get("PMCID", ""),
            "url": it.get("URL", ""), "publisher": it.get("publisher", ""), "abstract": it.get("abstract", ""),
        }
        out.append(Record(_CSL_TYPES.get(it.get("type", ""), "misc"), {k: v for k, v in f.items() if v},
                          f"{source}:item {i + 1}"))
    return out


def parse_bibtex(text: str, source: str) -> list[Record]:
    from .bibliography import load_text

    bib = load_text([(source, text)])
    if bib.diagnostics:
        d = bib.diagnostics[0]
        raise ImportError_(f"{d.path}:{d.line}: {d.message}")
    return [Record(e.type, dict(e.fields), f"{source}:{e.line}", "") for e in bib.entries.values()]


def read_file(path: Path) -> list[Record]:
    text = path.read_text(encoding="utf-8-sig")
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
    return surname + (rec.fields.get("year", "") or "nd")


def assign_keys(records: list[Record], existing: Bibliography) -> None:
    """House keys with a/b suffixes; refuse duplicate DOIs and PMIDs (in the library or the import)."""
    taken = {k.lower() for k in existing.entries}
    by_doi = {e.fields["doi"].lower(): k for k, e in existing.entries.items() if e.fields.get("doi")}
    by_pmid = {e.fields["pmid"]: k for k, e in existing.entries.items() if e.fields.get("pmid")}
    for rec in records:
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


def _escape(value: str) -> str:
    value = value.replace("\\", "\\textbackslash ").replace("%", "\\%").replace("&", "\\&").replace("#", "\\#")
    return value.replace("{", "(").replace("}", ")") if value.count("{") != value.count("}") else value


def to_bibtex(records: list[Record]) -> str:
    from .bibfmt import entries_text

    # Values from RIS, MEDLINE and CSL-JSON are plain text: escape what BibTeX would read as markup.
    return entries_text((rec.type, rec.key, {k: v if k == "author" else _escape(v) for k, v in rec.fields.items()})
                        for rec in records)


def fetch_doi(doi: str, resolver: str = "https://doi.org/", timeout: float = 20) -> str:
    """BibTeX for a DOI by content negotiation. Raises ImportError_ with a clear reason."""
    doi = re.sub(r"^https?://(dx\.)?doi\.org/", "", doi.strip())
    if not re.match(r"^10\.\d{4,9}/\S+$", doi):
        raise ImportError_(f"'{doi}' is not a DOI; a DOI looks like 10.1234/abc.")
    req = urllib.request.Request(resolver.rstrip("/") + "/" + doi, headers={"Accept": "application/x-bibtex"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) resolver only
            text: str = resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise ImportError_(f"the DOI resolver answered {exc.code} for {doi}: is the DOI right?") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ImportError_(f"cannot reach the DOI resolver ({resolver}) for {doi}: are you offline? ({exc})") from exc
    if not _parse_file(text).entries:
        raise ImportError_(f"the DOI resolver did not return BibTeX for {doi}.")
    return text
