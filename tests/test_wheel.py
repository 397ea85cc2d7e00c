"""The device install the README shows: a wheel built from the checkout, installed with the
core dependencies only (no torch), generates digits with a bundled model.

The fresh environment sees this machine's installed copies of the core dependencies
(and what they need) through a .pth file, so the test runs offline; the wheel's own
metadata is checked to ask for exactly those, so pip on a device fetches the same.
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PROJECT = Path(__file__).resolve().parents[1]
CORE = {"numpy", "onnxruntime", "pillow", "click"}
IGNORED = shutil.ignore_patterns("__pycache__")
# No PYTHONPATH: the fresh environment must not see the checkout.
CLEAN_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=cwd, env=CLEAN_ENV
    )
    assert result.returncode == 0, result.stderr
    return result


def needed_distributions(names: set[str]) -> set[str]:
    """`names` and everything they require, without extras, as installed here."""
    needed, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name.lower())
    return needed


def link_site(names: set[str], site: Path) -> None:
    """A folder holding, as links, the installed files of the distributions `names`."""
    site.mkdir()
    for name in names:
        distribution = metadata.distribution(name)
        for top in {file.parts[0] for file in distribution.files if ".." not in file.parts}:
            source = Path(distribution.locate_file(top))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of what it is made of (the build leaves its files
    beside the sources, and the checkout stays as it was)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    shutil.copytree(PROJECT / "vae_edge", source / "vae_edge", ignore=IGNORED)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    run([sys.executable, "-m", *pip_wheel, "-w", str(dist), str(source)])
    return next(dist.glob("vae_edge-*.whl"))


def test_the_wheel_asks_for_the_core_dependencies_only(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        fields = email.message_from_bytes(archive.read(name))
        files = archive.namelist()
    core = {
        Requirement(line).name.lower()
        for line in fields.get_all("Requires-Dist")
        if "extra ==" not in line
    }
    assert core == CORE
    for data in ("models/default/decoder.onnx", "web/static/index.html", "c_templates/Makefile"):
        assert f"vae_edge/{data}" in files


def test_the_wheel_installs_without_torch_and_generates(wheel, tmp_path):
    env = tmp_path / "env"
    run([sys.executable, "-m", "venv", "--without-pip", str(env)])
    python = env / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    link_site(needed_distributions(CORE), tmp_path / "core")
    (site / "core.pth").write_text(str(tmp_path / "core") + "\n")
    pip_install = ["pip", "--python", str(python), "install", "--no-deps", "--no-index"]
    run([sys.executable, "-m", *pip_install, "--quiet", str(wheel)])

    run([str(env / "bin" / "vae-edge"), "generate", "-n", "4", "-o", "grid.png"], cwd=tmp_path)
    assert (tmp_path / "grid.png").read_bytes().startswith(b"\x89PNG")
    code = "import importlib.util as u, vae_edge; print(vae_edge.__file__, u.find_spec('torch'))"
    installed_at, torch_spec = run([str(python), "-c", code], cwd=tmp_path).stdout.split()
    assert Path(installed_at).is_relative_to(site)
    assert torch_spec == "None"
