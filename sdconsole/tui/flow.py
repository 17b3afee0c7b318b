"""The guided migration, step by step: which engine call follows which approval.

Screens call the operator actions here (``to_profile``, ``approve_clean``,
...); each starts one engine step in an App worker. When a step succeeds the
App calls :meth:`Flow.succeeded`, which stores the result in the state and
moves the flow on (``_after_<step>``). Failures go to :meth:`Flow.failed`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sdconsole.engine import pipeline
from sdconsole.engine.runtime.errors import GateRefused, Interrupted
from sdconsole.engine.runtime.run import one_line
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.clean import CleanScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.preflight import PreflightScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.state import FlowState
from sdconsole.tui.stopping import stop_terms

if TYPE_CHECKING:
    from sdconsole.tui.app import ConsoleApp


class Flow:
    """The migration in progress (at most one) and the steps the operator drives."""

    def __init__(self, app: ConsoleApp) -> None:
        self.app = app
        self.migration: pipeline.Migration | None = None
        self.state = FlowState()
        self.error: BaseException | None = None
        self._close_lock = threading.Lock()
        self._closed: set[str] = set()

    @property
    def stable(self) -> str:
        return self.app.settings.stable_schema

    def _run(self, step: str, *args: Any, **kwargs: Any) -> None:
        self.app.run_engine(step, getattr(self.migration, step), *args, **kwargs)

    def _show(self, step: str, screen: Any) -> None:
        self.app.step = step
        self.state.step = step
        self.app.push_screen(screen)

    # -- starting ----------------------------------------------------------------

    def start(self) -> None:
        """A new migration of the App's source: open it, then run preflight."""
        self.state, self.error = FlowState(), None
        self._show("preflight", PreflightScreen())
        self.app.run_engine("open", pipeline.Migration, self.app.settings, self.app.source,
                            listeners=[self.app.listener])

    def resume_choice(self, run: Any, choice: str | None) -> None:
        """The operator's answer about an interrupted run found at start."""
        if choice == "resume":
            self.state, self.error = FlowState(), None
            self._show("load", LoadScreen())
            self.app.run_engine("open", pipeline.resume, self.app.settings, run.run_id,
                                listeners=[self.app.listener])
        elif choice == "discard":
            self.app.run_engine("discard_interrupted", pipeline.discard_interrupted,
                                self.app.settings, run.run_id)

    # -- results -------------------------------------------------------------------

    def succeeded(self, step: str, result: Any) -> None:
        if self.state.stopping == step:  # it finished before it reached a safe point
            self.state.stopping = ""
            self._clear_cancel()
            self.app.notify(f"{step} finished before it could stop.", title="Not stopped")
        self.state.results[step] = result
        after = getattr(self, f"_after_{step}", None)
        if after is not None:
            after(result)

    def _after_open(self, migration: pipeline.Migration) -> None:
        self.migration = migration
        # The cutover modal shows any change of shape and needs the schema name typed:
        # that confirmation is the approval headless runs give with --allow-shape-change.
        migration.allow_shape_change = True
        self.state.run_id = migration.run.run_id
        resumed = migration.clean_report is not None
        self._run("load" if resumed else "preflight")

    def _after_profile(self, profile: Any) -> None:
        self._run("gate")  # the engine's verdict; the operator approves it (or overrides)

    def _after_override(self, decision: Any) -> None:
        self.to_preview()

    def _after_clean(self, report: Any) -> None:
        self.app.step = self.state.step = "canary"
        self._run("canary")

    def _after_load(self, report: Any) -> None:
        self._run("validate")

    def _after_plan_cutover(self, plan: Any) -> None:
        self.app.step = self.state.step = "cutover"
        self.app.push_screen(CutoverModal(plan), self._cutover_confirmed)

    def _cutover_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            self._run("cutover")
        else:
            self.app.step = self.state.step = "load"

    def _after_cutover(self, report: Any) -> None:
        self.app.notify(f"{self.stable} now shows version {report.to_version}"
                        f" ({report.to_schema}) in {report.seconds:.2f}s", title="Cutover done")
        self.finish()

    def _after_discard(self, _: Any) -> None:
        self.error = None  # the run ends discarded, not interrupted: nothing to resume
        self.app.notify("The in-progress version was dropped; the active version is unchanged.",
                        title="Discarded")
        self.finish()

    def _after_close(self, _: Any) -> None:
        self.migration = None
        self.state = FlowState()
        self.app.step = ""
        while not isinstance(self.app.screen, HomeScreen):
            self.app.pop_screen()
        self.app.refresh_status()

    def _after_discard_interrupted(self, _: Any) -> None:
        self.app.notify("The interrupted run was discarded.", title="Discarded")
        self.app.refresh_status()

    def failed(self, step: str, error: BaseException | None, of_migration: bool = True) -> None:
        """One place for every failed step: a modal with the message and the way out."""
        if step == "gate" and isinstance(error, GateRefused):
            return  # a verdict, not a failure: the profile screen offers the override
        if of_migration and self.migration is not None:
            self.error = error  # recorded with the run when it is closed
        if isinstance(error, Interrupted) and self.state.stopping == step:
            self.state.stopping, self.state.stopped = "", step  # the screen says what now
            return
        message = one_line(error) if error is not None else "unknown error"
        version = self.discardable()
        hint = ""
        if isinstance(error, Interrupted):
            hint = "The step stopped safely; esc on the screen behind leaves this migration."
        elif self.migration is None and self.app.rollback_plan is not None:
            hint = "ctrl+r rolls the active version back if it is what went wrong."
        self.app.push_screen(
            ErrorModal(step, message, discard=version or "", hint=hint),
            lambda choice: self._run("discard") if choice == "discard" else None,
        )

    # -- operator actions ------------------------------------------------------------

    def rerun_preflight(self) -> None:
        self._run("preflight")

    def to_profile(self) -> None:
        self._show("profile", ProfileScreen())
        self._run("profile")

    def set_column(self, table: str, column: str, **change: str) -> None:
        self._run("set_column", table, column, **change)

    def override_gate(self, reason: str) -> None:
        """Pass the refused quality gate with the operator's reason (recorded with the run)."""
        self.app.run_engine("override", self.migration.gate, reason)

    def to_preview(self) -> None:
        self._show("clean", CleanScreen())
        self._run("preview")

    def back_to_profile(self) -> None:
        """From the clean preview: change a column and preview again."""
        self.state.results.pop("preview", None)
        self.app.step = self.state.step = "profile"
        self.app.pop_screen()

    def approve_clean(self) -> None:
        """The clean runs under the canary screen; the breadcrumb stays on Clean until done."""
        self._show("canary", CanaryScreen())
        self.app.step = self.state.step = "clean"
        self._run("clean")

    def approve_canary(self) -> None:
        self._show("load", LoadScreen())
        self._run("load")

    def request_cutover(self) -> None:
        self._run("plan_cutover")

    def cancel(self) -> None:
        """Ask the running step to stop at its next safe point (thread-safe, immediate)."""
        if self.migration is not None:
            self.migration.cancel()

    def stop_terms(self, step: str) -> tuple[str, str]:
        """What stopping ``step`` keeps and discards, for this migration."""
        return stop_terms(step, self.stable, self.discardable())

    def confirm_stop(self) -> None:
        """x while a step runs: y/n naming what is kept and what is discarded."""
        step = self.app.busy
        kept, discarded = self.stop_terms(step)
        self.app.push_screen(
            ConfirmModal(f"Stop {step}", f"Stop the {step} step at its next safe point?",
                         f"Kept: {kept}\nDiscarded: {discarded}"),
            lambda yes: self._stop(step) if yes else None)

    def _stop(self, step: str) -> None:
        if self.app.busy == step:
            self.state.stopping = step
            self.cancel()

    def retry(self) -> None:
        """r after a stop: the stopped step again (a cutover asks for its confirmation again)."""
        step, self.state.stopped = self.state.stopped, ""
        self.error = None
        self._clear_cancel()
        if step == "cutover":
            self.request_cutover()
        else:
            self._run(step)

    def _clear_cancel(self) -> None:
        """Let the next step run: the engine keeps a cancel request until it is cleared."""
        if self.migration is not None:
            self.migration.run.cancel_requested.clear()

    def discardable(self) -> str | None:
        """The schema of a version this migration loaded but did not cut over, if any."""
        m = self.migration
        if m is None or m.version is None or m.cutover_report is not None:
            return None
        return m.version_schema

    def confirm_leave(self) -> None:
        """esc on a step screen: stop this migration (after a y/n naming what happens)."""
        version = self.discardable()
        if version:
            question = (f"Stop this migration and drop {version} (loaded, never active)?"
                        f" {self.stable} stays as it is.")
        else:
            question = f"Stop this migration? Nothing has been changed in {self.stable}."
        self.app.push_screen(ConfirmModal("Stop the migration", question),
                             lambda yes: self.leave() if yes else None)

    def leave(self) -> None:
        if self.discardable():
            self._run("discard")
        else:
            self.finish()

    def finish(self) -> None:
        """Close the migration (records the outcome, releases the lock), back to Home."""
        if self.migration is None:
            self._after_close(None)
            return
        migration, error = self.migration, self.error
        self.app.run_engine("close", self._close_once, migration, error)

    def _close_once(self, migration: pipeline.Migration, error: BaseException | None) -> None:
        with self._close_lock:
            if migration.run.run_id not in self._closed:
                self._closed.add(migration.run.run_id)
                migration.close(error)

    def close_after_hangup(self, error: BaseException | None) -> None:
        """Worker thread, console gone: record the run as interrupted and release the lock."""
        if self.migration is not None:
            self._close_once(self.migration, error or Interrupted("the console was closed"))

    def close_at_exit(self) -> None:
        """UI thread at exit, nothing running: close what is still open."""
        if self.migration is not None:
            self._close_once(self.migration, self.error)

    def no_rollback_reason(self) -> str:
        """Why ctrl+r offers nothing now."""
        if self.app.busy:
            return f"{self.app.busy} is running: wait for it to finish"
        if self.migration is not None:
            return "this migration has loaded nothing yet: esc stops it, nothing to roll back"
        return self.app.no_rollback or "the target is still being read"

    def rollback_offer(self) -> tuple[str, str, str, Any] | None:
        """What ctrl+r does now: (title, question, statements, action), or None."""
        if self.app.busy:
            return None
        version = self.discardable()
        if version:
            return ("Roll back", f"Discard {version} (loaded, never active)? {self.stable}"
                    " stays on its active version.", "", lambda: self._run("discard"))
        if self.migration is not None:
            return None
        plan = self.app.rollback_plan
        if plan is None:
            return None
        if plan.action == "switch":
            question = (f"Roll {self.stable} back from version {plan.from_version} to version"
                        f" {plan.to_version} ({plan.to_schema})?")
        else:
            question = f"Roll back: {plan.summary}?"
        return ("Roll back", question, "\n".join(plan.statements), self.app.start_rollback)
