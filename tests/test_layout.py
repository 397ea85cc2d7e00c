"""The import directions written in docs/layout.md hold for every import in vae_edge/."""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "vae_edge"
LAYOUT = PROJECT / "docs" / "layout.md"
TABLE = re.compile(r"<!-- layout-table -->\n(.*?)<!-- /layout-table -->", re.DOTALL)
# Third-party packages the table may name: a typo there would otherwise check nothing.
KNOWN_PACKAGES = {
    "torch",
    "onnx",
    "onnxscript",
    "onnxruntime",
    "PIL",
    "click",
    "matplotlib",
    "emx_onnx_cgen",
}


@dataclass(frozen=True)
class Layer:
    name: str
    patterns: tuple[str, ...]
    may_import: frozenset[str]
    never_imports: frozenset[str]


def names_in(cell: str) -> tuple[str, ...]:
    """`a`, `b`, c -> ("a", "b", "c")."""
    return tuple(part.strip().strip("`") for part in cell.split(",") if part.strip())


def read_layers() -> list[Layer]:
    """The rows of the table between the layout-table markers in docs/layout.md."""
    rows = TABLE.search(LAYOUT.read_text(encoding="utf-8")).group(1).strip().splitlines()[2:]
    layers = []
    for row in rows:
        name, patterns, may_import, never = (cell.strip() for cell in row.strip("|").split("|"))
        layers.append(
            Layer(
                name,
                names_in(patterns),
                frozenset(names_in(may_import)),
                frozenset(names_in(never)),
            )
        )
    return layers


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str, layers: list[Layer]) -> Layer | None:
    for layer in layers:
        for pattern in layer.patterns:
            if module == pattern.removesuffix(".*") or fnmatch.fnmatchcase(module, pattern):
                return layer
    return None


def is_module(name: str) -> bool:
    path = PROJECT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file; `from a import b` names a.b
    when b is a module of vae_edge. The package uses absolute imports only."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import"
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
    return found


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_table_names_real_layers_and_packages():
    layers = read_layers()
    names = {layer.name for layer in layers}
    assert len(names) == len(layers) >= 5
    for layer in layers:
        assert layer.may_import <= names, (layer.name, layer.may_import - names)
        assert layer.never_imports <= KNOWN_PACKAGES, (layer.name, layer.never_imports)


def test_every_module_of_the_package_has_a_layer():
    layers = read_layers()
    homeless = [module_name(path) for path in package_files()]
    assert [module for module in homeless if layer_of(module, layers) is None] == []


@pytest.mark.parametrize("path", package_files(), ids=lambda path: module_name(path))
def test_imports_follow_the_layout(path):
    layers = read_layers()
    layer = layer_of(module_name(path), layers)
    wrong = []
    for target in sorted(imported_modules(path)):
        top = target.split(".")[0]
        if top in layer.never_imports:
            wrong.append(f"{target} (layer {layer.name} never imports {top})")
        elif top == "vae_edge" and target != module_name(path):
            target_layer = layer_of(target, layers)
            if target_layer.name not in layer.may_import:
                wrong.append(f"{target} (layer {layer.name} may not import {target_layer.name})")
    assert wrong == [], f"{module_name(path)} imports {wrong}; see docs/layout.md"


def test_the_check_sees_imports_inside_functions():
    """A command's lazy `import torch` inside a function is an import like any other."""
    source = PACKAGE / "cli" / "options.py"
    assert "vae_edge.runtime" in imported_modules(source)  # imported inside model_command


def test_test_modules_import_helpers_not_other_tests():
    """Shared test code lives in helper modules (cli_checks, runtime_fixtures, ...)."""
    tests = PROJECT / "tests"
    wrong = [
        f"{path.name} imports {name}"
        for path in sorted(tests.glob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0].startswith("test_")
    ]
    assert wrong == []
