"""The public surface of the package."""

from __future__ import annotations

import evidencekb


def test_public_api() -> None:
    assert sorted(evidencekb.__all__) == sorted([
        "Bibliography", "Entry", "load", "load_text", "verdict_rule", "Site", "Project", "Options", "CiteItem", "Cluster", "scan",
        "Claim", "EvidenceItem", "parse_claim", "Formatter", "to_csl", "CODES", "Diagnostic", "Severity",
        "CitationContext", "CitationExtension",
    ])
    homes = {"bibliography": ["Bibliography", "Entry", "load", "load_text"], "grade": ["verdict_rule"],
             "site": ["Site", "Project", "Options"], "citations": ["CiteItem", "Cluster", "scan"],
             "claims": ["Claim", "EvidenceItem", "parse_claim"], "csl": ["Formatter", "to_csl"],
             "diagnostics": ["CODES", "Diagnostic", "Severity"], "markdown_ext": ["CitationContext", "CitationExtension"]}
    from importlib import import_module

    for module, names in homes.items():  # each name is the object its module defines, loaded on first use
        for name in names:
            assert getattr(evidencekb, name) is getattr(import_module(f"evidencekb.{module}"), name), name
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        evidencekb.nothing  # noqa: B018


def test_entry_points_are_registered() -> None:
    from importlib.metadata import entry_points

    assert "evidencekb" in {e.name for e in entry_points(group="markdown.extensions")}
    assert "evidencekb" in {e.name for e in entry_points(group="mkdocs.plugins")}


def test_site_options_match_the_plugin_config() -> None:
    """The engine-free options and the MkDocs plugin's typed config name the same options."""
    from dataclasses import fields

    from evidencekb.config import EvidenceConfig
    from evidencekb.site import Options

    assert {f.name for f in fields(Options)} == {name for name, _ in EvidenceConfig._schema}
    for f in fields(Options):
        default = getattr(Options(), f.name)
        assert dict(EvidenceConfig._schema)[f.name].default == default, f.name
