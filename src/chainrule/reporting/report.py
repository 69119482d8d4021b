"""The run report: one Markdown and one HTML file a student can hand in.

:func:`write_report` reads only the run directory the trainer wrote::

    run_dir/
        recipe.yaml        the resolved recipe              (optional)
        metrics.json       test accuracy, loss, ...         (required)
        history.csv        one row per epoch                (optional)
        figures/*.png      curves, confusion matrix, ...    (optional, each one)

and writes ``report.md`` and ``report.html`` beside them. Any optional piece that is missing
simply drops its section. Figures are referenced by relative path (``figures/history.png``),
so the folder can be zipped and moved; the HTML carries its CSS inline and needs no
JavaScript or network.

The report is built once as a list of blocks (heading, paragraph, table, code, figure) and
rendered twice, so the two files always hold the same sections in the same order. Every
string read from a file is escaped on the way out: ``html.escape`` for HTML, backslash escapes
for Markdown. Nothing here draws: matplotlib is not imported.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import yaml

from chainrule.reporting.metrics import ClassificationMetrics
from chainrule.training.trainer import History
from chainrule.utils.atomic import atomic_write_text

__all__ = [
    "format_duration",
    "format_percent",
    "md_cell",
    "render_html",
    "render_markdown",
    "write_report",
]

REQUIRED_METRICS = ("test_accuracy", "test_loss", "epochs_run", "train_seconds")

#: Known figures in report order: file stem -> (section title, caption).
FIGURES = {
    "history": ("Training curves", "Loss and accuracy per epoch, training vs validation."),
    "confusion_matrix": (
        "Confusion matrix",
        "Rows are true classes, columns predicted classes; the diagonal counts correct "
        "predictions.",
    ),
    "weights": (
        "First-layer weights",
        "Each image is one hidden unit's weights over the 28x28 input: red pixels are positive "
        "weights (ink there excites the unit), blue pixels negative (ink there inhibits it), "
        "so a unit's template reads as the stroke it looks for.",
    ),
    "filters": (
        "First-layer filters",
        "Each image is one convolution filter: red weights respond to ink, blue to its "
        "absence; edges and stroke pieces at different angles are typical.",
    ),
    "feature_maps": (
        "Feature maps",
        "One test image through the network: each row is a layer's output channels (bright = "
        "strong response), from the filters' maps down to the pooled, coarser ones.",
    ),
    "misclassified": (
        "Misclassified examples",
        "Test images the model got wrong, with their true and predicted labels.",
    ),
    "samples": ("Dataset samples", "Examples from the dataset with their labels."),
    "gradient_norms": (
        "Gradient norm per layer",
        "‖dL/dW‖ of each Dense layer over training, log scale: lines far apart mean the "
        "early layers learn far slower than the late ones.",
    ),
    "update_ratios": (
        "Update / weight ratio per layer",
        "‖ΔW‖/‖W‖ of each step; the dashed line is the 1e-3 rule of thumb.",
    ),
    "activation_histograms": (
        "Activation histograms",
        "Distribution of each hidden layer's outputs at a few epochs; mass piled at a "
        "sigmoid's 0 and 1 (or a ReLU's 0) means units that pass little gradient.",
    ),
}
DIAGNOSTIC_FIGURES = ("gradient_norms", "update_ratios", "activation_histograms")


# --------------------------------------------------------------------------- formatting


def format_percent(x: float, digits: int = 2) -> str:
    """A fraction in [0, 1] as a percentage: ``format_percent(0.97853) == "97.85%"``."""
    return f"{100.0 * float(x):.{digits}f}%"


def format_duration(seconds: float) -> str:
    """Wall-clock time for people: ``"12.3 s"``, ``"2 min 05 s"``, ``"1 h 02 min"``."""
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _spec(value: Any) -> str:
    """A recipe name-or-spec as one phrase: ``{name: normal, std: 0.1}`` -> ``normal (std=0.1)``."""
    if not isinstance(value, dict):
        return str(value)
    arguments = dict(value)
    name = arguments.pop("name", None) or arguments.pop("type", None)
    listed = ", ".join(f"{key}={item}" for key, item in arguments.items())
    if name is None:
        return listed
    return f"{name} ({listed})" if listed else str(name)


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    """Cells are already-formatted strings; ``numeric[j]`` right-aligns column ``j``."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numeric: tuple[bool, ...]
    bold_rows: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Code:
    """Monospace text; with a ``summary`` the HTML folds it into a <details> block."""

    text: str
    summary: str | None = None
    language: str = "text"


