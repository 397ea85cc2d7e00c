"""The site builder, its server and `vae-edge web`, without a browser."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from blocked_imports import HEAVY, run_blocked
from cli_checks import one_line_error
from click.testing import CliRunner
from full_disk import fill, small_tmpfs

from benchmarks.chromium import NPM_HINT, NPM_ORT_DIST
from vae_edge.cli import main
from vae_edge.runtime import DEFAULT_MODEL_DIR
from vae_edge.runtime.manifest import (
    CLASSIFIER_INPUTS,
    CLASSIFIER_NAME,
    CLASSIFIER_OUTPUTS,
    CONDITIONAL_NAME,
    MANIFEST_NAME,
    sha256_file,
)
from vae_edge.web import make_server
from vae_edge.web.site import (
    MODEL_FOLDER,
    ORT_CDN,
    ORT_FOLDER,
    ORT_INTEGRITY,
    ORT_MODULE,
    ORT_VERSION,
    sri_hash,
)

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ort_dist() -> Path:
    folder = PROJECT / NPM_ORT_DIST
    if not (folder / ORT_MODULE).is_file():
        pytest.fail(f"{folder} lacks onnxruntime-web: {NPM_HINT}")
    return folder


def build(*args: str) -> object:
    return CliRunner().invoke(main, ["web", *args])


def page_head(site: Path) -> tuple[dict, dict, str]:
    """The built page's import map, its configuration and its modulepreload integrity."""
    html = (site / "index.html").read_text(encoding="utf-8")
    import_map = re.search(r'<script type="importmap">(.*?)</script>', html).group(1)
    config = re.search(r'<script type="application/json" id="vae-edge-config">(.*?)</script>', html)
    preload = re.search(r'<link rel="modulepreload" href="([^"]+)" integrity="([^"]+)"', html)
    return json.loads(import_map), json.loads(config.group(1)), preload.groups()


def test_default_site_loads_pinned_onnxruntime_web_from_the_cdn_with_integrity(tmp_path):
    result = build("--model", "default", "-o", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    import_map, config, (preload_url, preload_integrity) = page_head(site)
    module_url = ORT_CDN + ORT_MODULE
    assert f"onnxruntime-web@{ORT_VERSION}/" in module_url
    assert import_map["imports"]["onnxruntime-web"] == module_url
    assert import_map["integrity"][module_url] == ORT_INTEGRITY[ORT_MODULE]
    assert (preload_url, preload_integrity) == (module_url, ORT_INTEGRITY[ORT_MODULE])
    assert config["ortDist"] == ORT_CDN
    assert config["modelName"] == "default"
    assert config["ortWasm"]["url"].startswith(ORT_CDN)
    assert not (site / ORT_FOLDER).exists()
    for name in (MANIFEST_NAME, "encoder.onnx", "decoder.onnx"):
        assert (site / MODEL_FOLDER / name).read_bytes() == (DEFAULT_MODEL_DIR / name).read_bytes()
    assert {"index.html", "page.js", "vae-model.js", "images.js", "style.css"} <= {
        path.name for path in site.iterdir()
    }


def test_site_copies_every_graph_the_manifest_names(tmp_path):
    """An optional graph (a classifier) travels with the model folder."""
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    shutil.copyfile(model / "decoder.onnx", model / CLASSIFIER_NAME)  # any graph: hash only
    manifest = json.loads((model / MANIFEST_NAME).read_text())
    manifest["classifier"] = {
        "file": CLASSIFIER_NAME,
        "sha256": sha256_file(model / CLASSIFIER_NAME),
        "inputs": list(CLASSIFIER_INPUTS),
        "outputs": list(CLASSIFIER_OUTPUTS),
    }
    (model / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert build("--model", str(model), "-o", str(tmp_path / "site")).exit_code == 0
    copied = sorted(path.name for path in (tmp_path / "site" / MODEL_FOLDER).iterdir())
    # The bundled default also holds M2's conditional generator, which travels too.
    expected = [MANIFEST_NAME, "encoder.onnx", "decoder.onnx", CLASSIFIER_NAME, CONDITIONAL_NAME]
    assert copied == sorted(expected)


def test_pinned_hashes_match_the_npm_package(ort_dist):
    """package.json, its lock file and the page's SRI hashes all name the same files."""
    package = json.loads((PROJECT / "package.json").read_text())
    lock = json.loads((PROJECT / "package-lock.json").read_text())
    assert package["dependencies"]["onnxruntime-web"] == ORT_VERSION
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == ORT_VERSION
    installed = json.loads((ort_dist.parent / "package.json").read_text())
    assert installed["version"] == ORT_VERSION
    for name, integrity in ORT_INTEGRITY.items():
        assert sri_hash(ort_dist / name) == integrity, name


def test_offline_site_copies_only_the_files_the_page_loads(tmp_path, ort_dist):
    site = tmp_path / "site"
    assert build("-o", str(site), "--ort-dir", str(ort_dist)).exit_code == 0
    import_map, config, _ = page_head(site)
    assert import_map["imports"]["onnxruntime-web"] == f"./{ORT_FOLDER}/{ORT_MODULE}"
    assert sorted(path.name for path in (site / ORT_FOLDER).iterdir()) == sorted(ORT_INTEGRITY)
    for name, integrity in ORT_INTEGRITY.items():
        assert sri_hash(site / ORT_FOLDER / name) == integrity
    assert "cdn" not in (site / "index.html").read_text()
    assert config["ortDist"] == f"./{ORT_FOLDER}/"


def test_site_names_nothing_of_the_build_machine(tmp_path, ort_dist):
    site = tmp_path / "site"
    assert build("-o", str(site), "--ort-dir", str(ort_dist)).exit_code == 0
    for path in site.glob("*.*"):
        text = path.read_text(encoding="utf-8")
        assert str(PROJECT) not in text and str(tmp_path) not in text, path
        assert "/root" not in text and "/home/" not in text, path


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda model: shutil.rmtree(model), "model folder not found"),
        (lambda model: (model / MANIFEST_NAME).unlink(), "manifest not found"),
        (lambda model: (model / MANIFEST_NAME).write_text("{"), "not a readable JSON manifest"),
        (lambda model: (model / "decoder.onnx").write_bytes(b"onnx"), "SHA-256 does not match"),
    ],
)
def test_bad_model_folder_is_one_line_and_leaves_no_site(tmp_path, damage, fragment):
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    damage(model)
    result = build("--model", str(model), "-o", str(tmp_path / "site"))
    one_line_error(result, fragment)
    assert sorted(path.name for path in tmp_path.iterdir()) == (["model"] if model.exists() else [])


