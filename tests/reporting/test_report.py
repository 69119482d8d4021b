"""The run report: build a small run directory by hand, write the report, read it back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from chainrule.reporting.formats import render
from chainrule.reporting.metrics import per_class_metrics
from chainrule.reporting.report import build_report, format_duration, format_percent, write_report
from chainrule.training.history import History

CLASS_NAMES = ["zero", "one", "two"]

RECIPE = {
    "name": "tiny-mlp",
    "description": "a 3-class toy run",
    "seed": 0,
    "data": {"dataset": "mnist", "preprocessing": "standardize", "validation_fraction": 0.1},
    "model": {
        "hidden": [16],
        "activation": "sigmoid",
        "output": "softmax",
        "init": {"name": "normal", "std": 0.1},
        "loss": "categorical_crossentropy",
        "l2": 0.0,
        "dropout": 0.0,
    },
    "training": {
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "epochs": 3,
        "mode": "minibatch",
        "batch_size": 32,
        "schedule": None,
        "early_stopping": {"patience": 2, "monitor": "val_loss"},
    },
}


def make_run(
    run_dir: Path,
    *,
    recipe: dict | None = None,
    history: bool = True,
    figures: bool = True,
    per_class: bool = True,
) -> Path:
    """A run directory like the trainer writes, from small hand-made pieces."""
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = RECIPE if recipe is None else recipe
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))

    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 0, 2])
    classification = per_class_metrics(y_true, y_pred, class_names=CLASS_NAMES)
    metrics = {
        "test_accuracy": 0.75,
        "test_loss": 0.612345,
        "epochs_run": 3,
        "train_seconds": 12.34,
        "best_epoch": 2,
        "dataset": "mnist",
        "parameters": 12_730,
        "model_summary": "Layer   Output   Params\ndense   (16,)    12560",
        "class_names": CLASS_NAMES,
        "confusion_matrix": classification.confusion.tolist(),
        "stopped_early": True,
    }
    if per_class:
        metrics["per_class"] = classification.to_dict()
    (run_dir / "metrics.json").write_text(json.dumps(metrics))

    log = History()
    for epoch, (loss, acc) in enumerate([(1.1, 0.5), (0.8, 0.7), (0.7, 0.72)], start=1):
        log.append(
            {
                "epoch": epoch,
                "train_loss": loss,
                "train_accuracy": acc,
                "val_loss": loss + 0.1,
                "val_accuracy": acc - 0.05,
                "learning_rate": 0.1,
                "seconds": 4.1,
            }
        )
    if history:
        log.to_csv(run_dir / "history.csv")
    if figures:
        from chainrule.reporting.figures import plot_history, save_figure

        save_figure(plot_history(log.to_dict()), run_dir / "figures" / "history", dpi=20)
    return run_dir


def test_writes_both_files(tmp_path):
    run_dir = make_run(tmp_path / "run")
    markdown, page = write_report(run_dir)
    assert markdown == run_dir / "report.md"
    assert page == run_dir / "report.html"
    assert markdown.is_file() and page.is_file()


def test_markdown_holds_result_tables_and_existing_figures(tmp_path):
    run_dir = make_run(tmp_path / "run")
    markdown = write_report(run_dir)[0].read_text()

    assert markdown.startswith("# tiny-mlp\n")
    assert "Test accuracy 75.00%" in markdown
    assert "stopped early" in markdown
    # per-class rows: 3 classes, then accuracy / macro avg / weighted avg
    assert re.search(r"^\| zero \| 0\.6667 \| 0\.6667 \| 0\.6667 \| 3 \|$", markdown, re.M)
    assert re.search(r"^\| \*\*two\*\* \|", markdown, re.M) is None
    assert "| **macro avg** |" in markdown and "| **weighted avg** |" in markdown
    # history: one row per epoch, losses to 4 decimals, accuracies as %, best epoch in bold
    assert "| 1 | 1.1000 | 50.00% | 1.2000 | 45.00% |" in markdown
    assert "| **2** | **0.8000** |" in markdown
    # every image link points at a file that exists, by relative path
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert links == ["figures/history.png"]
    assert all((run_dir / link).is_file() for link in links)
    # sections in the documented order
    order = ["## Result", "## Configuration", "## Model", "## Training history", "## Test set"]
    assert [markdown.index(heading) for heading in order] == sorted(
        markdown.index(heading) for heading in order
    )


def test_html_is_escaped_and_well_formed(tmp_path, html_text):
    recipe = {**RECIPE, "description": "evil <script>alert('x')</script> & co"}
    run_dir = make_run(tmp_path / "run", recipe=recipe)
    page = write_report(run_dir)[1].read_text()

    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert '<img src="figures/history.png"' in page
    assert "<details>" in page and '<td class="num">' in page
    assert "http://" not in page and "https://" not in page  # self-contained: no CDN

    assert "evil <script>alert('x')</script> & co" in html_text(page)  # well-formed, as written


def test_markdown_escapes_raw_html(tmp_path):
    recipe = {**RECIPE, "description": "evil <script>"}
    markdown = write_report(make_run(tmp_path / "run", recipe=recipe))[0].read_text()
    assert "evil \\<script\\>" in markdown


def test_missing_optional_pieces_drop_their_sections(tmp_path):
    run_dir = make_run(tmp_path / "run", history=False, figures=False, per_class=False)
    markdown_path, html_path = write_report(run_dir)
    markdown = markdown_path.read_text()

    assert "Test accuracy 75.00%" in markdown
    assert "## Training history" not in markdown
    assert "figures/" not in markdown and "![" not in markdown
    assert "macro avg" not in markdown
    assert "<img" not in html_path.read_text()
    # without the figure, the confusion matrix still appears, as numbers
    assert "| zero | 2 | 1 | 0 |" in markdown


def test_minimal_run_needs_only_metrics(tmp_path):
    run_dir = tmp_path / "bare-run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(
        json.dumps({"test_accuracy": 0.9, "test_loss": 0.3, "epochs_run": 1, "train_seconds": 75})
    )
    markdown = write_report(run_dir)[0].read_text()
    assert markdown.startswith("# bare-run\n")
    assert "Test accuracy 90.00%" in markdown and "1 min 15 s" in markdown
    assert "## Configuration" not in markdown


def test_known_and_other_figures_get_their_sections(tmp_path):
    run_dir = make_run(tmp_path / "run")
    figures = run_dir / "figures"
    (figures / "weights.png").write_bytes((figures / "history.png").read_bytes())
    (figures / "history.png").rename(figures / "extra plot.png")
    markdown = write_report(run_dir)[0].read_text()
    assert "## First-layer weights" in markdown
    assert "one hidden unit's weights over the 28x28 input" in markdown
    assert "## Other figures" in markdown
    assert "(figures/extra%20plot.png)" in markdown
    assert markdown.index("## First-layer weights") < markdown.index("## Other figures")


def test_the_report_is_one_document_in_every_format(tmp_path):
    document = build_report(make_run(tmp_path / "run"))
    assert document.title == "tiny-mlp"
    text, latex = render(document, "text"), render(document, "latex")
    assert "Test accuracy 75.00%" in text and "RESULT\n======" in text
    assert "\\section*{tiny-mlp}" in latex and "\\begin{tabular}{rrrrrrr}" in latex
    assert "graphicx" in latex  # the report has a figure


def test_missing_metrics_names_file_and_run_dir(tmp_path):
    run_dir = tmp_path / "unfinished"
    run_dir.mkdir()
    with pytest.raises(FileNotFoundError, match=r"metrics\.json") as error:
        write_report(run_dir)
    assert str(run_dir) in str(error.value)


def test_missing_required_metric_is_named(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9}))
    with pytest.raises(ValueError, match="test_loss"):
        write_report(run_dir)


def test_format_helpers():
    assert format_percent(0.97853) == "97.85%"
    assert format_percent(1) == "100.00%"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(3725) == "1 h 02 min"


def test_import_does_not_load_matplotlib():
    code = "import sys, chainrule.reporting.report; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_2d_run_gets_its_boundary_section_and_its_set_s_settings(tmp_path):
    recipe = {"name": "moons", "seed": 0,
              "data": {"dataset": "moons", "n": 1000, "noise": 0.1, "seed": 3, "factor": None}}  # fmt: skip
    run_dir = make_run(tmp_path / "run", recipe=recipe)
    figures = run_dir / "figures"
    (figures / "boundary.png").write_bytes((figures / "history.png").read_bytes())
    markdown = write_report(run_dir)[0].read_text()
    assert "| 2-D set | n 1000, noise 0.1, seed 3 |" in markdown
    assert "## Decision boundary" in markdown and "## Other figures" not in markdown
    assert "train points are circles and test points triangles" in markdown
