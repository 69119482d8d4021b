"""Standalone LaTeX documents (what pdflatex compiles as written) and their PDFs.

``reporting``'s LaTeX renderer writes a fragment to ``\\input``; a sheet handed to a student
must compile on its own, so ``standalone`` wraps fragments in a preamble with the packages they
use (amsmath, graphicx) and ``\\begin{document} … \\end{document}``. A class bundle is the same
with every fragment on pages of its own.

``compile_pdf`` runs pdflatex (when it is on PATH) in the file's folder, non-interactively, and
says which line failed when it does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PREAMBLE = r"""\documentclass[11pt,a4paper]{article}
\usepackage[T1]{fontenc}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\begin{document}
"""

#: Seconds one pdflatex run may take before it is stopped.
PDFLATEX_TIMEOUT = 120


def standalone(*fragments: str) -> str:
    """A whole LaTeX document of ``fragments``, each after the first on a new page."""
    body = "\n\\clearpage\n".join(fragment.rstrip() + "\n" for fragment in fragments)
    return PREAMBLE + body + "\\end{document}\n"


def have_pdflatex() -> bool:
    return shutil.which("pdflatex") is not None


def compile_pdf(tex_path: Path) -> Path:
    """``tex_path`` compiled to the PDF beside it; a RuntimeError quotes pdflatex's error."""
    tex_path = Path(tex_path)
    command = [
        "pdflatex",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-no-shell-escape",
        tex_path.name,
    ]
    result = subprocess.run(
        command,
        cwd=tex_path.parent,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=PDFLATEX_TIMEOUT,
        check=False,
    )
    for suffix in (".aux", ".log"):
        tex_path.with_suffix(suffix).unlink(missing_ok=True)
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if line.startswith(("!", "l."))]
        raise RuntimeError(
            f"pdflatex could not compile {tex_path}: {' '.join(errors[:3]) or 'see its log'}"
        )
    return tex_path.with_suffix(".pdf")
