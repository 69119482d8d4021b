"""The sweep's live display: runs done, running and failed, and the best run so far.

One rich progress bar on standard error (standard output stays clean for ``--json``) with a
line printed above it as each run finishes::

    ✓ relu-he_normal-minibatch   val_accuracy 0.9712   12.3 s
    ✗ sigmoid-normal-batch       ValueError: ...
    sweep grid-activation-init-mode ━━━━━━━━━━━━━━━━━━━━━━━━ 14/27  running 2  failed 1
        best relu-he_normal-minibatch 0.9712  0:02:41

``enabled=False`` (quiet mode) prints nothing.
"""

from __future__ import annotations

from typing import Any

from chainrule.sweep.store import RunRecord

__all__ = ["SweepDisplay"]


class SweepDisplay:
    def __init__(self, name: str, total: int, done: int, metric: str, enabled: bool = True):
        self.name = name
        self.total = total
        self.done = done
        self.metric = metric
        self.enabled = enabled
        self.running: set[str] = set()
        self.failed = 0
        self.best: RunRecord | None = None
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SweepDisplay:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("sweep [bold]{task.description}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(
            self.name, total=self.total, completed=self.done, status=""
        )
        if self.done:
            self._print(f"{self.done} of {self.total} runs already finished (resume)")
        self._refresh()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc_info)
            self._progress = None

    # -- events ----------------------------------------------------------------------------
    def set_executor(self, description: str) -> None:
        self._print(f"[dim]running on {description}[/]")

    def started(self, name: str) -> None:
        self.running.add(name)
        self._refresh()

    def requeued(self, name: str) -> None:
        self.running.discard(name)
        self._print(f"[yellow]↻ {name}: its worker process died; it will run again[/]")
        self._refresh()

    def update_best(self, best: RunRecord | None) -> None:
        self.best = best
        self._refresh()

    def finished(self, record: RunRecord, best: RunRecord | None) -> None:
        self.running.discard(record.name)
        self.done += 1
        seconds = f"{record.seconds:.1f} s" if record.seconds is not None else ""
        if record.status == "failed":
            self.failed += 1
            self._print(f"[red]✗ {record.name}[/]  {record.error}")
        else:
            value = record.metric(self.metric)
            shown = "n/a" if value is None else f"{value:.4f}"
            self._print(f"[green]✓[/] {record.name}  {self.metric} {shown}  {seconds}")
        self.best = best
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done)
        self._refresh()

    # -- drawing ---------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)

    def _refresh(self) -> None:
        if self._progress is None:
            return
        status = f"running {len(self.running)}"
        if self.failed:
            status += f"  [red]failed {self.failed}[/]"
        if self.best is not None:
            value = self.best.metric(self.metric)
            status += f"  best {self.best.name} {self.metric} {value:.4f}"
        self._progress.update(self._task, status=status)