@dataclass(frozen=True)
class Figure:
    path: str  # relative to the run directory, forward slashes
    caption: str
    svg_path: str | None = None


Block = Heading | Paragraph | Table | Code | Figure


# --------------------------------------------------------------------------- reading


@dataclass
class _Run:
    directory: Path
    metrics: dict[str, Any]
    recipe: dict[str, Any] | None
    recipe_text: str | None
    history: History | None
    figures: dict[str, Figure]  # by file stem, known names first


def _read_run(run_dir: Path) -> _Run:
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(
            f"metrics.json not found in run directory {run_dir}: the report needs the test "
            "metrics the trainer writes at the end of a run"
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{metrics_path}: not valid JSON: {error}") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{metrics_path}: expected a JSON object, got {type(metrics).__name__}")
    missing = [key for key in REQUIRED_METRICS if key not in metrics]
    if missing:
        raise ValueError(
            f"{metrics_path}: missing required key(s) {', '.join(missing)}; "
            f"a run's metrics need {', '.join(REQUIRED_METRICS)}"
        )

    recipe, recipe_text = None, None
    recipe_path = run_dir / "recipe.yaml"
    if recipe_path.is_file():
        recipe_text = recipe_path.read_text(encoding="utf-8")
        try:
            loaded = yaml.safe_load(recipe_text)
        except yaml.YAMLError as error:
            raise ValueError(f"{recipe_path}: not valid YAML: {error}") from None
        recipe = loaded if isinstance(loaded, dict) else {}

    history = None
    history_path = run_dir / "history.csv"
    if history_path.is_file():
        try:
            history = History.from_csv(history_path)
        except ValueError as error:
            raise ValueError(f"{history_path}: not a history table: {error}") from None
        if len(history) == 0:
            history = None

    return _Run(run_dir, metrics, recipe, recipe_text, history, _find_figures(run_dir))


def _find_figures(run_dir: Path) -> dict[str, Figure]:
    directory = run_dir / "figures"
    if not directory.is_dir():
        return {}
    pngs = {path.stem: path for path in sorted(directory.glob("*.png")) if path.is_file()}
    ordered = [stem for stem in FIGURES if stem in pngs]
    ordered += [stem for stem in pngs if stem not in FIGURES]
    figures = {}
    for stem in ordered:
        png = pngs[stem]
        svg = png.with_suffix(".svg")
        caption = FIGURES[stem][1] if stem in FIGURES else stem.replace("_", " ")
        figures[stem] = Figure(
            path=f"figures/{png.name}",
            caption=caption,
            svg_path=f"figures/{svg.name}" if svg.is_file() else None,
        )
    return figures


def _metrics_from_dict(per_class: dict[str, Any]) -> ClassificationMetrics:
    """Rebuild :class:`ClassificationMetrics` from its ``to_dict()`` form."""
    classes = per_class["classes"]
    names = tuple(classes)

    def column(key: str) -> np.ndarray:
        return np.array([classes[name][key] for name in names])

    macro, weighted = per_class["macro avg"], per_class["weighted avg"]
    return ClassificationMetrics(
        class_names=names,
        precision=column("precision"),
        recall=column("recall"),
        f1=column("f1"),
        support=column("support").astype(np.int64),
        confusion=np.asarray(per_class.get("confusion_matrix", []), dtype=np.int64),
        accuracy=float(per_class["accuracy"]),
        macro_precision=float(macro["precision"]),
        macro_recall=float(macro["recall"]),
        macro_f1=float(macro["f1"]),
        weighted_precision=float(weighted["precision"]),
        weighted_recall=float(weighted["recall"]),
        weighted_f1=float(weighted["f1"]),
    )


# --------------------------------------------------------------------------- sections


def _build(run: _Run) -> tuple[str, list[Block]]:
    """The report's title and its blocks, in reading order."""
    recipe = run.recipe or {}
    title = str(recipe.get("name") or run.directory.name)
    blocks: list[Block] = []
    if recipe.get("description"):
        blocks.append(Paragraph(str(recipe["description"])))
    blocks += _result_section(run)
    blocks += _configuration_section(run)
    blocks += _model_section(run)
    blocks += _history_section(run)
    blocks += _evaluation_section(run)
    for stem in ("weights", "filters", "feature_maps", "misclassified", "samples"):
        if stem in run.figures:
            blocks += [Heading(FIGURES[stem][0]), run.figures[stem]]
    blocks += _diagnostics_section(run)
    others = [figure for stem, figure in run.figures.items() if stem not in FIGURES]
    if others:
        blocks += [Heading("Other figures"), *others]
    return title, blocks


