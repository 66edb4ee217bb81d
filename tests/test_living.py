"""evidencekb search and verify, against a local server that answers as NCBI E-utilities and
Crossref do (responses built from their documented JSON formats). The suite never reaches
the network: a guard fails any connection that is not to 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import ROOTS

from evidencekb.cli import main


def _esearch(ids: list[str]) -> dict[str, Any]:
    return {"header": {"type": "esearch", "version": "0.3"},
            "esearchresult": {"count": str(len(ids)), "retmax": str(len(ids)), "retstart": "0", "idlist": ids,
                              "translationset": [], "querytranslation": "band[All Fields]"}}


def _esummary(recs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"header": {"type": "esummary", "version": "0.3"}, "result": {"uids": list(recs), **recs}}


def _summary(pmid: str, title: str, *, year: str = "2026", doi: str = "", author: str = "Smith J",
             journal: str = "J Test", volume: str = "1", pages: str = "10-20", pubtype: list[str] | None = None
             ) -> dict[str, Any]:
    ids = [{"idtype": "pubmed", "idtypen": 1, "value": pmid}] + (
        [{"idtype": "doi", "idtypen": 3, "value": doi}] if doi else [])
    return {"uid": pmid, "pubdate": f"{year} Jan", "source": journal, "fulljournalname": journal,
            "authors": [{"name": author, "authtype": "Author"}], "title": title, "volume": volume, "pages": pages,
            "articleids": ids, "pubtype": pubtype or ["Journal Article"]}


class Recorded(http.server.BaseHTTPRequestHandler):
    """Answers from ``routes``: (path start, query predicate) -> (status, JSON, headers)."""

    routes: ClassVar[list[tuple[str, Any, tuple[int, Any, dict[str, str]]]]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        for start, pred, (status, body, headers) in type(self).routes:
            if url.path.startswith(start) and pred(query):
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Recorded]]:
    handler = type("Handler", (Recorded,), {"routes": [], "seen": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    monkeypatch.setenv("EVIDENCEKB_EUTILS", base + "/eutils/")
    monkeypatch.setenv("EVIDENCEKB_CROSSREF", base + "/crossref/")
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    monkeypatch.setattr("time.sleep", lambda s: None)
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:  # the suite never reaches the network
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"a test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield handler
    srv.shutdown()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(ROOTS / "claims", root)
    bib = root / "references" / "sample.bib"
    bib.write_text(bib.read_text(encoding="utf-8").replace("doi = {10.5555/review},",
                                                           "doi = {10.5555/review},\n  pmid = {111},"),
                   encoding="utf-8")
    return root


def test_search_lists_records_not_yet_screened(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [
        ("/eutils/esearch.fcgi", lambda q: q["term"] == "band AND stretching", (200, _esearch(["111", "222", "333"]), {})),
        ("/eutils/esummary.fcgi", lambda q: True, (200, _esummary({
            "111": _summary("111", "A systematic review of band stiffness", doi="10.5555/review"),
            "222": _summary("222", "A new trial of band stretching", doi="10.5555/new"),
            "333": _summary("333", "Bands in horses again", doi="10.5555/other")}), {})),
    ]
    log = project / "screening" / "band-stretch.yaml"
    log.write_text(log.read_text(encoding="utf-8") + "  - {id: 'pmid:333', title: Horses, decision: excluded, "
                   "reason: wrong-population}\n", encoding="utf-8")
    assert main(["search", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "band-stretch: 1 new record(s) from 1 PubMed search(es) since 2026-11-26." in out
    assert "pmid:222  2026  A new trial of band stretching" in out and "pmid:333" not in out.split("since")[1]
    esearch = next(p for p in server.seen if "esearch" in p)
    assert "mindate=2026%2F11%2F26" in esearch and "datetype=edat" in esearch and "tool=evidencekb" in esearch


def test_search_add_appends_unscreened_rows_that_check_reports(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [
        ("/eutils/esearch.fcgi", lambda q: True, (200, _esearch(["222"]), {})),
        ("/eutils/esummary.fcgi", lambda q: True, (200, _esummary({"222": _summary("222", "New: a \"trial\"")}), {})),
    ]
    assert main(["search", "--add", "--root", str(project)]) == 0
    text = (project / "screening" / "band-stretch.yaml").read_text(encoding="utf-8")
    assert text.endswith('  - {id: "pmid:222", title: "New: a \\"trial\\"", decision: "unscreened", year: 2026, search: 1}\n')
    capsys.readouterr()
    main(["check", "--root", str(project)])
    assert "screening-unscreened: 'pmid:222' has not been screened yet" in capsys.readouterr().out


def test_search_retries_after_a_rate_limit_reply(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def first_limited(q: dict[str, str]) -> bool:
        calls["n"] += 1
        return calls["n"] == 1

    server.routes += [
        ("/eutils/esearch.fcgi", first_limited, (429, {"error": "API rate limit exceeded"}, {"Retry-After": "1"})),
        ("/eutils/esearch.fcgi", lambda q: True, (200, _esearch([]), {})),
    ]
    assert main(["search", "--root", str(project)]) == 0
    assert "0 new record(s); 2 request(s) to NCBI." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        pytest.param(200, {"esearchresult": {"ERROR": "Invalid query"}}, "PubMed could not run the search: Invalid query",
                     id="search-error"),
        pytest.param(429, {"error": "API rate limit exceeded"}, "too many requests", id="rate-limited-throughout"),
        pytest.param(200, b"<html>not json</html>", "did not answer with JSON", id="not-json"),
        pytest.param(500, {}, "answered 500", id="server-error"),
    ],
)
def test_search_errors_are_clear(project: Path, server: type[Recorded], capsys, status: int, body: Any,  # type: ignore[no-untyped-def]
                                 fragment: str) -> None:
    server.routes += [("/eutils/esearch.fcgi", lambda q: True, (status, body, {}))]
    assert main(["search", "--root", str(project)]) == 1
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_search_with_no_results(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [("/eutils/esearch.fcgi", lambda q: True, (200, _esearch([]), {}))]
    assert main(["search", "--root", str(project)]) == 0
    assert "band-stretch: 0 new record(s)" in capsys.readouterr().out
    assert not [p for p in server.seen if "esummary" in p]  # nothing to summarise: no request


def test_api_key_is_sent_and_hidden(project: Path, server: type[Recorded], monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NCBI_API_KEY", "secret123")
    server.routes += [("/eutils/esearch.fcgi", lambda q: q.get("api_key") == "secret123", (500, {}, {}))]
    assert main(["search", "--root", str(project)]) == 1
    err = capsys.readouterr().err
    assert "secret123" not in err and "esearch.fcgi" in err


def test_offline_is_a_clear_message(project: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EVIDENCEKB_EUTILS", "http://127.0.0.1:9/")
    assert main(["search", "--root", str(project)]) == 1
    assert "cannot reach NCBI E-utilities" in capsys.readouterr().err


def _crossref(doi: str, title: str, *, family: str = "Reviewer", year: int = 2020, journal: str = "J Test",
              updated_by: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"DOI": doi, "title": [title], "author": [{"given": "Rita", "family": family}],
                           "issued": {"date-parts": [[year]]}, "container-title": [journal], "type": "journal-article"}
    if updated_by:
        msg["updated-by"] = updated_by
    return {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": msg}


def test_verify_reports_field_by_field_and_retractions(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [
        ("/crossref/works/10.5555/review", lambda q: True, (200, _crossref(
            "10.5555/review", "A systematic review of band stiffness", year=2019,
            updated_by=[{"type": "retraction", "DOI": "10.5555/notice"}]), {})),
        ("/crossref/works/10.5555/cadaver", lambda q: True, (200, _crossref(
            "10.5555/cadaver", "Bands in cadavers", family="Anatomist", year=2019), {})),
        ("/eutils/esummary.fcgi", lambda q: q["id"] == "111", (200, _esummary({"111": _summary(
            "111", "A systematic review of band stiffness.", year="2020", author="Reviewer R",
            volume="", pages="")}), {})),
    ]
    assert main(["verify", "--root", str(project)]) == 1
    out = capsys.readouterr().out
    assert "references/sample.bib:6:1: warning verify-mismatch: 'review2020': year is '2020' here but '2019' in Crossref" in out
    assert "error verify-retracted: 'review2020' is retracted according to Crossref" in out
    assert "cadaver2019" not in out.split("entries checked")[0]
    assert "2 entries checked: 1 error(s), 1 warning(s)." in out


def test_verify_unknown_doi_and_pmid(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [("/eutils/esummary.fcgi", lambda q: True,
                       (200, {"result": {"uids": [], "111": {"uid": "111", "error": "cannot get document summary"}}}, {}))]
    assert main(["verify", "review2020", "--root", str(project)]) == 1
    out = capsys.readouterr().out
    assert "verify-not-found: 'review2020': Crossref does not know the DOI 10.5555/review" in out
    assert "verify-not-found: 'review2020': PubMed has no record 111" in out


def test_verify_pubmed_retraction(project: Path, server: type[Recorded], capsys) -> None:  # type: ignore[no-untyped-def]
    server.routes += [
        ("/crossref/works/", lambda q: True, (200, _crossref("10.5555/review", "A systematic review of band stiffness"), {})),
        ("/eutils/esummary.fcgi", lambda q: True, (200, _esummary({"111": _summary(
            "111", "A systematic review of band stiffness", year="2020", author="Reviewer R",
            pubtype=["Journal Article", "Retracted Publication"])}), {})),
    ]
    assert main(["verify", "review2020", "--root", str(project)]) == 1
    assert "a retracted publication according to PubMed" in capsys.readouterr().out
