"""Atomic writes and folder swaps: readers see the complete old or the complete new thing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from vae_edge.atomic import remove_orphans, replace_folder, temporary_sibling


def make_folder(path, text):
    path.mkdir()
    (path / "version.txt").write_text(text)
    return path.stat().st_ino


def test_a_folder_swap_takes_the_renameat2_exchange(tmp_path, monkeypatch):
    target = tmp_path / "model"
    old_inode = make_folder(target, "old")
    new = temporary_sibling(target)
    new_inode = make_folder(new, "new")

    def two_renames(*args):
        raise AssertionError(f"the swap fell back to renames {args}")

    monkeypatch.setattr(os, "rename", two_renames)
    replace_folder(new, target)
    assert target.stat().st_ino == new_inode and (target / "version.txt").read_text() == "new"
    assert new.stat().st_ino == old_inode and (new / "version.txt").read_text() == "old"


def test_the_old_folder_returns_after_a_kill_between_the_fallbacks_two_renames(tmp_path):
    target = tmp_path / "model"
    make_folder(target, "old")
    # A real kill -9 at the instant the fallback's first rename has set the old folder aside.
    script = f"""
        import os, signal
        from pathlib import Path
        from vae_edge import atomic

        target = Path({str(target)!r})
        new = atomic.temporary_sibling(target)
        new.mkdir()
        (new / "version.txt").write_text("new")
        atomic._exchange = lambda first, second: False
        real_rename = os.rename

        def rename(source, destination):
            if Path(destination) == target:
                os.kill(os.getpid(), signal.SIGKILL)
            real_rename(source, destination)

        os.rename = rename
        atomic.replace_folder(new, target)
    """
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False)
    assert killed.returncode == -9
    assert not target.exists()
    remove_orphans(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (target / "version.txt").read_text() == "old"


def test_a_set_aside_folder_is_removed_once_its_name_is_taken_again(tmp_path, dead_pid):
    target = tmp_path / "model"
    make_folder(target, "newer")
    aside = tmp_path / f".model.{dead_pid}.0badc0de.old"
    make_folder(aside, "old")
    remove_orphans(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (target / "version.txt").read_text() == "newer"