def _diagnostics_section(run: _Run) -> list[Block]:
    """The reading of diagnostics.csv in plain words, then its figures (if recorded)."""
    path = run.directory / "diagnostics.csv"
    if not path.is_file():
        return []
    from chainrule.training.diagnostics import load_records, read_diagnostics

    blocks: list[Block] = [Heading("Diagnostics")]
    for finding in read_diagnostics(load_records(path)):
        blocks.append(Paragraph(f"{finding.level.capitalize()}: {finding.text}"))
    for stem in DIAGNOSTIC_FIGURES:
        if stem in run.figures:
            blocks += [Heading(FIGURES[stem][0], level=3), run.figures[stem]]
    return blocks


def _result_section(run: _Run) -> list[Block]:
    metrics = run.metrics
    recipe = run.recipe or {}
    data = recipe.get("data") if isinstance(recipe.get("data"), dict) else {}
    epochs = int(metrics["epochs_run"])
    sentences = [
        f"Test accuracy {format_percent(metrics['test_accuracy'])} "
        f"(test loss {float(metrics['test_loss']):.4f})."
    ]
    ending = "stopped early" if metrics.get("stopped_early") else "ran to the end"
    best = metrics.get("best_epoch")
    best_text = f", best epoch {int(best)}" if best is not None else ""
    sentences.append(
        f"Trained for {epochs} epoch{'s' if epochs != 1 else ''} ({ending}{best_text}) "
        f"in {format_duration(metrics['train_seconds'])}."
    )
    if metrics.get("val_accuracy") is not None:
        validation = f"Validation accuracy {format_percent(metrics['val_accuracy'])}"
        if metrics.get("val_loss") is not None:
            validation += f" (validation loss {float(metrics['val_loss']):.4f})"
        sentences.append(validation + ".")
    dataset = metrics.get("dataset") or data.get("dataset")
    binary_target = metrics.get("binary_target", data.get("binary_target"))
    if dataset:
        task = "" if binary_target is None else f", binary task: class {binary_target} vs rest"
        sentences.append(f"Dataset: {dataset}{task}.")
    if metrics.get("parameters") is not None:
        sentences.append(f"The model has {int(metrics['parameters']):,} trainable parameters.")
    return [Heading("Result"), Paragraph(" ".join(sentences))]


def _configuration_rows(recipe: dict[str, Any]) -> list[tuple[str, str]]:
    def section(key: str) -> dict[str, Any]:
        value = recipe.get(key)
        return value if isinstance(value, dict) else {}

    data, model, training = section("data"), section("model"), section("training")
    rows: list[tuple[str, str]] = []

    if "dataset" in data:
        dataset = str(data["dataset"])
        if data.get("binary_target") is not None:
            dataset += f" (binary: class {data['binary_target']} vs rest)"
        if data.get("train_limit"):
            dataset += f", {data['train_limit']} training images (seeded random subset)"
        rows.append(("dataset", dataset))
    if "preprocessing" in data:
        preprocessing = str(data["preprocessing"])
        if data.get("augment"):
            preprocessing += ", augmented"
        rows.append(("preprocessing", preprocessing))
    if "validation_fraction" in data:
        rows.append(("validation fraction", f"{data['validation_fraction']:g}"))

    if model.get("layers"):
        rows.append(("architecture", " → ".join(_spec(layer) for layer in model["layers"])))
    elif model.get("hidden") is not None:
        widths = "-".join(str(width) for width in model["hidden"]) or "none"
        architecture = f"MLP, hidden {widths}, {_spec(model.get('activation', 'relu'))}"
        if model.get("output"):
            architecture += f", {model['output']} output"
        rows.append(("architecture", architecture))
    explicit_layers = bool(model.get("layers"))  # init and dropout are then set per layer
    if "init" in model and not explicit_layers:
        rows.append(("init", _spec(model["init"])))
    if model.get("loss"):
        rows.append(("loss", _spec(model["loss"])))

    if "optimizer" in training:
        optimizer = training["optimizer"]
        arguments = dict(optimizer) if isinstance(optimizer, dict) else {"name": optimizer}
        rate = arguments.pop("learning_rate", training.get("learning_rate"))
        text = _spec(arguments)
        text += f", learning rate {rate:g}" if rate is not None else ", default learning rate"
        rows.append(("optimizer", text))
    if "mode" in training:
        rows.append(("mode", str(training["mode"])))
    if "batch_size" in training and training.get("mode", "minibatch") == "minibatch":
        rows.append(("batch size", str(training["batch_size"])))
    if "epochs" in training:
        rows.append(("epochs (max)", str(training["epochs"])))
    if "l2" in model:
        rows.append(("L2", f"{model['l2']:g}" if model["l2"] else "none"))
    if "dropout" in model and not explicit_layers:
        rows.append(("dropout", f"{model['dropout']:g}" if model["dropout"] else "none"))
    if "schedule" in training:
        schedule = training["schedule"]
        rows.append(("schedule", _spec(schedule) if schedule else "constant"))
    if "early_stopping" in training:
        stopping = training["early_stopping"]
        if isinstance(stopping, dict):
            text = ", ".join(f"{key}={value}" for key, value in stopping.items()) or "on"
        else:
            text = "on" if stopping else "off"
        rows.append(("early stopping", text))
    if "seed" in recipe:
        rows.append(("seed", str(recipe["seed"])))
    return rows


