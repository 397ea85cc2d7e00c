"""Write a self-contained static site: the page's files, onnxruntime-web and a model folder.

The site is built in a hidden folder beside the target and renamed into place, so a
failure never leaves a partial site behind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from importlib import resources
from pathlib import Path

from vae_edge.atomic import building_folder, is_current_folder_or_above
from vae_edge.errors import VaeEdgeError
from vae_edge.runtime.folders import resolve_model_dir
from vae_edge.runtime.manifest import MANIFEST_NAME, read_model_files

# onnxruntime-web, WebAssembly-only build (it starts faster than the build with WebGPU).
# package.json pins the same version for the tests and for `--ort-dir`.
ORT_VERSION = "1.30.0"
ORT_CDN = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_VERSION}/dist/"
ORT_MODULE = "ort.wasm.min.mjs"
ORT_WASM_MODULE = "ort-wasm-simd-threaded.mjs"  # imported by ORT_MODULE, loads ORT_WASM
ORT_WASM = "ort-wasm-simd-threaded.wasm"
# Subresource Integrity of every onnxruntime-web file the page loads (the module, the
# WebAssembly glue module it imports, the binary): sha384 of the npm package's files.
ORT_INTEGRITY = {
    ORT_MODULE: "sha384-SfFfy/pvthiOsgaw3KX0bV5TfQ6Iq+oY9KutMe4SxIuHH4cl+DCSD4rTsYOoG1tJ",
    ORT_WASM_MODULE: "sha384-XcXA/MtAf0WpB8e023xQH9CM7RIjiugakT7x99DIwpFf7k56BIFFcAPerIF7FDad",
    ORT_WASM: "sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM",
}
# Where things go inside the site.
MODEL_FOLDER = "model"
ORT_FOLDER = "ort"
# index.html holds this line; the builder replaces it with the site's configuration.
CONFIG_PLACEHOLDER = "<!-- vae-edge: site configuration -->"


class SiteError(VaeEdgeError):
    """The site cannot be built: a bad output folder or onnxruntime-web folder."""


def sri_hash(path: Path) -> str:
    """The Subresource Integrity string (sha384, base64) of a file."""
    digest = hashlib.sha384(path.read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def build_site(
    site_dir: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    *,
    ort_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Write the site for `model` into `site_dir`; return `site_dir`.

    `model` is a model folder or a bundled model's name (None: the bundled default).
    onnxruntime-web comes from the pinned CDN URL, or, with `ort_dir` (an npm
    `onnxruntime-web/dist` folder of the pinned version), is copied into the site.
    An existing non-empty `site_dir` is replaced only with `force`. A bad model folder
    raises the runtime's `ModelFileError`; other problems raise `SiteError`.
    """
    site_dir = Path(site_dir)
    model_dir = resolve_model_dir(model)
    _, graphs = read_model_files(model_dir)
    ort_files = _checked_ort_files(Path(ort_dir)) if ort_dir is not None else []
    _check_target(site_dir, force)
    try:
        with building_folder(site_dir.absolute()) as tmp_dir:
            _write_page(tmp_dir, model_name=model_dir.resolve().name, offline=bool(ort_files))
            (tmp_dir / MODEL_FOLDER).mkdir()
            shutil.copyfile(model_dir / MANIFEST_NAME, tmp_dir / MODEL_FOLDER / MANIFEST_NAME)
            for name, graph in graphs.items():
                (tmp_dir / MODEL_FOLDER / name).write_bytes(graph)
            if ort_files:
                (tmp_dir / ORT_FOLDER).mkdir()
                for path in ort_files:
                    shutil.copyfile(path, tmp_dir / ORT_FOLDER / path.name)
    except OSError as error:
        raise SiteError(
            f"-o {site_dir}: cannot write the site ({error.strerror or error})"
        ) from None
    return site_dir


def _checked_ort_files(ort_dir: Path) -> list[Path]:
    """The onnxruntime-web files the page loads, checked against the pinned hashes."""
    hint = f"install onnxruntime-web {ORT_VERSION} with `npm ci` and pass its dist folder"
    if not ort_dir.is_dir():
        raise SiteError(f"--ort-dir {ort_dir}: folder not found; {hint}")
    paths = []
    for name, integrity in ORT_INTEGRITY.items():
        path = ort_dir / name
        if not path.is_file():
            raise SiteError(f"--ort-dir {ort_dir}: {name} not found; {hint}")
        if sri_hash(path) != integrity:
            raise SiteError(
                f"--ort-dir {ort_dir}: {name} is not the one of onnxruntime-web {ORT_VERSION}; "
                f"{hint}"
            )
        paths.append(path)
    return paths


def _check_target(site_dir: Path, force: bool) -> None:
    """Refuse a target that cannot hold the site, or one whose contents would be lost."""
    parent = site_dir.absolute().parent
    if not parent.is_dir():
        problem = "is not a folder" if parent.exists() else "does not exist"
        raise SiteError(f"-o {site_dir}: {parent} {problem}")
    if site_dir.exists() and not site_dir.is_dir():
        raise SiteError(f"-o {site_dir}: exists and is not a folder")
    if not site_dir.is_dir() or not any(site_dir.iterdir()):
        return
    if is_current_folder_or_above(site_dir):
        raise SiteError(f"-o {site_dir}: give a folder of its own, not the current folder")
    # --force replaces a site, never a folder of other files named by mistake.
    if not (site_dir / "index.html").is_file() or not (site_dir / MODEL_FOLDER).is_dir():
        raise SiteError(f"-o {site_dir}: folder is not empty and holds no site; choose another")
    if not force:
        raise SiteError(f"-o {site_dir}: folder holds a site; pass --force to replace it")


def _write_page(folder: Path, model_name: str, offline: bool) -> None:
    """Copy the static files; index.html gets the configuration in place of its placeholder."""
    # "./" makes it a URL in the import map, not a bare module name.
    ort_base = f"./{ORT_FOLDER}/" if offline else ORT_CDN
    module_url = ort_base + ORT_MODULE
    module_integrity = {
        ort_base + name: value for name, value in ORT_INTEGRITY.items() if name.endswith(".mjs")
    }
    config = {
        "modelName": model_name,
        "manifestUrl": f"{MODEL_FOLDER}/{MANIFEST_NAME}",
        "ortDist": ort_base,
        "ortWasm": {"url": ort_base + ORT_WASM, "integrity": ORT_INTEGRITY[ORT_WASM]},
    }
    import_map = {"imports": {"onnxruntime-web": module_url}, "integrity": module_integrity}
    head = "\n".join(
        [
            f'<script type="importmap">{_script_json(import_map)}</script>',
            f'<link rel="modulepreload" href="{module_url}" '
            f'integrity="{ORT_INTEGRITY[ORT_MODULE]}" crossorigin="anonymous">',
            f'<script type="application/json" id="vae-edge-config">{_script_json(config)}</script>',
        ]
    )
    for item in resources.files("vae_edge.web").joinpath("static").iterdir():
        text = item.read_text(encoding="utf-8")
        if item.name == "index.html":
            text = text.replace(CONFIG_PLACEHOLDER, head)
        (folder / item.name).write_text(text, encoding="utf-8")


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element (no `</script>` can end it early)."""
    return json.dumps(value).replace("<", "\\u003c")
