"""The figures in README.md and docs/ are those the benchmarks wrote to benchmarks/results/."""

from __future__ import annotations

import re

from benchmarks.docs import (
    FIGURES,
    PAGES,
    PROJECT,
    figure_row,
    render_results,
    rewrite,
    stale_pages,
)

README = PROJECT / "README.md"
LINK = re.compile(r"\]\((?!https?://|#)([^)#\s]+)")


def test_every_page_shows_what_the_results_files_hold():
    stale = [str(page.relative_to(PROJECT)) for page in stale_pages()]
    assert stale == [], f"{stale} differ from benchmarks/results: run python -m benchmarks.docs"


def test_a_figure_edited_by_hand_is_caught():
    text = README.read_text(encoding="utf-8")
    value = figure_row(FIGURES[0])["value"]
    assert value in text
    assert rewrite(text.replace(value, "0.001 s")) == text


def test_a_results_block_holds_the_machine_and_the_table():
    block = render_results("c_decoder")
    assert "Measured on: cpu " in block
    assert "| model | decoder |" in block


def test_the_readme_stays_short_and_its_figures_are_generated():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "<!-- figures -->" in text


def test_links_between_the_pages_lead_to_files_that_exist():
    broken = [
        f"{page.relative_to(PROJECT)}: {target}"
        for page in PAGES
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if not (page.parent / target).exists()
    ]
    assert broken == []