def test_unwritable_or_impossible_site_is_one_line_and_leaves_nothing(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    one_line_error(build("-o", str(a_file)), "exists and is not a folder")
    one_line_error(build("-o", str(a_file / "site")), "is not a folder")
    one_line_error(build("-o", str(tmp_path / "missing" / "site")), "does not exist")
    # /proc accepts no new folders, even from root.
    one_line_error(build("-o", "/proc/vae-edge-site"), "cannot write the site")
    assert [path.name for path in tmp_path.iterdir()] == ["file"]
    assert not Path("/proc/vae-edge-site").exists()


def test_build_removes_what_a_killed_build_left_beside_the_site(tmp_path, dead_pid):
    left = tmp_path / f".site.{dead_pid}.0badc0de.tmp"
    left.mkdir()
    (left / "index.html").write_text("half")
    assert build("-o", str(tmp_path / "site")).exit_code == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_bad_ort_dir_is_one_line_and_leaves_no_site(tmp_path, ort_dist):
    site = tmp_path / "site"
    one_line_error(build("-o", str(site), "--ort-dir", str(tmp_path / "none")), "folder not found")
    wrong = tmp_path / "dist"
    wrong.mkdir()
    for name in ORT_INTEGRITY:
        shutil.copyfile(ort_dist / name, wrong / name)
    (wrong / ORT_MODULE).write_text("export const tampered = true;\n")
    one_line_error(
        build("-o", str(site), "--ort-dir", str(wrong)),
        f"not the one of onnxruntime-web {ORT_VERSION}",
    )
    assert not site.exists()


def test_existing_site_is_replaced_only_with_force(tmp_path):
    site = tmp_path / "site"
    assert build("-o", str(site)).exit_code == 0
    (site / "old.txt").write_text("from the last build")
    one_line_error(build("-o", str(site)), "pass --force")
    assert (site / "old.txt").is_file()
    assert build("-o", str(site), "--force").exit_code == 0
    assert not (site / "old.txt").exists() and (site / "index.html").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_force_never_replaces_a_folder_that_holds_no_site(tmp_path, monkeypatch):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep me")
    one_line_error(build("-o", str(folder), "--force"), "holds no site")
    monkeypatch.chdir(folder)
    one_line_error(build("-o", ".", "--force"), "not the current folder")
    assert [path.name for path in folder.iterdir()] == ["keep.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes"]


def test_server_gives_the_types_browsers_require(tmp_path, ort_dist):
    site = tmp_path / "site"
    assert build("-o", str(site), "--ort-dir", str(ort_dist)).exit_code == 0
    server = make_server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    expected = {
        "": "text/html",
        "page.js": "text/javascript",
        f"{ORT_FOLDER}/{ORT_MODULE}": "text/javascript",
        f"{ORT_FOLDER}/ort-wasm-simd-threaded.wasm": "application/wasm",
        f"{MODEL_FOLDER}/{MANIFEST_NAME}": "application/json",
    }
    try:
        for path, content_type in expected.items():
            with urllib.request.urlopen(base + path) as response:
                assert response.headers["Content-Type"].split(";")[0] == content_type, path
                assert response.read() == (site / (path or "index.html")).read_bytes()
    finally:
        server.shutdown()
        server.server_close()


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = build("-o", str(tmp_path / "site"), "--serve", "--port", str(port))
    one_line_error(result, f"--port {port}: cannot serve there")
    assert list(tmp_path.iterdir()) == []


def vae_edge_process(*args: str, before: str = "") -> subprocess.Popen:
    """`vae-edge ARGS` in a new interpreter that first runs the Python code `before`."""
    code = f"{before}\nfrom vae_edge.cli import main\nmain()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_option_builds_then_serves_on_localhost_until_ctrl_c(tmp_path):
    site = tmp_path / "site"
    process = vae_edge_process("web", "-o", str(site), "--serve", "--port", "0")
    try:
        assert process.stdout.readline().startswith(f"wrote the site to {site}")
        served = process.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", served).group(1)
        with urllib.request.urlopen(url + f"{MODEL_FOLDER}/decoder.onnx") as response:
            assert response.read() == (DEFAULT_MODEL_DIR / "decoder.onnx").read_bytes()
        process.send_signal(signal.SIGINT)
        output, errors = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, errors
    assert output == ""
    assert errors.endswith('"GET /model/decoder.onnx HTTP/1.1" 200 -\ninterrupted\n')
    assert (site / MODEL_FOLDER / "decoder.onnx").is_file()


# Ctrl-C's KeyboardInterrupt (signal.default_int_handler), raised by a timer signal 50 ms
# into the initialisation of onnxruntime's compiled module (~0.15 s): a timer, not another
# process, so that it lands there however loaded the machine is.
INTERRUPT_ORT_INIT = """
import os, signal, sys
signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))  # a Ctrl-C
class InterruptOrtInit:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "onnxruntime.capi.onnxruntime_pybind11_state":
            signal.setitimer(signal.ITIMER_REAL, {delay})
sys.meta_path.insert(0, InterruptOrtInit)
"""


def test_ctrl_c_while_onnxruntime_initialises_is_one_line_and_status_130(tmp_path):
    # It surfaced as "ImportError: initialization failed", a traceback and status 1 (in
    # `web` too while it imported onnxruntime; now any command that does, as generate).
    # The timer starts as onnxruntime's extension is found. A quiet machine can finish the
    # whole command first; the timer then fires while Python shuts down, which has put
    # SIGALRM back to its default (status -SIGALRM): try a shorter delay.
    for delay in (0.05, 0.02, 0.005):
        folder = tmp_path / f"after-{delay}"
        folder.mkdir()
        before = INTERRUPT_ORT_INIT.format(delay=delay)
        process = vae_edge_process("generate", "-o", str(folder / "grid.png"), before=before)
        _, errors = process.communicate(timeout=60)
        if process.returncode != -signal.SIGALRM:
            break
    assert process.returncode == 130, errors
    assert errors == "interrupted\n"
    assert list(folder.iterdir()) == []


def test_a_full_disk_is_one_line_and_keeps_the_old_site(tmp_path):
    with small_tmpfs(tmp_path / "disk", "4m") as disk:
        site = disk / "site"
        fill(disk, leave_bytes=200_000)  # less than the default model's graphs
        one_line_error(build("-o", str(site)), f"-o {site}: cannot write the site (No space")
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        (disk / "filler").unlink()
        assert build("-o", str(site)).exit_code == 0
        before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
        fill(disk, leave_bytes=200_000)
        one_line_error(build("-o", str(site), "--force"), "No space left on device")
        assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "site"]


def test_site_builds_in_an_interpreter_without_torch(tmp_path):
    """A core install builds a site: the builder and `vae-edge web` never import torch."""
    result = run_blocked(
        f"""
        import sys
        from vae_edge.cli import main
        try:
            main(["web", "-o", {str(tmp_path / "site")!r}])
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        loaded = [m for m in {HEAVY!r} if m in sys.modules]
        assert not loaded, loaded
        """
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / MODEL_FOLDER / MANIFEST_NAME).is_file()
