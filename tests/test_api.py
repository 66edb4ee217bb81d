"""The public surface of the package."""

from __future__ import annotations

import evidencekb


def test_public_api() -> None:
    assert sorted(evidencekb.__all__) == sorted([
        "Bibliography", "Entry", "load", "load_text", "Ceiling", "compute", "CiteItem", "Cluster", "scan",
        "Claim", "EvidenceItem", "parse_claim", "Formatter", "to_csl", "CODES", "Diagnostic", "Severity",
        "CitationContext", "CitationExtension",
    ])
    for name in evidencekb.__all__:
        assert getattr(evidencekb, name) is not None


def test_entry_points_are_registered() -> None:
    from importlib.metadata import entry_points

    assert "evidencekb" in {e.name for e in entry_points(group="markdown.extensions")}
    assert "evidencekb" in {e.name for e in entry_points(group="mkdocs.plugins")}
