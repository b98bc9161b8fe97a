import pytest
import torch

from mnist_core.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.models import build_model

CFG = TrainConfig(model="mlp", hidden_sizes="16")


@pytest.fixture
def saved(tmp_path):
    model = build_model(CFG)
    path = save_checkpoint(tmp_path / "m.pt", model, CFG, {"steps": [], "epochs": []}, {"test_accuracy": 0.5})
    return path, model


def test_round_trip(saved):
    path, model = saved
    loaded = load_model(path)
    assert loaded.config == CFG
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(loaded.model(x), model.eval()(x))
    payload = loaded.payload
    assert {"history", "metrics", "dataset", "created", "versions"} <= set(payload)
    assert payload["versions"]["torch"] == str(torch.__version__)


def test_loads_with_weights_only(saved):
    assert torch.load(saved[0], weights_only=True)["format"] == "mnist_core.checkpoint"


def test_atomic_write_leaves_no_temporary_file(saved):
    assert [p.name for p in saved[0].parent.iterdir()] == ["m.pt"]


def test_truncated_file(saved, tmp_path):
    data = saved[0].read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(bad)


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "text.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a mnist_core checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such"):
        read_checkpoint(tmp_path / "missing.pt")


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickle_payload_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "mnist_core.checkpoint", "evil": Payload(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_config_and_weights_must_agree(saved, tmp_path):
    payload = torch.load(saved[0], weights_only=True)
    payload["config"]["hidden_sizes"] = "32"
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not match"):
        load_model(tmp_path / "mismatch.pt")


def test_invalid_config_inside(saved, tmp_path):
    payload = torch.load(saved[0], weights_only=True)
    payload["config"]["lr"] = float("nan")
    torch.save(payload, tmp_path / "badcfg.pt")
    with pytest.raises(CheckpointError, match="invalid config.*lr"):
        read_checkpoint(tmp_path / "badcfg.pt")
