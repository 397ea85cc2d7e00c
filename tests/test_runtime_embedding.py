"""What apps that embed the runtime rely on: threads, onnxruntime options, zipped packages."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import threading
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import vae_edge
from vae_edge import runtime
from vae_edge.errors import InputError

N_THREADS = 8


@pytest.fixture(scope="module")
def model():
    return runtime.load()


@pytest.mark.parametrize("lazy", [False, True])  # lazy: the threads race to open sessions
def test_one_model_called_from_eight_threads_at_once_gives_the_serial_results(lazy):
    model = runtime.load(lazy=lazy)
    rng = np.random.default_rng(0)
    codes = [rng.standard_normal((1 + 5 * i, model.latent_dim), np.float32) for i in range(8)]
    images = [(rng.random((1 + 3 * i, 196)) < 0.3).astype(np.float32) for i in range(8)]

    def work(on: runtime.VAEModel, index: int) -> list[np.ndarray]:
        mu, logvar = on.encode(images[index])
        return [on.decode(codes[index]), mu, logvar, on.generate(20, seed=index)]

    serial_model = runtime.load()
    serial = [work(serial_model, index) for index in range(N_THREADS)]
    results: dict[tuple[int, int], list[np.ndarray]] = {}
    start = threading.Barrier(N_THREADS)

    def thread_main(index: int) -> None:
        start.wait()  # all threads call at once
        for repeat in range(20):
            results[index, repeat] = work(model, index)

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == N_THREADS * 20
    for (index, _), arrays in results.items():
        for got, expected in zip(arrays, serial[index], strict=True):
            assert np.array_equal(got, expected)


def test_default_sessions_run_on_the_cpu_with_the_runtimes_options(model):
    for graph in ("encoder", "decoder"):
        assert model.session(graph).get_providers() == ["CPUExecutionProvider"]
        options = model.session(graph).get_session_options()
        assert options.intra_op_num_threads == runtime.DEFAULT_THREADS
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_session_options_and_providers_pass_through_to_onnxruntime(tmp_path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 3
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    model = runtime.load(providers=["CPUExecutionProvider"], session_options=options)
    assert model.session("decoder").get_session_options().intra_op_num_threads == 3
    assert (tmp_path / "optimized.onnx").stat().st_size > 0  # onnxruntime used the options
    z = np.zeros((2, model.latent_dim), np.float32)
    assert np.array_equal(model.decode(z), runtime.load().decode(z))


def test_session_gives_the_models_own_sessions_opened_on_demand():
    model = runtime.load(lazy=True)
    z = np.zeros((2, model.latent_dim), np.float32)
    (probs, _) = model.session("decoder").run(None, {"z": z})
    assert np.array_equal(probs.reshape(model.decode(z).shape), model.decode(z))
    assert model.session("decoder") is model.session("decoder")
    with pytest.raises(InputError, match="encoder, decoder, classifier, conditional"):
        model.session("decoder.onnx")
    assert [node.name for node in model.session("classifier").get_inputs()] == ["mu"]
    inputs = [node.name for node in model.session("conditional").get_inputs()]
    assert inputs == ["digit", "z2"]


def test_providers_as_name_and_options_pairs_are_accepted():
    model = runtime.load(providers=[("CPUExecutionProvider", {})])
    assert model.session("decoder").get_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"providers": ["NoSuchExecutionProvider"]}, r"'NoSuchExecutionProvider' is not.*CPU"),
        ({"providers": "CPUExecutionProvider"}, "non-empty list"),
        ({"providers": []}, "non-empty list"),
        ({"session_options": {"intra_op_num_threads": 2}}, "onnxruntime.SessionOptions"),
        ({"session_options": ort.SessionOptions(), "threads": 2}, "threads or session_options"),
    ],
)
def test_bad_onnxruntime_settings_are_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        runtime.load(**kwargs)


def test_the_bundled_model_loads_from_a_zipped_package(tmp_path):
    package = Path(vae_edge.__file__).parent
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in package.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zipped.write(path, path.relative_to(package.parent))
    expected = runtime.load().generate(4, seed=7)
    # -S: no site-packages, so the editable install cannot shadow the zip; numpy and
    # onnxruntime come from the site-packages folders named on the path after the zip.
    site = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    code = (
        "import sys, numpy as np\n"
        "import vae_edge\n"
        f"assert vae_edge.__file__.startswith({str(archive)!r}), vae_edge.__file__\n"
        "from vae_edge import runtime\n"
        "model = runtime.load()\n"
        "sys.stdout.buffer.write(model.generate(4, seed=7).tobytes())\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": ":".join([str(archive), *sorted(site)])},
        cwd=tmp_path,  # not the checkout, whose vae_edge folder would come first
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    digits = np.frombuffer(result.stdout, np.float32).reshape(expected.shape)
    assert np.array_equal(digits, expected)
