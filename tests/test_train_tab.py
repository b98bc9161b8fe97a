"""The Train tab's form handlers: presets, shared URLs, runs loaded into the form, visibility, estimate."""

from __future__ import annotations

import math
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from mnist_core.app.jobs import Caps, JobManager
from mnist_core.app.registry import DEFAULT_NAME
from mnist_core.app.tabs.train import ESTIMATE_AT, FILL_SIZE
from mnist_core.app.widgets import (
    CONTROLLERS,
    DEPENDENTS,
    NAMES,
    TrainForm,
    from_log2,
    from_log10,
    scaled_fields,
    to_scale,
    typed,
)
from mnist_core.checkpoint import save_checkpoint
from mnist_core.config import TrainConfig, applicable, describe_range, pow2_values
from mnist_core.models import build_model
from mnist_core.presets import PRESETS, preset_values
from tests.support.fixtures import FINISHED, TINY, fake_checkpoint


def first(answers):
    """The first (instant) answer of a generator handler."""
    return next(iter(answers))


def replies(run) -> list:
    """A generator handler's answers, less the last one, which must change nothing: Gradio sends a run's last
    answer again when the run ends, possibly after a newer fill, and ends a run that yields nothing with None
    for every output, blanking the form (TrainTab.untouched). So even a stale request answers, with nothing."""
    given = list(run)
    assert given, "a run that yields nothing: Gradio sends None for each output and blanks the form"
    assert all(output == gr.skip() for output in given[-1]), given[-1]
    return given[:-1]


def unpack(outputs: list) -> tuple[str, dict, list, object]:
    """Split the outputs of a fill (TrainForm.fill_outputs order) into preset, field values, sliders, note."""
    preset, rest = outputs[0], outputs[1:]
    values = dict(zip(NAMES, rest[: len(NAMES)]))
    sliders = rest[len(NAMES) : len(NAMES) + len(scaled_fields())]
    return preset, values, sliders, rest[len(NAMES) + len(scaled_fields())]


def derived(outputs: list) -> tuple[str, str, str, set[str]]:
    """What a fill derives from its values: the preset note, the estimate, the query, the visible dependents."""
    note, estimate, query, *shown = outputs[ESTIMATE_AT - 1 : FILL_SIZE]
    return note, estimate, query, {name for name, update in zip(DEPENDENTS, shown) if update["visible"]}


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_fills_every_field_and_both_scale_sliders(lab, name):
    preset, values, sliders, note = unpack(first(lab.train.apply_preset(None, name)))
    assert preset == name and values == preset_values(name)
    assert sliders == [round(math.log10(values["lr"]), 2), round(math.log2(values["batch_size"]))]
    assert note.visible is False  # the note about an earlier link goes away


def test_a_preset_above_the_servers_epoch_cap_is_lowered_and_says_so(lab, monkeypatch):
    monkeypatch.setattr(lab.ctx, "jobs", JobManager(caps=Caps(max_epochs=3)))
    _, values, _, note = unpack(first(lab.train.apply_preset(None, "cnn_large_best")))
    asked = PRESETS["cnn_large_best"].values["epochs"]
    assert values["epochs"] == 3 and f"lowered from {asked} to this server's limit of 3" in note.value


def test_an_unknown_preset_is_a_readable_error(lab):
    with pytest.raises(gr.Error, match="not one of cnn_fast"):
        first(lab.train.apply_preset(None, "resnet"))


def test_a_shared_url_fills_the_form_and_opens_the_train_tab(lab):
    outputs = lab.train.from_query({"preset": "mlp_classic", "epochs": "3", "__theme": "dark"})
    preset, values, _, note = unpack(outputs)
    assert preset == "mlp_classic" and values == {**preset_values("mlp_classic"), "epochs": 3}
    assert note.visible is False and outputs[-1].selected == "train"
    # The note, estimate, address bar and visibility come with the values, derived from exactly them.
    preset_note, estimate, query, shown = derived(outputs)
    assert preset_note.startswith("**Modified** (epochs) from: ") and query == "preset=mlp_classic&epochs=3"
    assert "1,290 steps (430 per epoch)" in estimate  # the estimate of the filled form
    assert shown == {name for name in DEPENDENTS if applicable(values, name)} and "momentum" in shown


