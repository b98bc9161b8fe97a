import math

import pytest

from mnist_core import estimate as est
from mnist_core.config import TrainConfig
from mnist_core.estimate import Estimate, estimate, format_duration, run_speed, steps_per_epoch


class Run:
    """What the app's run registry lists: config, history (cumulative 'seconds' per epoch), device."""

    def __init__(self, seconds_per_epoch: float, epochs: int = 2, device: str = "cpu", **config):
        self.config = TrainConfig(**config)
        self.history = {"epochs": [{"epoch": e, "seconds": seconds_per_epoch * e} for e in range(1, epochs + 1)]}
        self.device = device


def test_steps_follow_the_training_set_and_batch_size():
    assert steps_per_epoch(TrainConfig()) == math.ceil(55_000 / 256)
    assert steps_per_epoch(TrainConfig(train_size=1000, batch_size=64)) == 16
    assert steps_per_epoch(TrainConfig(val_size=0, batch_size=8192)) == 8  # 60,000 images
    e = estimate(TrainConfig(epochs=3, train_size=1000, batch_size=64), probe=False)
    assert (e.steps, e.steps_per_epoch, e.images_per_epoch) == (48, 16, 1000)


def test_speed_of_earlier_runs_of_the_same_network_gives_the_time():
    runs = [Run(11.0), Run(10.0), Run(12.0), Run(1.0, model="mlp"), Run(1.0, batch_size=128)]
    assert run_speed(runs[1]) == pytest.approx(55_000 / 10.0)
    e = estimate(TrainConfig(epochs=5), runs, probe=False)
    assert e.source == "runs" and e.device == "cpu"
    assert e.samples_per_sec == pytest.approx(55_000 / 11.0)  # the median of the three cnn runs
    assert e.seconds == pytest.approx(55.0)
    assert "3 earlier runs" in e.text() and "55 s" in e.text() and "1,075 steps" in e.text()


def test_checkpoint_payloads_count_as_runs(tmp_path):
    from mnist_core.checkpoint import read_checkpoint
    from tests.support.fixtures import TINY, fake_checkpoint

    payload = read_checkpoint(fake_checkpoint(tmp_path / "a.pt"))  # one epoch, no 'seconds': no speed
    assert run_speed(payload) is None
    payload["history"]["epochs"][0]["seconds"] = 2.0
    payload["device"] = "cpu"
    e = estimate(TrainConfig(**{**TINY, "epochs": 4}), [payload], probe=False)
    assert e.source == "runs" and e.seconds == pytest.approx(8.0)


def test_runs_on_another_device_or_with_augmentation_do_not_count():
    runs = [Run(1.0, device="cuda"), Run(1.0, rotation=10.0)]
    e = estimate(TrainConfig(), runs, probe=False)
    assert (e.source, e.seconds) == ("none", None)
    assert "time unknown" in e.text()


def test_runs_in_another_precision_do_not_count():
    """bf16 steps run about twice as fast as fp32 where the CPU has it: a bf16 run's speed says
    nothing of an fp32 one (on a CPU without bf16, 'auto' is fp32 and shares its speed)."""
    native = est.uses_bf16("auto", est.torch.device("cpu"))
    runs = [Run(1.0, precision="fp32")]
    assert estimate(TrainConfig(precision="fp32"), runs, probe=False).source == "runs"
    assert estimate(TrainConfig(precision="bf16"), runs, probe=False).source == "none"
    assert estimate(TrainConfig(precision="auto"), runs, probe=False).source == ("none" if native else "runs")


def test_runs_with_another_share_of_non_digits_do_not_count():
    """A speed counts digits: a run whose batches carry no non-digits steps faster per digit than one that
    learns to refuse (and an old run, from before not_digits, loads with 0)."""
    runs = [Run(1.0, not_digits=0.0)]
    assert estimate(TrainConfig(not_digits=0.0), runs, probe=False).source == "runs"
    assert estimate(TrainConfig(), runs, probe=False).source == "none"


