"""Pieces of the web plugin on their own: engines' answers parsed defensively, domain filters,
citation spans."""

from __future__ import annotations

from decimal import Decimal

import pytest

from turnout.plugins.engines import Engine, SearchResult, filtered
from turnout.plugins.web import citations


def engine(name: str) -> Engine:
    return Engine(name, "http://127.0.0.1:9", "k", Decimal(0), 1.0)


def test_hostile_answers_are_bounded() -> None:
    items = [
        {"url": "javascript:alert(1)", "title": "x", "content": "x"},
        {"url": "file:///etc/passwd", "title": "x", "content": "x"},
        {"url": "https://e.com/" + "a" * 5000, "title": "long url", "content": "x"},
        {"url": "https://ok.com/", "title": "T" * 10_000 + "\n\nINJECTED", "content": "c" * 50_000},
        "not an object",
        {"title": "no url"},
    ]
    got = engine("searxng").parse({"results": items})
    assert len(got) == 1 and got[0].url == "https://ok.com/"
    assert len(got[0].title) == 300 and "\n" not in got[0].title and len(got[0].content) == 2_000


@pytest.mark.parametrize("answer", [[], "text", {"results": "nope"}, {"type": "ErrorResponse"}])
def test_answers_in_no_format_are_refused(answer: object) -> None:
    with pytest.raises(ValueError):
        engine("brave" if isinstance(answer, dict) and "type" in answer else "tavily").parse(answer)


def test_exa_falls_back_to_highlights() -> None:
    got = engine("exa").parse({"results": [{"url": "https://a.com/", "title": "A", "highlights": ["one", "two"]}]})
    assert got[0].content == "one two"


def test_domain_filters_match_subdomains_wildcards_and_paths() -> None:
    rs = [SearchResult(u, "", "") for u in ("https://www.example.com/a", "https://example.com/docs/x",
                                            "https://notexample.com/", "https://sub.example.org/")]
    assert [r.url for r in filtered(rs, ["example.com"], [])] == ["https://www.example.com/a", "https://example.com/docs/x"]
    assert [r.url for r in filtered(rs, ["example.com/docs"], [])] == ["https://example.com/docs/x"]
    assert [r.url for r in filtered(rs, ["*.example.org"], [])] == ["https://sub.example.org/"]
    assert [r.url for r in filtered(rs, [], ["example.com"])] == ["https://notexample.com/", "https://sub.example.org/"]


def test_citation_spans_point_at_the_links() -> None:
    rs = [SearchResult("https://a.com/x", "A", "a"), SearchResult("https://b.com/y", "B", "b"),
          SearchResult("https://c.com/z", "C", "c")]
    text = "See [b.com](https://b.com/y) and then [a.com](https://a.com/x)."
    got = [a["url_citation"] for a in citations(text, rs)]
    assert [g["url"] for g in got] == ["https://b.com/y", "https://a.com/x", "https://c.com/z"]
    for g in got[:2]:
        assert text[g["start_index"]:g["end_index"]] == f"[{g['url'][8:13]}]({g['url']})"
    assert got[2]["start_index"] == got[2]["end_index"] == 0  # not linked
