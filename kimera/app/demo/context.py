"""What a demo stage gets (:class:`DemoContext`) and how it says it failed (:class:`DemoFailed`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kimera.app.services import Services
from kimera.config import KimeraConfig
from kimera.settings import Settings

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from rich.console import Console
    from rich.progress import Progress

    from pipelines.runner import RunOutcome


class DemoFailed(RuntimeError):
    """A stage's run failed; the message says which step and why."""


@dataclass
class DemoContext:
    """What a stage gets: settings, config, the demo window ``[start, end)`` and the progress display."""

    settings: Settings
    config: KimeraConfig
    start: datetime
    end: datetime
    progress: Progress
    console: Console
    services: Services = field(default_factory=Services)  # servers started here; stopped at the end
    status_url: str | None = None  # the execution service's status page, once the paper stage ran
    paper_clock_url: str | None = (
        None  # a paper venue server this demo started: its market time is ours to move
    )
    exported: list[str] = field(default_factory=list)  # environment set for this run only; unset at the end
    _instance: DagsterInstance | None = field(default=None, repr=False)

    @property
    def instance(self) -> DagsterInstance:
        """The Dagster instance under ``KIMERA_HOME/dagster`` (runs made here show in the UI)."""
        if self._instance is None:
            from dagster import DagsterInstance

            self._instance = DagsterInstance.get()
        return self._instance

    def run_job(self, job_name: str, title: str, partitioned: bool = True) -> RunOutcome:
        """Run a job of the code location (over the demo window if ``partitioned``), with a bar per step.

        Step bars move with the ``pipelines.progress`` lines the steps log; raises
        :class:`DemoFailed` naming the failed step and its error.
        """
        # Dagster takes seconds to import: only when a stage runs a job
        from dagster import DagsterEventType

        from pipelines.progress import parse_progress
        from pipelines.runner import code_location, run_job

        defs = code_location()
        job = defs.resolve_job_def(job_name)
        overall = self.progress.add_task(f"[bold]{title}", total=len(job.graph.nodes))
        steps: dict[str, Any] = {}

        def on_event(entry) -> None:
            step = entry.step_key
            event = entry.dagster_event
            if step is None:
                return
            if step not in steps:
                steps[step] = self.progress.add_task(f"  {step.replace('__', '.')}", total=None)
            task = steps[step]
            report = parse_progress(entry.user_message) if event is None else None
            if report is not None:
                self.progress.update(task, total=report.total, completed=report.done)
            elif event is None:
                return
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                total = self.progress.tasks[self._index(task)].total or 1
                self.progress.update(task, total=total, completed=total)
                self.progress.advance(overall)
            elif event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
                self.progress.update(task, description=f"  {step.replace('__', '.')} [yellow](retrying)")
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                self.progress.update(task, description=f"  {step.replace('__', '.')} [red](failed)")

        window = (self.start, self.end) if partitioned else None
        outcome = run_job(
            job_name, self.instance, window=window, on_event=on_event, defs=defs, console_log_level="CRITICAL"
        )
        if outcome.interrupted:
            raise KeyboardInterrupt
        if not outcome.success:
            steps_failed = ", ".join(outcome.failed_steps) or "the run"
            raise DemoFailed(f"{title}: {steps_failed} failed (run {outcome.run_id}): {outcome.error}")
        return outcome

    def _index(self, task_id: Any) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task_id)

    def close(self) -> None:
        """Stop every server this demo started, and let go of the Dagster instance."""
        self.services.stop_all()
        for name in self.exported:
            os.environ.pop(name, None)
        self.exported.clear()
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None
