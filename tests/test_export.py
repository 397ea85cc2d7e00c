"""`vae-edge export`: self-contained graphs, dynamic batch, manifest, validation, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from cli_checks import cli_process_command, one_line_error
from click.testing import CliRunner
from full_disk import fill, small_tmpfs

import vae_edge
from vae_edge.cli import main
from vae_edge.config import DEFAULT_ATOL
from vae_edge.errors import OutputError
from vae_edge.export import export_model
from vae_edge.export.onnx_export import RANDOM_OPS
from vae_edge.export.validate import validate
from vae_edge.runtime.manifest import read_manifest, sha256_file
from vae_edge.training.checkpoint import load_checkpoint


def invoke(*args):
    return CliRunner().invoke(main, ["export", *map(str, args)])


@pytest.fixture(scope="module")
def cli_export(small_run, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("cli") / "model"
    result = invoke(small_run, "-o", model_dir)
    assert result.exit_code == 0, result.output
    return model_dir, result.output


def test_export_writes_two_self_contained_checked_graphs(cli_export):
    model_dir, output = cli_export
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "decoder.onnx",
        "encoder.onnx",
        "manifest.json",
    ]
    assert "validation ok" in output
    assert len(output.splitlines()) == 4  # quiet: no exporter chatter
    for name in ("encoder.onnx", "decoder.onnx"):
        graph = onnx.load(str(model_dir / name))
        onnx.checker.check_model(graph, full_check=True)
        assert not {node.op_type for node in graph.graph.node} & RANDOM_OPS
        assert not any(
            init.data_location == onnx.TensorProto.EXTERNAL for init in graph.graph.initializer
        )


def test_graphs_have_the_promised_names_and_a_dynamic_batch(cli_export):
    model_dir, _ = cli_export
    encoder = ort.InferenceSession(str(model_dir / "encoder.onnx"))
    decoder = ort.InferenceSession(str(model_dir / "decoder.onnx"))
    assert [i.name for i in encoder.get_inputs()] == ["image"]
    assert [o.name for o in encoder.get_outputs()] == ["mu", "logvar"]
    assert [i.name for i in decoder.get_inputs()] == ["z"]
    assert [o.name for o in decoder.get_outputs()] == ["probs", "logits"]
    assert encoder.get_inputs()[0].shape == ["batch", 196]
    assert decoder.get_inputs()[0].shape == ["batch", 6]
    for batch in (1, 333):
        mu, logvar = encoder.run(None, {"image": np.zeros((batch, 196), np.float32)})
        assert mu.shape == logvar.shape == (batch, 6)
        probs, _ = decoder.run(None, {"z": np.zeros((batch, 6), np.float32)})
        assert probs.shape == (batch, 196)


def test_manifest_describes_and_fingerprints_the_graphs(cli_export, small_run):
    model_dir, _ = cli_export
    manifest = read_manifest(model_dir)
    data = json.loads((model_dir / "manifest.json").read_text())
    assert manifest.config == load_checkpoint(small_run).config
    assert manifest.decoder.sha256 == sha256_file(model_dir / "decoder.onnx")
    assert data["image_shape"] == [14, 14] and data["preprocessing"]["threshold"] == 128
    assert data["training"]["epochs"] == 2 and "validation_kl" in data["training"]
    assert data["validation"]["passed"] is True
    assert max(data["validation"]["worst_abs_difference"].values()) < 1e-4


def test_validation_catches_a_model_that_differs(cli_export, small_vae):
    model_dir, _ = cli_export
    perturbed = load_state_copy(small_vae)
    with torch.no_grad():
        perturbed.decoder.out.bias += 1e-3
    result = validate(model_dir, perturbed)
    assert not result.passed
    assert result.worst["probs"] > DEFAULT_ATOL and result.worst["mu"] < DEFAULT_ATOL
    assert "FAILED" in result.summary()


def load_state_copy(vae):
    from vae_edge.training.model import VAE

    copy = VAE(vae.config)
    copy.load_state_dict(vae.state_dict())
    return copy.eval()


def test_int8_quantization_is_smaller_and_close(small_run, tmp_path, cli_export):
    model_dir = tmp_path / "int8"
    result = invoke(small_run, "-o", model_dir, "--quantize", "int8")
    assert result.exit_code == 0, result.output
    manifest = read_manifest(model_dir)
    assert manifest.variant == "int8"
    float_dir, _ = cli_export
    float_size = (float_dir / "decoder.onnx").stat().st_size
    assert (model_dir / "decoder.onnx").stat().st_size < float_size / 2
    # The float graphs passed; the int8 differences are recorded, not judged.
    assert manifest.validation["passed"] is True
    assert manifest.validation["worst_abs_difference"]["probs"] <= DEFAULT_ATOL
    int8 = manifest.validation["int8"]
    assert int8["held_to_tolerance"] is False
    assert DEFAULT_ATOL < int8["worst_abs_difference"]["probs"] < 0.2


def test_export_errors_are_one_line_and_leave_nothing(tmp_path, small_run, cli_export):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    (tmp_path / "empty-run").mkdir()
    one_line_error(invoke(garbage, "-o", tmp_path / "m1"), "garbage.pt")
    one_line_error(invoke(tmp_path / "nope.pt", "-o", tmp_path / "m2"), "does not exist")
    one_line_error(invoke(tmp_path / "empty-run", "-o", tmp_path / "m3"), "not found")
    one_line_error(invoke(small_run, "-o", tmp_path / "missing" / "m"), "missing does not exist")
    model_dir, _ = cli_export
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    assert "--force" in one_line_error(invoke(small_run, "-o", model_dir))
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-run", "garbage.pt"]
    assert not any((tmp_path / "empty-run").iterdir())


def test_a_failed_validation_fails_the_export_and_leaves_nothing(tmp_path, small_run):
    # An --atol below float32 rounding is a real way to make onnx and torch "disagree".
    error = one_line_error(invoke(small_run, "-o", tmp_path / "model", "--atol", "1e-12"))
    assert "validation FAILED" in error and "probs" in error
    assert list(tmp_path.iterdir()) == []


def test_graphs_default_to_the_lowest_opset_of_their_operators(cli_export):
    model_dir, output = cli_export
    manifest = read_manifest(model_dir)
    # Gemm, Tanh and Sigmoid last changed in opset 13, which came with IR version 7.
    assert (manifest.opset, manifest.ir_version) == (13, 7)
    for name in ("encoder.onnx", "decoder.onnx"):
        graph = onnx.load(str(model_dir / name))
        assert [(o.domain, o.version) for o in graph.opset_import] == [("", 13)]
        assert graph.ir_version == 7
    assert "opset 13, IR version 7" in output


def test_opset_option_writes_that_opset_and_records_it(tmp_path, small_run, small_vae):
    manifest, results = export_model(load_checkpoint(small_run), tmp_path / "model", opset=17)
    assert results[0].passed
    graph = onnx.load(str(tmp_path / "model" / "decoder.onnx"))
    assert [o.version for o in graph.opset_import] == [17] and manifest.opset == 17
    assert manifest.ir_version == graph.ir_version == 8


@pytest.mark.parametrize("opset", ["12", "99"])
def test_an_opset_that_cannot_hold_the_graph_is_an_error_not_a_false_manifest(
    tmp_path, small_run, opset
):
    one_line_error(invoke(small_run, "-o", tmp_path / "model", "--opset", opset), f"opset {opset}")
    assert list(tmp_path.iterdir()) == []


def test_graphs_hold_nothing_of_the_exporting_machine(tmp_path, small_run):
    marker = f"marker-{uuid.uuid4().hex}"
    run_dir = tmp_path / marker / "run"
    shutil.copytree(small_run, run_dir)
    assert invoke(run_dir, "-o", tmp_path / marker / "model").exit_code == 0
    project = str(Path(vae_edge.__file__).resolve().parents[1]).encode()
    for name in ("encoder.onnx", "decoder.onnx", "manifest.json"):
        data = (tmp_path / marker / "model" / name).read_bytes()
        assert marker.encode() not in data and project not in data
        assert b"site-packages" not in data and b".py" not in data


def test_an_untrained_checkpoint_exports_without_training_results(tmp_path, small_run):
    untrained = dataclasses.replace(load_checkpoint(small_run), epoch=0, history=[])
    manifest, results = export_model(untrained, tmp_path / "model")
    assert results[0].passed
    assert manifest.training["epochs"] == 0 and "validation_kl" not in manifest.training
    assert read_manifest(tmp_path / "model").training == manifest.training


def test_a_history_without_some_metrics_records_the_ones_it_has(tmp_path, small_run):
    sparse = dataclasses.replace(load_checkpoint(small_run), history=[{"epoch": 1, "train_kl": 3}])
    manifest, _ = export_model(sparse, tmp_path / "model")
    assert manifest.training == {"epochs": 2, "options": sparse.options, "train_kl": 3.0}


def test_a_manifest_that_cannot_be_written_leaves_no_graphs_behind(tmp_path, small_run):
    # The manifest is serialised before any graph moves into the model folder.
    odd = dataclasses.replace(load_checkpoint(small_run), options={"not json": object()})
    with pytest.raises(TypeError):
        export_model(odd, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_a_model(tmp_path, small_run):
    model_dir = tmp_path / "model"
    assert invoke(small_run, "-o", model_dir).exit_code == 0
    (model_dir / "decoder.onnx").write_bytes(b"damaged")
    assert invoke(small_run, "-o", model_dir, "--force").exit_code == 0
    read_manifest(model_dir)


def test_a_nan_model_fails_validation_and_never_replaces_a_good_one(tmp_path, small_run):
    model_dir = tmp_path / "model"
    assert invoke(small_run, "-o", model_dir).exit_code == 0
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    checkpoint = load_checkpoint(small_run)
    weights = {name: value.clone() for name, value in checkpoint.model_state.items()}
    next(iter(weights.values()))[0, 0] = float("nan")  # one diverged weight spreads to all
    diverged = tmp_path / "diverged.pt"
    dataclasses.replace(checkpoint, model_state=weights).save(diverged)
    error = one_line_error(invoke(diverged, "-o", model_dir, "--force"), "validation FAILED")
    assert "NaN or infinite" in error
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before


def test_force_swaps_the_whole_folder_and_leaves_no_scratch(tmp_path, small_run, monkeypatch):
    model_dir = tmp_path / "model"
    export_model(load_checkpoint(small_run), model_dir)
    old_inode = model_dir.stat().st_ino
    # Graphs are never moved file by file into the live folder (the old code deleted the
    # manifest, then moved graphs: a failure there lost the old model).
    real_replace = os.replace

    def no_moves_into_the_model(source, target):
        assert Path(target).parent != model_dir, f"moved {source} into the live folder"
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", no_moves_into_the_model)
    manifest, _ = export_model(load_checkpoint(small_run), model_dir, atol=2e-5)
    assert model_dir.stat().st_ino != old_inode  # a new folder took the old one's place
    assert read_manifest(model_dir).validation["atol"] == 2e-5 == manifest.validation["atol"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    umask = os.umask(0)
    os.umask(umask)
    assert model_dir.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700


def test_the_fallback_swap_restores_the_old_model_when_the_second_rename_fails(
    tmp_path, small_run, monkeypatch
):
    from vae_edge import atomic

    model_dir = tmp_path / "model"
    export_model(load_checkpoint(small_run), model_dir)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    real_rename = os.rename

    def failing_rename(source, target):
        # The new folder's rename onto the target fails; the restoring one is let through.
        if Path(target) == model_dir and not str(source).endswith(".old"):
            raise OSError(28, "No space left on device")
        return real_rename(source, target)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OutputError, match=r"No space left on device.*is unchanged"):
        export_model(load_checkpoint(small_run), model_dir, atol=2e-5)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    monkeypatch.setattr(os, "rename", real_rename)
    export_model(load_checkpoint(small_run), model_dir, atol=2e-5)  # the fallback works
    assert read_manifest(model_dir).validation["atol"] == 2e-5


def test_export_refuses_to_replace_a_folder_holding_other_files(tmp_path, small_run):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine")
    one_line_error(invoke(small_run, "-o", tmp_path / "model", "--force"), "notes.txt")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("target", [".", "sub/..", "sub/../.."])
def test_export_refuses_the_current_folder_or_one_above(tmp_path, small_run, monkeypatch, target):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work)
    one_line_error(invoke(small_run, "-o", target, "--force"), "a folder of its own")
    assert [p.name for p in tmp_path.iterdir()] == ["work"]
    assert [p.name for p in work.iterdir()] == ["sub"]


def test_export_deletes_nothing_in_a_folder_that_holds_no_model(tmp_path, small_run, dead_pid):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    # Named like a temporary of a vae-edge process that has ended, but in the user's folder.
    lookalike = folder / f".draft.{dead_pid}.0badc0de.tmp"
    lookalike.write_text("also mine")
    one_line_error(invoke(small_run, "-o", folder, "--force"), "notes.txt")
    assert sorted(p.name for p in folder.iterdir()) == [lookalike.name, "notes.txt"]


def test_export_removes_scratch_folders_of_killed_exports(tmp_path, small_run, dead_pid):
    orphan = tmp_path / f".model.{dead_pid}.0badc0de.tmp"
    orphan.mkdir()
    (orphan / "encoder.onnx").write_bytes(b"half")
    export_model(load_checkpoint(small_run), tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_scratch_of_a_killed_classifier_export_does_not_block_a_new_export(
    tmp_path, small_run, dead_pid
):
    model_dir = tmp_path / "model"
    export_model(load_checkpoint(small_run), model_dir)
    orphan = model_dir / f".classifier.onnx.{dead_pid}.0badc0de.tmp"
    orphan.mkdir()
    (orphan / "classifier.onnx").write_bytes(b"half")
    export_model(load_checkpoint(small_run), model_dir)
    assert not orphan.exists()
    assert read_manifest(model_dir).decoder.file == "decoder.onnx"


def test_export_refuses_an_infinite_atol(tmp_path, small_run):
    one_line_error(invoke(small_run, "-o", tmp_path / "model", "--atol", "inf"), "--atol")


@pytest.mark.slow
def test_ctrl_c_during_export_is_one_line_exit_130_and_leaves_nothing(tmp_path, small_run):
    process = subprocess.Popen(
        cli_process_command("export", small_run, "-o", tmp_path / "model"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".model.*.tmp")) and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert output.strip() == "interrupted"
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_line_and_keeps_the_old_model(tmp_path, small_run):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        fill(disk, leave_bytes=20_000)  # room for a part of a model only
        fresh = one_line_error(invoke(small_run, "-o", disk / "model"), "No space left on device")
        assert fresh.startswith(f"Error: -o {disk / 'model'}: cannot write the model")
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        (disk / "filler").unlink()
        assert invoke(small_run, "-o", disk / "model").exit_code == 0
        before = {p.name: p.read_bytes() for p in (disk / "model").iterdir()}
        fill(disk, leave_bytes=20_000)
        one_line_error(invoke(small_run, "-o", disk / "model", "--force"), "No space left")
        assert {p.name: p.read_bytes() for p in (disk / "model").iterdir()} == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "model"]
