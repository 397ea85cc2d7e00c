"""The README and docs/ pages: short README, links and example files that exist."""

from __future__ import annotations

import re

from benchmarks.docs import PAGES, PROJECT

README = PROJECT / "README.md"
LINK = re.compile(r"\]\((?!https?://|#)([^)#\s]+)")
# A file of the project named in a command or a code example: docs/x.png, vae_edge/...
# (NAME stands for any results file)
PROJECT_FILE = re.compile(r"(?<![\w/.])((?:docs|vae_edge|benchmarks|tests)/[\w./-]+\.\w+)")


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


def test_files_the_examples_use_exist():
    missing = [
        f"{page.relative_to(PROJECT)}: {name}"
        for page in PAGES
        for name in PROJECT_FILE.findall(page.read_text(encoding="utf-8"))
        if "NAME" not in name and not (PROJECT / name.rstrip(".")).exists()
    ]
    assert missing == []