def test_the_probe_steps_the_digits_and_their_non_digits(monkeypatch):
    seen = []
    real_randint = est.torch.randint
    monkeypatch.setattr(est.torch, "randint", lambda *a, **k: seen.append(a[2]) or real_randint(*a, **k))
    est.forget_probes()
    est.probe_speed(est.speed_key(TrainConfig(model="mlp", hidden_sizes="16", batch_size=64, not_digits=0.25), "cpu"))
    est.forget_probes()
    assert seen[0] == (80, 28, 28)  # 64 digits + 16 non-digits a step


def test_without_a_probe_the_nearest_batch_size_of_the_same_network_is_used():
    runs = [Run(10.0, batch_size=64), Run(20.0, batch_size=1024)]
    e = estimate(TrainConfig(batch_size=128), runs, probe=False)
    assert e.source == "similar runs" and "batch 64" in e.basis and e.seconds == pytest.approx(10.0)
    e = estimate(TrainConfig(batch_size=512), runs, probe=False)
    assert "batch 1024" in e.basis and e.seconds == pytest.approx(20.0)


def test_the_probe_times_real_steps_and_is_cached(monkeypatch):
    est.forget_probes()
    cfg = TrainConfig(model="mlp", hidden_sizes="16", batch_size=32)
    e = estimate(cfg)
    assert e.source == "probe" and e.samples_per_sec > 0 and e.seconds == pytest.approx(55_000 / e.samples_per_sec)
    calls = []
    monkeypatch.setattr(est, "build_model", lambda *a: calls.append(a), raising=False)
    assert estimate(cfg.replace(epochs=3)).samples_per_sec == e.samples_per_sec  # same network and batch: cached
    assert calls == []
    # An estimate that may not probe (a page opened while a run trains) gives the same answer, not "unknown".
    instant = estimate(cfg, probe=False)
    assert (instant.source, instant.seconds, instant.basis) == (e.source, e.seconds, e.basis)
    est.forget_probes()
    assert estimate(cfg, probe=False).seconds is None


def test_an_unavailable_device_gives_steps_but_no_time():
    from mnist_core.device import available_devices

    missing = [d for d in ("mps", "cuda") if d not in available_devices()]
    if not missing:
        pytest.skip("both cuda and mps are present")
    e = estimate(TrainConfig(device=missing[0]), [Run(1.0)])
    assert e.seconds is None and "not available" in e.basis and e.steps == 215


def test_a_config_dict_from_the_form_is_accepted_and_bad_values_name_the_field():
    assert isinstance(estimate({"epochs": "2"}, probe=False), Estimate)
    with pytest.raises(ValueError, match="^lr:"):
        estimate({"lr": "0"}, probe=False)


@pytest.mark.parametrize(
    "seconds, text", [(0.2, "1 s"), (8.4, "8 s"), (200, "3 min 20 s"), (120, "2 min"), (3900, "1 h 05 min")]
)
def test_durations_read_as_estimates(seconds, text):
    assert format_duration(seconds) == text


def test_the_probe_times_steps_with_a_training_process_threads_and_restores_the_callers(monkeypatch):
    # The app's server computes on one thread while its child trains on torch's default: a probe on
    # the server's one thread measured a slower network than the one that trains.
    import torch

    from mnist_core import device

    est.forget_probes()
    seen = []
    real_affine = est.random_affine
    monkeypatch.setattr(est, "random_affine", lambda *a: seen.append(torch.get_num_threads()) or real_affine(*a))
    monkeypatch.setattr(est, "training_threads", lambda: 2)
    try:
        with device.threads(1):  # as the app's server computes
            estimate(TrainConfig(model="mlp", hidden_sizes="8", batch_size=16))
            assert seen and set(seen) == {2}, seen
            assert torch.get_num_threads() == 1  # the caller's count is back
    finally:
        est.forget_probes()


def test_training_threads_is_torchs_default_read_before_the_server_lowers_its_own():
    import subprocess
    import sys

    code = (
        "import torch; default = torch.get_num_threads()\n"
        "from mnist_core.device import training_threads\n"
        "assert training_threads() == default\n"
        "torch.set_num_threads(1)\n"
        "assert training_threads() == default, 'the first reading is kept'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"OMP_NUM_THREADS": "3", "PATH": ""}, timeout=120)
