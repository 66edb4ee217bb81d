"""Living updates: re-run each claim's stored PubMed search, and check the library's metadata.

``evidencekb search`` runs every search recorded with source ``pubmed`` through
NCBI's E-utilities (esearch with the stored terms, from the day it was last run
to today, then esummary) and lists the records the claim's screening log does
not hold yet; with ``--add`` they become "unscreened" rows of the log.

``evidencekb verify`` looks each entry's DOI up in the Crossref works API and
its PMID in esummary, and reports field by field where the library disagrees
(title, first author, year, journal, volume, first page), and any retraction
either service reports.

Both keep to NCBI's rate limit (3 requests a second, 10 with an API key from
``NCBI_API_KEY``), retry politely on 429 and 5xx answers, go through the proxy
the environment names (``HTTPS_PROXY``), and fail with a clear message offline.
The addresses can be changed (``EVIDENCEKB_EUTILS``, ``EVIDENCEKB_CROSSREF``):
the tests answer from a local server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .bibliography import Entry
from .diagnostics import Diagnostic, diag

__all__ = ["NetworkError", "Client", "Found", "search_claim", "verify_entry", "EUTILS", "CROSSREF"]

EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
CROSSREF = "https://api.crossref.org/"
USER_AGENT = "evidencekb (https://github.com/; evidence knowledge base; mailto:{email})"


class NetworkError(RuntimeError):
    """A service could not be reached or answered with an error; the message says what to do."""


class Client:
    """HTTP GET of JSON with a rate limit, polite retries and clear errors."""

    def __init__(self, eutils: str | None = None, crossref: str | None = None, api_key: str | None = None,
                 email: str | None = None, timeout: float = 30, retries: int = 3, sleep: Any = time.sleep) -> None:
        self.eutils = (eutils or os.environ.get("EVIDENCEKB_EUTILS") or EUTILS).rstrip("/") + "/"
        self.crossref = (crossref or os.environ.get("EVIDENCEKB_CROSSREF") or CROSSREF).rstrip("/") + "/"
        self.api_key = api_key if api_key is not None else os.environ.get("NCBI_API_KEY", "")
        self.email = email if email is not None else os.environ.get("EVIDENCEKB_EMAIL", "")
        self.timeout, self.retries, self.sleep = timeout, retries, sleep
        self.interval = 0.1 if self.api_key else 0.34  # NCBI: 10 or 3 requests a second
        self._last = 0.0
        self.requests = 0

    def _wait(self) -> None:
        now = time.monotonic()
        if self._last and now - self._last < self.interval:
            self.sleep(self.interval - (now - self._last))
        self._last = time.monotonic()

    def get(self, url: str, service: str) -> Any:
        agent = USER_AGENT.format(email=self.email or "unknown")
        for attempt in range(self.retries + 1):
            self._wait()
            self.requests += 1
            req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": agent})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    body = resp.read()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if (exc.code == 429 or exc.code >= 500) and attempt < self.retries:
                    retry = exc.headers.get("Retry-After", "") if exc.headers else ""
                    self.sleep(float(retry) if retry.replace(".", "", 1).isdigit() else 2 ** attempt)
                    continue
                raise NetworkError(f"{service} answered {exc.code} ({exc.reason}) for {_short(url)}"
                                   + ("; too many requests: wait, or set NCBI_API_KEY" if exc.code == 429 else "")
                                   ) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise NetworkError(f"cannot reach {service} ({reason}): are you offline? Behind a proxy, set "
                                   "HTTPS_PROXY.") from None
            try:
                return json.loads(body)
            except ValueError:
                raise NetworkError(f"{service} did not answer with JSON for {_short(url)}.") from None
        raise NetworkError(f"{service} kept refusing requests; try again later.")  # pragma: no cover

    def eutil(self, name: str, **params: str) -> Any:
        params = {"db": "pubmed", "retmode": "json", **params}
        if self.api_key:
            params["api_key"] = self.api_key
        if self.email:
            params["email"] = self.email
        params["tool"] = "evidencekb"
        data = self.get(self.eutils + f"{name}.fcgi?" + urllib.parse.urlencode(params), "NCBI E-utilities")
        if isinstance(data, dict) and data.get("error"):
            raise NetworkError(f"NCBI E-utilities: {data['error']}")
        return data


def _short(url: str) -> str:
    """The address without its query (which may hold the API key)."""
    return url.split("?", 1)[0]


@dataclass(frozen=True)
class Found:
    """A PubMed record a search returned."""

    pmid: str
    title: str
    year: str
    doi: str
    journal: str


def esummary(client: Client, pmids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(pmids), 200):
        chunk = pmids[i: i + 200]
        data = client.eutil("esummary", id=",".join(chunk))
        result = (data or {}).get("result", {}) if isinstance(data, dict) else {}
        for pmid in chunk:
            rec = result.get(pmid)
            if isinstance(rec, dict) and not rec.get("error"):
                out[pmid] = rec
    return out


def _doi_of(rec: Mapping[str, Any]) -> str:
    for a in rec.get("articleids") or []:
        if isinstance(a, dict) and a.get("idtype") == "doi":
            return str(a.get("value", ""))
    return ""


def search_pubmed(client: Client, terms: str, since: str, until: str, retmax: int = 500) -> list[Found]:
    """The records a PubMed search returns for records entered between two days (inclusive)."""
    params = {"term": terms, "retmax": str(retmax), "datetype": "edat", "usehistory": "n"}
    if since:
        params.update(mindate=since.replace("-", "/"), maxdate=until.replace("-", "/"))
    data = client.eutil("esearch", **params)
    result = data.get("esearchresult", {}) if isinstance(data, dict) else {}
    if result.get("ERROR"):
        raise NetworkError(f"PubMed could not run the search: {result['ERROR']}")
    ids = [str(x) for x in result.get("idlist") or []]
    summaries = esummary(client, ids) if ids else {}
    out = []
    for pmid in ids:
        rec = summaries.get(pmid, {})
        year = re.match(r"\d{4}", str(rec.get("pubdate", "")))
        out.append(Found(pmid, str(rec.get("title", "")).strip(), year.group(0) if year else "",
                         _doi_of(rec), str(rec.get("fulljournalname") or rec.get("source") or "")))
    return out


def known_ids(log_ids: Iterable[str], entries: Mapping[str, Entry]) -> set[str]:
    """Every PMID and DOI (as ``pmid:``/``doi:`` ids) a screening log already holds."""
    known: set[str] = set()
    for rid in log_ids:
        if rid.startswith(("pmid:", "doi:")):
            known.add(rid.lower())
        elif rid in entries:
            e = entries[rid]
            if e.fields.get("pmid"):
                known.add("pmid:" + e.fields["pmid"].strip())
            if e.fields.get("doi"):
                known.add("doi:" + e.fields["doi"].strip().lower())
    return known


def search_claim(client: Client, searches: Iterable[Any], log_ids: Iterable[str], entries: Mapping[str, Entry],
                 today: str | None = None) -> tuple[list[Found], int]:
    """New records of a claim's PubMed searches (since each was last run), and how many searches ran."""
    today = today or dt.date.today().isoformat()
    known = known_ids(log_ids, entries)
    new: dict[str, Found] = {}
    ran = 0
    for s in searches:
        if s.source != "pubmed":
            continue
        ran += 1
        for f in search_pubmed(client, s.terms, s.date, today):
            if f"pmid:{f.pmid}" in known or (f.doi and f"doi:{f.doi.lower()}" in known):
                continue
            new.setdefault(f.pmid, f)
    return list(new.values()), ran


