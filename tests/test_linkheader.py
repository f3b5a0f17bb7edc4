"""RFC 8288 Link values: parsed, rewritten and joined without losing parameters."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shield.linkheader import Link, format_links, parse_links, rewrite_links


@pytest.mark.parametrize(
    ("value", "targets", "rels"),
    [
        ('<https://a.example/items?offset=50>; rel="next"', ["https://a.example/items?offset=50"], [{"next"}]),
        (
            "</items?page=2>; rel=next, </items?page=9>; rel=last",
            ["/items?page=2", "/items?page=9"],
            [{"next"}, {"last"}],
        ),
        ('</a>; title="x, y; z"; rel="prev next"', ["/a"], [{"prev", "next"}]),
        ('</a>;REL="Next"', ["/a"], [{"next"}]),
        ("</a>", ["/a"], [set()]),
        ("  </a> ; rel=next ,  </b>; rel=prev  ", ["/a", "/b"], [{"next"}, {"prev"}]),
    ],
)
def test_parse(value: str, targets: list[str], rels: list[set[str]]) -> None:
    links = parse_links(value)
    assert links is not None
    assert [link.target for link in links] == targets
    assert [set(link.rels) for link in links] == rels


@pytest.mark.parametrize("value", ["/a; rel=next", '<a>; rel="next', "<a> junk", "<a>; rel=next,, <b>", "<a<b>>"])
def test_garbage_does_not_parse(value: str) -> None:
    assert parse_links(value) is None


def test_rewrite_keeps_parameters_and_drops_on_none() -> None:
    value = '</items?offset=50>; rel="next"; title="more", </items?offset=9000>; rel="last"'

    def rewrite(link: Link) -> Link | None:
        return (
            None if "last" in link.rels else Link(link.target.replace("offset=50", "cursor=T"), link.params, link.rels)
        )

    assert rewrite_links(value, rewrite) == '</items?cursor=T>; rel="next"; title="more"'
    assert rewrite_links("garbage", rewrite) is None


targets = st.text(st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)), max_size=30)
rels = st.lists(st.sampled_from(["next", "prev", "last", "first", "self"]), min_size=1, max_size=3)


@given(st.lists(st.tuples(targets, rels), min_size=1, max_size=4))
def test_format_then_parse_round_trips(items: list[tuple[str, list[str]]]) -> None:
    links = [Link(target, f'; rel="{" ".join(names)}"') for target, names in items]
    parsed = parse_links(format_links(links))
    assert parsed is not None
    assert [(link.target, link.params) for link in parsed] == [(link.target, link.params) for link in links]
    assert [set(link.rels) for link in parsed] == [set(names) for _, names in items]


def test_only_the_first_rel_counts_and_quoted_semicolons_are_not_parameters() -> None:
    links = parse_links('</items?offset=10>; title="a; rel=self"; rel="next"; rel="prev"')
    assert links is not None
    assert links[0].rels == {"next"}


@pytest.mark.parametrize(
    "value",
    ["<a>" + "; a= " * 40 + '"', "<a>" + '; a="x' * 40, "<a>;" * 2000, "<" + "a" * 20000 + ">"],
)
def test_pathological_values_parse_in_linear_time(value: str) -> None:
    """A backtracking grammar took seconds on the first of these (3**n in the spaces)."""
    started = time.perf_counter()
    parse_links(value)
    assert time.perf_counter() - started < 0.5  # a bound a linear parser meets 1000 times over


@given(st.text(max_size=200))
def test_arbitrary_values_never_raise(value: str) -> None:
    links = parse_links(value)
    assert links is None or all(isinstance(link, Link) for link in links)
