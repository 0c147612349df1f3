"""docs/configuration.md's settings reference is generated from the Settings declaration: it must be current."""

from __future__ import annotations

import dataclasses

from turnout.settings import Settings
from turnout.settings_doc import DOC, render, settings


def test_configuration_reference_is_current() -> None:
    text = DOC.read_text("utf-8")
    assert render(text) == text, "docs/configuration.md is stale: run `python -m turnout.settings_doc`"


def test_every_setting_is_documented_with_its_meaning() -> None:
    documented = {s.name: s for s in settings()}
    assert set(documented) == {f.name for f in dataclasses.fields(Settings)}
    missing = [name for name, s in documented.items() if not s.meaning]
    assert not missing, f"settings without a trailing comment saying what they do: {missing}"
    text = DOC.read_text("utf-8")
    for name in documented:
        assert f"| `{name}` |" in text


def test_a_new_setting_makes_the_reference_stale() -> None:
    text = DOC.read_text("utf-8")
    assert "`shutdown_grace` | `TURNOUT_SHUTDOWN_GRACE` | `float` | `30.0`" in text
    edited = text.replace("| `shutdown_grace` |", "| `shutdown_grace_old` |")
    assert render(edited) != edited