def unscreened_rows(found: Iterable[Found], search: int | None = None) -> str:
    """YAML rows to append to a screening log (plain, quoted text)."""
    rows = []
    for f in found:
        row = {"id": f"pmid:{f.pmid}", "title": f.title or "(no title)", "decision": "unscreened"}
        if f.year.isdigit():
            row["year"] = int(f.year)  # type: ignore[assignment]
        if search:
            row["search"] = search  # type: ignore[assignment]
        rows.append("  - {" + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in row.items()) + "}")
    return "\n".join(rows) + ("\n" if rows else "")


# --- verify ----------------------------------------------------------------------------------

def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"<[^>]+>", "", text)  # Crossref titles may carry JATS markup
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


def _first_page(pages: str) -> str:
    m = re.match(r"\s*([A-Za-z]?\d+)", pages)
    return m.group(1).lower() if m else ""


def _family(author_field: str) -> str:
    from .csl import split_names

    names = split_names(author_field)
    if not names:
        return ""
    first = names[0].strip("{}")
    return first.split(",")[0] if "," in first else first.split()[-1] if first.split() else ""


def _compare(e: Entry, theirs: Mapping[str, str], service: str) -> list[Diagnostic]:
    out = []
    ours = {"title": e.text("title"), "author": _family(e.text("author")), "year": e.year,
            "journal": e.text("journal") or e.text("journaltitle"), "volume": e.text("volume"),
            "pages": _first_page(e.text("pages"))}
    for name, value in theirs.items():
        mine = ours.get(name, "")
        if not value or not mine:
            continue
        a, b = _norm(mine), _norm(value)
        same = a == b
        if name == "journal":  # an abbreviation (J Orthop Sports Phys Ther) may stand for the full name
            sj = _norm(e.text("shortjournal"))
            same = same or b in (a, sj) or (sj and sj == b) or _abbrev_of(b, a) or _abbrev_of(a, b)
        if name == "author":
            same = _norm(mine).split()[-1:] == _norm(value).split()[-1:] or a in b or b in a
        if not same:
            field = {"author": "author", "pages": "pages"}.get(name, name)
            out.append(diag(e.path, e.line_of(field if field in e.fields else name), 1, "verify-mismatch",
                            f"'{e.key}': {name} is '{mine}' here but '{value}' in {service}; check the "
                            "publisher's page and correct the entry."))
    return out


