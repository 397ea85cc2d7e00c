"""The figures in README.md and docs/ are those the benchmarks wrote to benchmarks/results/."""

from __future__ import annotations

from benchmarks.docs import (
    FIGURES,
    PROJECT,
    figure_row,
    render_results,
    rewrite,
    stale_pages,
)

README = PROJECT / "README.md"


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