def _configuration_section(run: _Run) -> list[Block]:
    if run.recipe_text is None:
        return []
    blocks: list[Block] = [Heading("Configuration")]
    rows = _configuration_rows(run.recipe or {})
    if rows:
        blocks.append(Table(("setting", "value"), rows, (False, False)))
    blocks.append(
        Code(run.recipe_text.rstrip("\n"), summary="Full recipe (recipe.yaml)", language="yaml")
    )
    return blocks


def _model_section(run: _Run) -> list[Block]:
    summary = run.metrics.get("model_summary")
    if not summary:
        return []
    return [Heading("Model"), Code(str(summary).rstrip("\n"))]


def _history_section(run: _Run) -> list[Block]:
    blocks: list[Block] = []
    if run.history is not None:
        blocks += [Heading("Training history"), _history_table(run.history, run.metrics)]
    if "history" in run.figures:
        if not blocks:
            blocks.append(Heading("Training history"))
        blocks.append(run.figures["history"])
    return blocks


def _history_table(history: History, metrics: dict[str, Any]) -> Table:
    """One row per epoch; columns never logged (no validation set) are left out."""
    columns = [  # (key, header, formatter)
        ("epoch", "epoch", lambda v: f"{v:g}"),
        ("train_loss", "train loss", lambda v: f"{v:.4f}"),
        ("train_accuracy", "train acc", format_percent),
        ("val_loss", "val loss", lambda v: f"{v:.4f}"),
        ("val_accuracy", "val acc", format_percent),
        ("learning_rate", "learning rate", lambda v: f"{v:.4g}"),
        ("seconds", "seconds", lambda v: f"{v:.2f}"),
    ]
    columns = [c for c in columns if any(v is not None for v in history[c[0]])]
    rows = []
    bold = set()
    best = metrics.get("best_epoch")
    for index in range(len(history)):
        cells = []
        for key, _, formatter in columns:
            value = history[key][index]
            cells.append("" if value is None or not math.isfinite(value) else formatter(value))
        rows.append(tuple(cells))
        if best is not None and history["epoch"][index] == best:
            bold.add(index)
    return Table(
        tuple(header for _, header, _ in columns),
        rows,
        tuple(True for _ in columns),
        frozenset(bold),
    )


def _evaluation_section(run: _Run) -> list[Block]:
    blocks: list[Block] = []
    if "confusion_matrix" in run.figures:
        blocks.append(run.figures["confusion_matrix"])
    elif run.metrics.get("confusion_matrix"):
        blocks.append(_confusion_table(run.metrics))
    per_class = run.metrics.get("per_class")
    if per_class:
        try:
            classification = _metrics_from_dict(per_class)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{run.directory / 'metrics.json'}: 'per_class' is not the dict "
                f"ClassificationMetrics.to_dict() writes ({type(error).__name__}: {error})"
            ) from None
        rows = [
            (label, *("" if v is None else f"{v:.4f}" for v in (precision, recall, f1)), str(n))
            for label, precision, recall, f1, n in classification.rows()
        ]
        num_classes = len(classification.class_names)
        blocks.append(
            Table(
                ("class", "precision", "recall", "F1", "support"),
                rows,
                (False, True, True, True, True),
                frozenset(range(num_classes, len(rows))),
            )
        )
    if blocks:
        blocks.insert(0, Heading("Test set: confusion matrix and per-class metrics"))
    return blocks