def _abbrev_of(short: str, full: str) -> bool:
    """Whether each word of ``short`` starts a successive word of ``full`` (J Anat ~ Journal of Anatomy)."""
    words = full.split()
    i = 0
    for w in short.split():
        while i < len(words) and not words[i].startswith(w):
            i += 1
        if i == len(words):
            return False
        i += 1
    return bool(short)


def crossref_fields(msg: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """(fields, retracted) from a Crossref works message."""
    def first(key: str) -> str:
        v = msg.get(key) or []
        return str(v[0]) if isinstance(v, list) and v else str(v) if isinstance(v, str) else ""

    year = ""
    for key in ("published-print", "issued", "published-online", "published"):
        parts = (msg.get(key) or {}).get("date-parts") or [[]]
        if parts and parts[0] and parts[0][0]:
            year = str(parts[0][0])
            break
    authors = msg.get("author") or []
    family = str(authors[0].get("family") or authors[0].get("name") or "") if authors and isinstance(authors[0], dict) else ""
    fields = {"title": first("title"), "author": family, "year": year, "journal": first("container-title"),
              "volume": str(msg.get("volume") or ""), "pages": _first_page(str(msg.get("page") or ""))}
    updates = list(msg.get("updated-by") or []) + list(msg.get("update-to") or [])
    retracted = any("retract" in str(u.get("type", "")).lower() for u in updates if isinstance(u, dict)) \
        or first("title").upper().startswith("RETRACTED")
    return fields, retracted


def pubmed_fields(rec: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    authors = rec.get("authors") or []
    name = str(authors[0].get("name", "")) if authors and isinstance(authors[0], dict) else ""
    year = re.match(r"\d{4}", str(rec.get("pubdate", "")))
    fields = {"title": str(rec.get("title", "")).rstrip("."), "author": name.split(" ")[0] if name else "",
              "year": year.group(0) if year else "", "journal": str(rec.get("fulljournalname") or rec.get("source") or ""),
              "volume": str(rec.get("volume") or ""), "pages": _first_page(str(rec.get("pages") or ""))}
    kinds = [str(t).lower() for t in rec.get("pubtype") or []]
    return fields, any("retracted publication" in t for t in kinds)


def verify_entry(client: Client, e: Entry, pubmed: Mapping[str, dict[str, Any]] | None = None) -> list[Diagnostic]:
    """What Crossref (by DOI) and PubMed (by PMID) say that the entry does not."""
    out: list[Diagnostic] = []
    doi = e.fields.get("doi", "").strip()
    if doi:
        data = client.get(client.crossref + "works/" + urllib.parse.quote(doi, safe="/:;()._-"), "Crossref")
        msg = data.get("message") if isinstance(data, dict) else None
        if not isinstance(msg, dict):
            out.append(diag(e.path, e.line_of("doi"), 1, "verify-not-found",
                            f"'{e.key}': Crossref does not know the DOI {doi}; is it right?"))
        else:
            fields, retracted = crossref_fields(msg)
            out += _compare(e, fields, "Crossref")
            if retracted:
                out.append(diag(e.path, e.line, 1, "verify-retracted",
                                f"'{e.key}' is retracted according to Crossref; remove it or say so on every page "
                                "that cites it."))
    pmid = e.fields.get("pmid", "").strip()
    if pmid:
        rec = (pubmed or {}).get(pmid) if pubmed is not None else esummary(client, [pmid]).get(pmid)
        if rec is None:
            out.append(diag(e.path, e.line_of("pmid"), 1, "verify-not-found",
                            f"'{e.key}': PubMed has no record {pmid}; is the PMID right?"))
        else:
            fields, retracted = pubmed_fields(rec)
            out += _compare(e, fields, "PubMed")
            if retracted:
                out.append(diag(e.path, e.line, 1, "verify-retracted",
                                f"'{e.key}' is a retracted publication according to PubMed; remove it or say so on "
                                "every page that cites it."))
    return sorted(set(out))
