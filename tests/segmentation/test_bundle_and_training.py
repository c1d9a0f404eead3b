"""Model bundle reading (a site's own bundle is data, never code) and reproducible training."""

from __future__ import annotations

import json

import pytest
import torch

from segmentation.bundle import BundleError, read_bundle
from segmentation.engines.monai_engine import MonaiSegmenter
from segmentation.training.train import train


def test_training_writes_a_loadable_bundle_and_is_reproducible(tmp_path):
    a = train(tmp_path / "a", steps=2, seed=5, channels=(4, 8, 16), log=lambda *_: None)
    b = train(tmp_path / "b", steps=2, seed=5, channels=(4, 8, 16), log=lambda *_: None)
    assert a.steps == b.steps == 2
    wa = torch.load(tmp_path / "a" / "models" / "model.pt", weights_only=True)
    wb = torch.load(tmp_path / "b" / "models" / "model.pt", weights_only=True)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    config = read_bundle(tmp_path / "a")
    assert config.metadata["training"]["seed"] == 5
    assert config.metadata["training"]["complete"] is True
    engine = MonaiSegmenter(tmp_path / "a", "cpu")
    assert engine.network is not None


def _bundle(tmp_path, network_def):
    (tmp_path / "configs").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "configs" / "metadata.json").write_text(json.dumps({"name": "x", "version": "1"}))
    (tmp_path / "configs" / "inference.json").write_text(json.dumps({"network_def": network_def}))
    (tmp_path / "models" / "model.pt").write_bytes(b"not a state dict")
    return tmp_path


def test_a_bundle_naming_code_outside_monai_networks_is_refused(tmp_path):
    root = _bundle(tmp_path, {"_target_": "os.system", "command": "echo hi"})
    with pytest.raises(BundleError, match="not a MONAI network"):
        read_bundle(root)


def test_corrupt_weights_are_a_clear_error(tmp_path):
    root = _bundle(
        tmp_path,
        {
            "_target_": "monai.networks.nets.UNet",
            "spatial_dims": 3,
            "in_channels": 3,
            "out_channels": 1,
            "channels": [4, 8],
            "strides": [2],
        },
    )
    engine = MonaiSegmenter(root, "cpu")
    with pytest.raises(BundleError, match="cannot load weights"):
        _ = engine.network


def test_missing_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(BundleError, match="no model bundle"):
        read_bundle(tmp_path / "absent")
    root = _bundle(tmp_path, {"_target_": "monai.networks.nets.UNet"})
    (root / "configs" / "inference.json").write_text("{broken")
    with pytest.raises(BundleError, match=r"inference\.json"):
        read_bundle(root)


def test_train_command_refuses_impossible_parallel_options(capsys):
    from workstation.cli import main

    assert main(["train", "--workers", "2", "--steps", "5"]) != 0
    assert "--workers trains for --minutes" in capsys.readouterr().err
    assert main(["train", "--workers", "1", "--minutes", "1", "--init", "no-such-bundle", "--device", "cpu"]) != 0
    assert "--init: no model bundle at no-such-bundle" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "--workers", "1", "--minutes", "1", "--device", "cuda"]) != 0
        assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["train", "--workers", "1", "--minutes", "1", "--hard", "1.5"]) != 0
    assert "--hard is a share of the draws, from 0 to 1 (not 1.5)" in capsys.readouterr().err
    assert main(["train", "--minutes", "1", "--hard", "0.5"]) != 0
    assert "--hard needs --workers" in capsys.readouterr().err
    assert main(["train", "--workers", "1", "--minutes", "1", "--negative", "-0.1"]) != 0
    assert "--negative is a share of the draws, from 0 to 1 (not -0.1)" in capsys.readouterr().err
    assert main(["train", "--minutes", "1", "--negative", "0.2"]) != 0
    assert "--negative needs --workers" in capsys.readouterr().err


def test_the_confidence_calibration_is_the_bundles_own(tmp_path):
    net = {"_target_": "monai.networks.nets.UNet", "spatial_dims": 3, "in_channels": 3, "out_channels": 1}
    root = _bundle(tmp_path, net)
    assert read_bundle(root).confidence_sharpness == (0.80, 0.90)  # bundles written before it was a setting
    for value, ok in (([0.82, 0.92], True), ([0.9, 0.8], False), ([0.5, 1.5], False)):
        inference = {"network_def": net, "postprocessing": {"confidence_sharpness": value}}
        (root / "configs" / "inference.json").write_text(json.dumps(inference))
        if ok:
            assert read_bundle(root).confidence_sharpness == tuple(value)
        else:
            with pytest.raises(BundleError, match="confidence_sharpness"):
                read_bundle(root)


def test_the_edge_threshold_range_is_checked_against_the_threshold(tmp_path):
    net = {"_target_": "monai.networks.nets.UNet", "spatial_dims": 3, "in_channels": 3, "out_channels": 1}
    root = _bundle(tmp_path, net)
    assert read_bundle(root).edge_threshold_range is None  # bundles written before it was a setting: fixed threshold
    for value, ok in (([0.15, 0.6], True), ([0.35, 0.6], False), ([0.1, 0.2], False), ([0.0, 0.5], False)):
        post = {"threshold": 0.3, "edge_threshold_range": value}
        (root / "configs" / "inference.json").write_text(json.dumps({"network_def": net, "postprocessing": post}))
        if ok:
            assert read_bundle(root).edge_threshold_range == tuple(value)
        else:
            with pytest.raises(BundleError, match="edge_threshold_range"):
                read_bundle(root)


def test_train_command_builds_a_network_of_the_widths_asked_for(tmp_path, capsys):
    from workstation.cli import main

    assert main(["train", "--steps", "1", "--channels", "4,8,16", "--out", str(tmp_path / "b")]) == 0
    assert read_bundle(tmp_path / "b").network_args["channels"] == [4, 8, 16]
    capsys.readouterr()
    assert main(["train", "--steps", "1", "--channels", "4,8", "--init", str(tmp_path / "b")]) != 0
    assert "--channels builds a new network; --init continues the bundle's own" in capsys.readouterr().err
    for bad in ("4,x,16", "8"):
        with pytest.raises(SystemExit):
            main(["train", "--steps", "1", "--channels", bad])
        assert "--channels" in capsys.readouterr().err


def test_a_wider_network_keeps_the_shipped_strides():
    from segmentation.bundle import default_network_def

    wider = default_network_def((24, 48, 96, 192, 384))
    assert wider["strides"] == default_network_def()["strides"] == [[1, 2, 2], 2, 2, 2]
    assert default_network_def((4, 8, 16))["strides"] == [2, 2]