def test_a_bad_url_loads_the_rest_and_names_each_ignored_part(lab):
    outputs = lab.train.from_query({"epochs": "3", "bogus": "1", "lr": "99", "preset": "nope"})
    preset, values, _, note = unpack(outputs)
    assert values == {**TrainConfig().to_dict(), "epochs": 3} and preset == "cnn_fast"
    assert note.visible is True and outputs[-1].selected == "train"
    for part in ("'bogus' is not a training setting", "lr: 99.0 is outside", "preset 'nope' is unknown"):
        assert part in note.value


@pytest.mark.parametrize("query", [{}, {"__theme": "dark"}, {"view": "api"}])
def test_a_url_without_training_settings_changes_nothing(lab, query):
    # The Draw tab stays the landing tab and the form keeps its defaults; only the estimate is given.
    outputs = lab.train.from_query(query)
    estimate = outputs.pop(ESTIMATE_AT)
    steps = -(-TrainConfig().train_images // TrainConfig().batch_size)
    assert all(output == gr.skip() for output in outputs) and f"{steps} steps ({steps} per epoch)" in estimate


def test_a_changed_form_notes_the_changes_and_gives_the_query_and_estimate(lab):
    values = {**preset_values("mlp_classic"), "lr": 0.1, "epochs": 3}
    note, estimate, query = first(lab.train.form_changed(None, "mlp_classic", *values.values()))
    assert note.startswith("**Modified** (lr, epochs)") and PRESETS["mlp_classic"].description in note
    assert query == "preset=mlp_classic&lr=0.1&epochs=3"
    assert "1,290 steps (430 per epoch)" in estimate  # 55,000 images / 128 per step, 3 epochs
    note, _, query = first(lab.train.form_changed(None, "mlp_classic", *preset_values("mlp_classic").values()))
    assert note == PRESETS["mlp_classic"].description and query == "preset=mlp_classic"


def test_an_invalid_form_says_why_and_leaves_the_address_alone(lab):
    values = {**TrainConfig().to_dict(), "batch_size": 4096, "train_size": 1000}
    note, estimate, query = first(lab.train.form_changed(None, "cnn_fast", *values.values()))
    assert note == gr.skip() and query == gr.skip()
    assert "Not valid yet" in estimate and "batch_size: 4096 is larger than the training set" in estimate
    empty = {**TrainConfig().to_dict(), "lr": None}  # a cleared Number
    assert "lr" in first(lab.train.form_changed(None, "cnn_fast", *empty.values()))[1]


@pytest.mark.parametrize(
    ("changes", "shown", "hidden"),
    [
        ({"optimizer": "sgd", "scheduler": "step"}, {"momentum", "nesterov", "step_size", "gamma"}, {"beta1"}),
        ({"optimizer": "adamw"}, {"beta1", "beta2"}, {"momentum", "nesterov", "hidden_sizes", "step_size"}),
        ({"optimizer": "sgd", "scheduler": "onecycle"}, {"nesterov"}, {"momentum"}),
        ({"model": "mlp"}, {"hidden_sizes"}, set()),
        ({"model": "cnn"}, set(), {"hidden_sizes"}),
    ],
)
def test_fields_show_only_when_they_apply(lab, changes, shown, hidden):
    values = {**TrainConfig().to_dict(), **changes}
    updates = lab.train.visibility(*(values[name] for name in CONTROLLERS))
    visible = {name for name, update in zip(DEPENDENTS, updates) if update["visible"]}
    assert shown <= visible and not hidden & visible
    assert visible == {name for name in DEPENDENTS if applicable(values, name)}


def test_the_scale_sliders_and_their_numbers_agree_both_ways():
    # Dragging a slider sets the number; typing a number moves the slider to where that number is.
    for value in pow2_values(TrainConfig.__dataclass_fields__["batch_size"]):
        assert from_log2(to_scale("batch_size", value)) == value
    assert to_scale("batch_size", 100) == 7  # any allowed size may be typed; the slider shows the nearest power
    for value in (1e-5, 0.001, 0.03, 0.5, 10.0):
        assert from_log10(to_scale("lr", value)) == pytest.approx(value, rel=0.03)
    assert from_log10(-1.52) == 0.0302 and to_scale("lr", 0.03) == -1.52
    assert to_scale("lr", None) == gr.skip() and to_scale("batch_size", 0) == gr.skip()


def test_load_run_fills_the_form_with_its_config_and_opens_the_train_tab(lab):
    path = fake_checkpoint(lab.folder / "mine.pt", optimizer="sgd", lr=0.2, batch_size=32)
    outputs = first(lab.train.load_run(None, path.stem))
    preset, values, sliders, note = unpack(outputs)
    assert values == TrainConfig(**{**TINY, "optimizer": "sgd", "lr": 0.2, "batch_size": 32}).to_dict()
    assert preset in PRESETS and sliders[1] == 5 and "mine" in note.value and outputs[-1].selected == "train"
    _, bundled, _, _ = unpack(first(lab.train.load_run(None, DEFAULT_NAME)))
    assert bundled["model"] == "cnn_ensemble"
    with pytest.raises(gr.Error, match="unknown model"):
        first(lab.train.load_run(None, "../etc/passwd"))


def test_the_estimate_uses_earlier_runs_else_probes_but_never_while_a_run_trains(lab, monkeypatch):
    cfg = TrainConfig(**TINY)
    torch.manual_seed(0)
    history = {"steps": [], "epochs": [{"epoch": 1, "train_loss": 1.0, "seconds": 2.0}]}  # 2,000 images in 2 s
    save_checkpoint(lab.folder / "timed.pt", build_model(cfg), cfg, history, FINISHED, device="cpu")
    values = cfg.to_dict().values()
    _, estimate, _ = first(lab.train.form_changed(None, "cnn_fast", *values))
    assert "measured in 1 earlier run" in estimate and "about 2 s" in estimate
    assert lab.train.probe_estimate("cnn_fast", *values) == gr.skip()  # a run answered: no probe

    assert len(replies(lab.train.form_changed(None, "cnn_fast", *values))) == 1  # ...and no second answer

    other = {**cfg.to_dict(), "hidden_sizes": "32"}.values()  # no run of this network yet
    instant, probed = replies(lab.train.form_changed(None, "cnn_fast", *other))
    assert "time unknown" in instant[1] and "hidden_sizes=32" in instant[2]  # the instant answer comes first
    assert "a probe of mlp at batch 64" in probed[1] and probed[0] == probed[2] == gr.skip()
    monkeypatch.setattr(lab.ctx.jobs, "busy", lambda: True)
    answers = replies(lab.train.form_changed(None, "cnn_fast", *{**cfg.to_dict(), "hidden_sizes": "16"}.values()))
    assert len(answers) == 1 and "no probe while a run is training" in answers[0][1]


def test_an_answer_about_an_older_form_never_lands_after_a_newer_one(lab):
    """A link or preset fills the form one widget at a time, each change sending the half-filled form:
    the probe of an older request must not overwrite the answer about the finished form."""
    half_filled = {**TrainConfig(**TINY).to_dict(), "hidden_sizes": "24"}  # no run of either: both probe
    finished = {**half_filled, "epochs": 3}
    older = lab.train.form_changed("page:1", "cnn_fast", *half_filled.values())
    assert "time unknown" in next(older)[1]  # its instant answer went out...
    newer = replies(lab.train.form_changed("page:2", "cnn_fast", *finished.values()))
    assert [a[1].count("steps") for a in newer] == [1, 1] and "a probe of mlp" in newer[1][1]
    assert replies(older) == []  # ...its probe, now stale, is dropped
    other_page = replies(lab.train.form_changed("other:1", "cnn_fast", *half_filled.values()))
    assert len(other_page) == 2  # another visitor's page is not held back by this one
    late = replies(lab.train.form_changed("page:1", "cnn_fast", *half_filled.values()))
    assert late == []  # a request that arrives after a newer one of its page is not answered at all


def test_the_form_groups_fields_and_shows_the_basic_ones_first(lab):
    with gr.Blocks():
        form = TrainForm(lab.ctx.jobs.caps)
        form.build_top()
        form.build_more()
    assert list(form.widgets) == NAMES and all(w.elem_id == f"hp-{n}" for n, w in form.widgets.items())
    assert {n: s.elem_id for n, s in form.scales.items()} == {"lr": "hp-lr-log10", "batch_size": "hp-batch_size-log2"}
    assert (form.scales["batch_size"].minimum, form.scales["batch_size"].maximum) == (0, 13)
    assert form.preset.value == "cnn_fast" and [c[1] for c in form.preset.choices] == list(PRESETS)
    # Under the defaults (AdamW, one-cycle, CNN): no momentum, Nesterov, step schedule or hidden sizes.
    hidden = {n for n, c in form.containers.items() if c.visible is False}
    assert hidden == {"hidden_sizes", "momentum", "nesterov", "step_size", "gamma"}


def test_an_answer_computed_while_a_newer_request_came_in_is_dropped(lab, monkeypatch):
    """The currency of a request is checked after its answer is computed, just before it goes out: a
    half-filled form's answer, slow to compute (the first estimate loads torch), must not land after the
    answer about the finished form that came in meanwhile."""
    half_filled = {**preset_values("mlp_classic"), "epochs": 1}
    compute = lab.train._estimate

    def slow(cfg, probe):  # while the older answer is being computed, the newer request comes in
        if cfg.epochs == 1:
            assert len(replies(lab.train.form_changed("page:2", "mlp_classic", *finished.values()))) == 2
        return compute(cfg, probe)

    finished = {**half_filled, "epochs": 3}
    monkeypatch.setattr(lab.train, "_estimate", slow)
    assert replies(lab.train.form_changed("page:1", "mlp_classic", *half_filled.values())) == []
    assert replies(lab.train.apply_preset("page:1", "mlp_classic")) == []  # a fill's answer likewise


def test_a_fill_asks_nothing_about_the_form_as_the_browser_applies_it(lab):
    """Only what the visitor changes (`.input`) asks for the note, estimate and address; a fill (preset,
    link, run) gives them itself, from the values it fills: the browser applies a fill one widget at a
    time, and each `.change` would ask about a half-filled form whose answer could land last."""
    import app as app_module

    demo = app_module.build_demo(lab.ctx.jobs, lab.ctx.registry)
    handlers = {"form_changed", "visibility", "apply_preset", "from_url", "load_run"}
    events: dict[str, set[str]] = {}
    for fn in demo.fns.values():
        name = getattr(fn.fn, "__name__", "")
        if name in handlers:
            events.setdefault(name, set()).update(event for _, event in fn.targets)
    assert events["form_changed"] == {"input", "then"} and events["visibility"] == {"input"}
    assert events["apply_preset"] == {"input"} and events["from_url"] == {"load"}
    estimate_id = next(c._id for c in demo.blocks.values() if getattr(c, "elem_id", None) == "estimate")
    fills = [
        fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") in {"apply_preset", "from_url", "load_run"}
    ]
    assert len(fills) == 3 and all(estimate_id in [o._id for o in fn.outputs] for fn in fills)


def test_a_typed_value_outside_its_range_reaches_the_form_which_names_the_range(lab):
    """lr = 50 typed in its Number: no error from the widget (gr.Number refuses it before any handler, with
    an error badge and a server traceback); the field and the estimate say the range, from TrainConfig."""
    allowed = describe_range(TrainConfig.__dataclass_fields__["lr"])
    with gr.Blocks():
        form = TrainForm(lab.ctx.jobs.caps)
        form.build_top()
        form.build_more()
    assert form.widgets["lr"].preprocess(50.0) == 50.0 and form.widgets["seed"].preprocess(-1) == -1
    assert (form.widgets["lr"].minimum, form.widgets["lr"].maximum) == (1e-5, 10.0)  # the browser keeps the range
    slider, info = typed("lr", 50.0)
    assert slider == gr.skip() and f"lr: 50.0 is outside the allowed range {allowed}" in info["info"]
    slider, info = typed("lr", 0.01)
    assert slider == -2 and info["info"] == form.widgets["lr"].info  # back to what the field is
    values = {**TrainConfig().to_dict(), "lr": 50.0}
    answers = replies(lab.train.form_changed(None, "cnn_fast", *values.values()))
    assert len(answers) == 1 and answers[0][0] == answers[0][2] == gr.skip()  # note and address stay
    assert f"**Not valid yet:** lr: 50.0 is outside the allowed range {allowed}" == answers[0][1]


def test_no_fields_hint_only_repeats_its_label():
    import dataclasses

    for f in dataclasses.fields(TrainConfig):
        assert f.metadata["help"].strip().lower() != f.name.replace("_", " "), f.name  # e.g. optimizer: "optimizer"


def test_a_link_gets_the_estimate_of_the_preset_picked_in_the_menu_even_while_a_run_trains(lab, monkeypatch):
    """Opened from a link while a run trained, a preset said 'time unknown' where the menu had given a time:
    an estimate that may not probe now reads the probe already made of that network."""
    *_, probed = replies(lab.train.apply_preset(None, "mlp_adam"))  # the menu: the instant answer, then the probe
    assert "a probe of mlp at batch 64" in probed[ESTIMATE_AT] and "about" in probed[ESTIMATE_AT]
    monkeypatch.setattr(lab.ctx.jobs, "busy", lambda: True)  # a run trains: no new probe
    assert lab.train.from_query({"preset": "mlp_adam"})[ESTIMATE_AT] == probed[ESTIMATE_AT]


def test_each_answer_run_ends_by_changing_nothing(lab):
    """A link's run (its first estimate probing a network, seconds on a cold server) could end after the
    visitor had picked a preset: Gradio then sent the link's values again and the form showed one recipe
    while its handlers read another (CI: 'Modified (epochs) from: The default small CNN' after choosing
    the classic MLP). Every run of the form's generator handlers now ends with an answer that changes nothing."""
    runs = {
        "preset": lab.train.apply_preset(None, "mlp_classic"),
        "change": lab.train.form_changed(None, "cnn_fast", *TrainConfig().to_dict().values()),
        "invalid": lab.train.form_changed(None, "cnn_fast", *{**TrainConfig().to_dict(), "lr": 50.0}.values()),
        "run": lab.train.load_run(None, DEFAULT_NAME),
    }
    for name, run in runs.items():
        given = list(run)
        assert len(given) >= 2, name
        assert all(output == gr.skip() for output in given[-1]), name


def test_a_request_stale_before_it_runs_still_answers_and_changes_nothing(lab):
    """A Gradio dropdown sends `input` twice per pick (on the pick, then on the blur that follows), so the
    first of a preset's two requests is stale as soon as the second begins. Its run yielded nothing, and
    Gradio ended it with None for every output: when that came after the newer fill, every field was
    blanked (CI: the model box stayed '' after picking the classic MLP, 1 run in ~10). Each of the form's
    handlers, asked with a token older than its page's newest, answers once, changing nothing."""
    lab.train.latest.begin("page:9")  # a newer request of the page has begun
    values = TrainConfig().to_dict()
    runs = {
        "preset": lab.train.apply_preset("page:1", "mlp_classic"),
        "link": lab.train.from_url("page:2", SimpleNamespace(query_params={"epochs": "2"})),
        "run": lab.train.load_run("page:3", DEFAULT_NAME),
        "change": lab.train.form_changed("page:4", "cnn_fast", *values.values()),
        "invalid": lab.train.form_changed("page:5", "cnn_fast", *{**values, "lr": 50.0}.values()),
    }
    sizes = {"preset": FILL_SIZE, "link": FILL_SIZE + 1, "run": FILL_SIZE + 1, "change": 3, "invalid": 3}
    for name, run in runs.items():
        given = list(run)
        assert len(given) == 1 and len(given[0]) == sizes[name], (name, given)
        assert all(output == gr.skip() for output in given[0]), (name, given)
