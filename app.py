"""MNIST Digit Lab: the Gradio page. Layout and wiring only; the handlers live in mnist_core/app/tabs.

Run `python app.py` (flags: --host, --port, --share) and open the printed URL. The main events are
also an API for `gradio_client`, named as the README's "API events" (tests/test_api_names.py); the rest are private.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: the demo must work offline
# MNIST lives in the repository's data/ unless told otherwise, wherever the app is started from.
os.environ.setdefault("MNIST_DATA_DIR", str(Path(__file__).resolve().parent / "data"))

import gradio as gr  # noqa: E402

from mnist_core.app.charts import CHART_CSS  # noqa: E402
from mnist_core.app.context import AppContext  # noqa: E402
from mnist_core.app.events import PREDICT, PRIVATE  # noqa: E402
from mnist_core.app.gradio_compat import calm_queue  # noqa: E402
from mnist_core.app.images import GALLERY_CSS  # noqa: E402
from mnist_core.app.jobs import JobManager  # noqa: E402
from mnist_core.app.latest import TOKEN_JS  # noqa: E402
from mnist_core.app.registry import RunRegistry  # noqa: E402
from mnist_core.app.tabs import curves, data, draw, evaluate, inside, runs, sweep, train  # noqa: E402
from mnist_core.app.visitors import claim_visitor, session_visitor, visitor_state  # noqa: E402

# Gradio accepts uploads of any size by default: on a shared Space one visitor could fill the disk.
MAX_UPLOAD = "50mb"


def build_demo(jobs: JobManager, registry: RunRegistry) -> gr.Blocks:
    """The page: a model picker over seven tabs, wired to the handlers of mnist_core.app.tabs."""
    ctx = AppContext(jobs, registry)
    draw_tab, train_tab, curves_tab = draw.DrawTab(ctx), train.TrainTab(ctx), curves.CurvesTab(ctx)
    evaluate_tab, data_tab, runs_tab = evaluate.EvaluateTab(ctx), data.DataTab(ctx), runs.RunsTab(ctx)
    inside_tab, sweep_tab = inside.InsideTab(ctx), sweep.SweepTab(ctx)
    names = registry.names_on_disk()  # no checkpoint opened: the page is served before torch loads
    # delete_cache: drop the images a long-running server writes for each prediction after an hour.
    with gr.Blocks(title="MNIST Digit Lab", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# MNIST Digit Lab\nDraw a digit, train your own network, and see how it learns.", elem_id="app-header"
        )
        model = gr.Dropdown(
            names,
            value=names[0] if names else None,
            label="Model",
            info=runs.MODEL_INFO,
            allow_custom_value=True,  # the API may name a run trained after the page was built; resolve() checks it
            elem_id="model-picker",
        )
        # Who this browser is (its runs, its job): kept by the browser, made at its first page load (below),
        # and handed to the events through a per-session State, which an API client cannot set.
        stored_visitor, visitor = visitor_state(), session_visitor()
        memory = runs.model_memory()  # the model this browser chose, restored at its page load (below)

        # Each tab builds its own components and events (mnist_core/app/tabs) and returns them by name.
        with gr.Tabs() as tabs:
            with gr.Tab("Draw", id="draw"):
                draw_ui = draw_tab.build(model)  # the pad reads what is drawn by itself (draw_pad.js)
                drawing = gr.Textbox(visible=False)  # the pad's image, filled in the browser by "Explain this"
            with gr.Tab("Inside", id="inside") as tab:
                inside_ui = inside_tab.build(
                    model, tab
                )  # Integrated Gradients, layers, neighbours, map; "watch it learn"
            with gr.Tab("Train", id="train"):
                train_ui = train_tab.build(visitor)
            with gr.Tab("Sweep", id="sweep"):
                sweep_tab.build(model, visitor)  # its components, handlers and 1 s poll
            with gr.Tab("Curves", id="curves"):
                curves_ui = curves_tab.build(names)
            with gr.Tab("Evaluate", id="evaluate") as tab:
                evaluate_tab.build(model, tab)
            with gr.Tab("Data", id="data") as tab:
                data_tab.build(tab)
            with gr.Tab("Runs", id="runs") as tab:
                runs_ui = runs_tab.build(model, tab, visitor, memory)

        # What crosses tabs: a run loaded into Train, the page's tick, Start's first point, the page's URL.
        form, fill = train_ui.form, [*train_ui.form.fill_outputs, tabs]
        runs_ui.load.click(train_tab.load_run, [form.token, model], fill, js=TOKEN_JS, **PRIVATE)
        seen = gr.State({})
        shown = [train_ui.progress, train_ui.status, *curves_ui.plots, model, curves_ui.overlay, runs_ui.table]
        shown.append(train_ui.stop)  # usable only while this visitor has a job running or in line
        poll_outs = [*shown, seen]  # CurvesTab.poll's outputs, in its order
        poll_ins = [seen, curves_ui.overlay, model, visitor, runs_ui.show]  # CurvesTab.poll's inputs
        gr.Timer(1.0).tick(
            curves_tab.poll,
            poll_ins,
            poll_outs,
            show_progress="hidden",
            concurrency_limit=None,
            **PRIVATE,
        )
        # After a Start the page is not left to the next tick: the run's first point shows as it comes.
        train_ui.started.success(
            curves_tab.first_point,
            poll_ins,
            poll_outs,
            show_progress="hidden",
            concurrency_limit=None,
            **PRIVATE,
        )
        model.change(None, js="() => { window.drawPad?.send(true); }")  # re-read the drawing
        # "Explain this": the Draw tab's drawing (or photo) explained on the Inside tab, which it opens.
        draw_ui.explain.click(
            inside_tab.explain_drawing,
            [drawing, draw_ui.upload, inside_ui.target, model],
            [*inside_ui.explain_outputs, inside_ui.image, tabs],
            js="(_, ...rest) => [window.drawPad?.image() ?? null, ...rest]",
            **PRIVATE,
            **PREDICT,
        )
        demo.load(curves_tab.curve_figures, curves_ui.overlay, curves_ui.plots, **PRIVATE)
        claimed = demo.load(claim_visitor, stored_visitor, [stored_visitor, visitor], show_progress="hidden", **PRIVATE)
        # Then the model this browser chose last: its Download button asks whose it is, so the visitor comes first.
        claimed.then(runs_tab.restore_model, runs_ui.memory, model, show_progress="hidden", **PRIVATE)
        demo.load(train_tab.from_url, form.token, fill, js=TOKEN_JS, show_progress="hidden", **PRIVATE)
    return demo


# Charts follow the dark theme with no toolbar over a phone's chart titles; the Inside gallery is sized to
# its digits; galleries of many digits fill a phone's width.
PAGE_CSS = CHART_CSS + inside.CSS + GALLERY_CSS


def configure_queue(demo: gr.Blocks) -> gr.Blocks:
    """The app's queue: bounded, one event per function at a time, and a calm idle loop."""
    demo.queue(max_size=64, default_concurrency_limit=1)
    calm_queue(demo)
    return demo


def main(argv: list[str] | None = None) -> None:
    """Parse --host/--port/--share and serve the app."""
    parser = argparse.ArgumentParser(description="MNIST Digit Lab (Gradio)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="interface to bind")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (needs internet)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    jobs, registry = JobManager(), RunRegistry()
    jobs.warm_up()  # the training process starts now, on the other core, while this one builds the page
    demo = configure_queue(build_demo(jobs, registry))
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        ssr_mode=False,
        show_error=False,
        max_file_size=MAX_UPLOAD,
        prevent_thread_lock=True,
        css=PAGE_CSS,
    )
    # Only now torch, the default model and MNIST: begun before, the warm-up's imports held up the first page.
    threading.Thread(target=AppContext(jobs, registry).warm_up, name="warm-up", daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
