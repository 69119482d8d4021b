"""A class exercise on disk: every student's sheet, key and answers, an index, and bundles.

``write_exercise(template, students, out_dir, settings)`` makes one variant per student
(``assignment.make_variant``) and writes, in ``out_dir/<student>/``::

    sheet.md   sheet.tex   the problem sheet (Markdown; a standalone LaTeX document)
    key.md     key.tex     the answer key (explain's worked solution)
    answers.json           every asked quantity by name, with the spec drawn
    spec.yaml              the variant as an explain spec: chainrule explain spec.yaml
    network.png            the diagram with the numbers (unless diagram=False)
    sheet.pdf  key.pdf     when pdflatex is on PATH (pdf=None) or pdf=True

then ``out_dir/index.csv`` (student, variant, draw, directory, files) and, with PDFs, one class
bundle of all sheets (``sheets.pdf``) and one of all keys (``keys.pdf``). ``jobs`` > 1 makes the
variants in that many processes; the files do not depend on it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chainrule.classroom import latex
from chainrule.classroom.assignment import ExerciseSettings, make_variant
from chainrule.classroom.sheets import answers_file, diagram, key_document, sheet_document
from chainrule.classroom.wellposed import Rejections
from chainrule.reporting.formats import render
from chainrule.utils.atomic import atomic_write_text
from chainrule.utils.validation import check_integer

INDEX_COLUMNS = ("student", "variant", "draw", "directory", "files")


@dataclass
class WrittenVariant:
    """What one student's variant left on disk."""

    student: str
    variant_id: str
    draw: int
    directory: str
    files: list[str]
    rejections: Rejections


@dataclass
class ExerciseResult:
    variants: list[WrittenVariant]
    index: Path
    bundles: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejections(self) -> Rejections:
        total = Rejections()
        for variant in self.variants:
            total.update(variant.rejections)
        return total


def numbered_students(count: int) -> list[str]:
    """``--variants N`` without a roster: students variant-001 ... variant-N."""
    check_integer(count, "--variants", minimum=1, maximum=100_000)
    width = max(3, len(str(count)))
    return [f"variant-{i:0{width}d}" for i in range(1, count + 1)]


def read_roster(path: str | Path) -> list[str]:
    """Student ids from a CSV: its ``student`` (or ``id``) column, else its first column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"roster not found: {path}")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"roster {path} is empty; give one student id a line")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in ("student", "id") if name in header), None)
    body = rows[1:] if column is not None else rows
    students = [row[column or 0].strip() for row in body if len(row) > (column or 0)]
    students = [student for student in students if student]
    duplicates = sorted({s for s in students if students.count(s) > 1})
    if duplicates:
        raise ValueError(f"roster {path}: student ids repeat: {', '.join(duplicates)}")
    if not students:
        raise ValueError(f"roster {path} lists no student ids")
    return students


def folder_name(student: str) -> str:
    """A file-system-safe folder for ``student`` (letters, digits, ``.``, ``_`` and ``-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "student"


def write_exercise(
    template: dict[str, Any],
    students: list[str],
    out_dir: str | Path,
    settings: ExerciseSettings,
    *,
    pdf: bool | None = None,
    diagrams: bool = True,
    jobs: int = 1,
) -> ExerciseResult:
    """Every student's files, the index and (with PDFs) the bundles; see the module docstring."""
    start = time.perf_counter()
    check_integer(jobs, "--jobs", minimum=1, maximum=256)
    folders = [folder_name(student) for student in students]
    clashes = sorted({f for f in folders if folders.count(f) > 1})
    if clashes:
        raise ValueError(
            f"students share a folder name ({', '.join(clashes)}); make their ids distinct"
        )
    if pdf is None:
        pdf = latex.have_pdflatex()
    elif pdf and not latex.have_pdflatex():
        raise RuntimeError("PDFs need pdflatex on PATH (install TeX Live), or leave --pdf out")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = [
        (template, s, f, out, settings, pdf, diagrams)
        for s, f in zip(students, folders, strict=True)
    ]
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            written = list(pool.map(_write_one, work, chunksize=max(1, len(work) // (4 * jobs))))
    else:
        written = [_write_one(item) for item in work]
    index = _write_index(out, written)
    bundles = _write_bundles(out, written) if pdf else []
    return ExerciseResult(written, index, bundles, time.perf_counter() - start)


def _write_one(item: tuple) -> WrittenVariant:
    template, student, folder, out, settings, pdf, diagrams = item
    variant = make_variant(template, student, settings)
    directory = out / folder
    directory.mkdir(parents=True, exist_ok=True)
    figure = None
    if diagrams and not variant.conv:  # the diagram draws dense networks; a conv sheet's
        # givens are its image and kernels, as tables
        diagram(variant, directory / "network")
        figure = "network.png"
    files = {
        "sheet.md": render(sheet_document(variant, figure), "markdown", math="code"),
        "sheet.tex": latex.standalone(render(sheet_document(variant, figure), "latex")),
        "key.md": render(key_document(variant, "markdown"), "markdown", math="code"),
        "key.tex": latex.standalone(render(key_document(variant, "latex"), "latex")),
        "answers.json": json.dumps(answers_file(variant, settings.draw.seed), indent=2) + "\n",
        "spec.yaml": yaml.safe_dump(variant.raw, sort_keys=False, allow_unicode=True),
    }
    for name, text in files.items():
        atomic_write_text(directory / name, text)
    names = list(files) + (["network.png"] if figure else [])
    if pdf:
        for name in ("sheet.tex", "key.tex"):
            names.append(latex.compile_pdf(directory / name).name)
    return WrittenVariant(
        student, variant.variant_id, variant.draw, folder, names, variant.rejections
    )


def _write_index(out: Path, written: list[WrittenVariant]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    for item in written:
        files = ";".join(f"{item.directory}/{name}" for name in item.files)
        writer.writerow([item.student, item.variant_id, item.draw, item.directory, files])
    return atomic_write_text(out / "index.csv", buffer.getvalue())


def _write_bundles(out: Path, written: list[WrittenVariant]) -> list[Path]:
    """sheets.pdf and keys.pdf: every student's sheet (key) on pages of its own."""
    bundles = []
    for kind in ("sheet", "key"):
        fragments = []
        for item in written:
            text = (out / item.directory / f"{kind}.tex").read_text(encoding="utf-8")
            body = text.split("\\begin{document}\n", 1)[1].rsplit("\\end{document}", 1)[0]
            # the figure lives in the student's folder, one level below the bundle
            body = body.replace("{network.png}", f"{{{item.directory}/network.png}}")
            fragments.append(body)
        path = atomic_write_text(out / f"{kind}s.tex", latex.standalone(*fragments))
        bundles.append(latex.compile_pdf(path))
    return bundles