def _confusion_table(metrics: dict[str, Any]) -> Table:
    matrix = metrics["confusion_matrix"]
    names = metrics.get("class_names") or [str(index) for index in range(len(matrix))]
    headers = ("true / predicted", *(str(name) for name in names))
    rows = [
        (str(name), *(str(int(count)) for count in row))
        for name, row in zip(names, matrix, strict=False)
    ]
    return Table(headers, rows, (False, *(True for _ in names)))


# --------------------------------------------------------------------------- Markdown

# `_` inside a word (he_normal) never starts emphasis, so it is left readable
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|]|(?<!\w)_|_(?!\w)|^#", re.MULTILINE)


def _md_text(text: str) -> str:
    """Backslash-escape the characters Markdown (and raw HTML in it) would interpret."""
    return _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), text)


def md_cell(text: str, bold: bool = False) -> str:
    text = _md_text(text).replace("\n", " ")
    return f"**{text}**" if bold and text else text


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(title: str, blocks: list[Block]) -> str:
    parts = [f"# {_md_text(title)}"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {_md_text(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(_md_text(block.text))
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(md_cell(h) for h in block.headers) + " |",
                "| " + " | ".join("---:" if n else "---" for n in block.numeric) + " |",
            ]
            for index, row in enumerate(block.rows):
                bold = index in block.bold_rows
                lines.append("| " + " | ".join(md_cell(cell, bold) for cell in row) + " |")
            parts.append("\n".join(lines))
        elif isinstance(block, Code):
            fence = _fence(block.text)
            code = f"{fence}{block.language}\n{block.text}\n{fence}"
            parts.append(f"{_md_text(block.summary)}:\n\n{code}" if block.summary else code)
        elif isinstance(block, Figure):
            caption = _md_text(block.caption)
            figure = f"![{caption}]({quote(block.path)})\n\n*{caption}*"
            if block.svg_path:
                figure += f" ([SVG]({quote(block.svg_path)}))"
            parts.append(figure)
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
body { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #eee; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .92rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bold td { font-weight: bold; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: .8rem; overflow-x: auto;
      font-size: .85rem; line-height: 1.35; }
details summary { cursor: pointer; color: #0366d6; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
footer { margin-top: 3rem; color: #888; font-size: .8rem; }
""".strip()


def render_html(title: str, blocks: list[Block]) -> str:
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Table):
            align = [' class="num"' if n else "" for n in block.numeric]
            lines = ["<table>", "<thead><tr>"]
            lines += [f"<th{a}>{esc(h)}</th>" for a, h in zip(align, block.headers, strict=True)]
            lines.append("</tr></thead>\n<tbody>")
            for index, row in enumerate(block.rows):
                row_class = ' class="bold"' if index in block.bold_rows else ""
                cells = "".join(f"<td{a}>{esc(c)}</td>" for a, c in zip(align, row, strict=True))
                lines.append(f"<tr{row_class}>{cells}</tr>")
            lines.append("</tbody>\n</table>")
            body.append("\n".join(lines))
        elif isinstance(block, Code):
            pre = f"<pre><code>{esc(block.text)}</code></pre>"
            if block.summary:
                pre = f"<details>\n<summary>{esc(block.summary)}</summary>\n{pre}\n</details>"
            body.append(pre)
        elif isinstance(block, Figure):
            caption = esc(block.caption)
            if block.svg_path:
                caption += f' (<a href="{esc(quote(block.svg_path))}">SVG</a>)'
            body.append(
                f'<figure>\n<img src="{esc(quote(block.path))}" alt="{esc(block.caption)}">\n'
                f"<figcaption>{caption}</figcaption>\n</figure>"
            )
    body.append(
        "<footer>Generated by chainrule.reporting.report from the files in this folder.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- entry point


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` and return their paths.

    Reads only files in ``run_dir``. ``metrics.json`` is required (``FileNotFoundError``
    naming it and the run directory otherwise); every other piece is optional and its
    section is left out when absent. Both files are written atomically.
    """
    run_dir = Path(run_dir)
    title, blocks = _build(_read_run(run_dir))
    markdown = atomic_write_text(run_dir / "report.md", render_markdown(title, blocks))
    page = atomic_write_text(run_dir / "report.html", render_html(title, blocks))
    return markdown, page
