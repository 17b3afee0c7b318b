"""One line of text for an event: the renderer below both the command line and the console.

Plain text, no terminal styling, so the engine's users (the CLI's printer, the
console's event log) render an event the same way; ``None`` for an event too
chatty to show unless ``verbose``.
"""

from __future__ import annotations

from sdconsole.engine.runtime import events as ev


def describe(event: ev.Event, verbose: bool = False) -> str | None:
    """One human line for an event, or None for events too chatty for a terminal."""
    match event:
        case ev.StageStarted(stage=stage, detail=detail):
            return f"== {stage}" + (f": {detail}" if detail else "")
        case ev.Progress(table=table, done=done, total=total, unit=unit, rate=rate):
            if done < total and not verbose:
                return None
            return f"   {table}: {done:,}/{total:,} {unit} ({rate:,.0f} {unit}/s)"
        case ev.CheckResult(stage="validate", status="pass") if not verbose:
            return None
        case ev.CheckResult(name=name, status=status, reason=reason, fix=fix):
            tail = f" -> {fix}" if fix and status != "pass" else ""
            return f"   [{status.upper():4}] {name}: {reason}{tail}"
        case ev.Finding(table=table, column=column, dimension=dim, message=message):
            return f"   ({dim}) {table}.{column}: {message}" if verbose else None
        case ev.DiffSample(rule=rule, table=table, column=column, changed=changed, samples=samples):
            example = f"  e.g. {samples[0][0]!r} -> {samples[0][1]!r}" if samples else ""
            return f"   {rule:<12} {table}.{column}: {changed:,} cells{example}"
        case ev.CanaryMetric(table=table, metric=metric, source=src, canary=can, ok=ok):
            if ok and not verbose:
                return None
            return f"   [{'ok' if ok else 'FAIL':4}] {table} {metric}: source {src} / canary {can}"
        case ev.GateReached(gate=gate, passed=passed, summary=summary):
            return f"-- gate {gate}: {'passed' if passed else 'NOT passed'} - {summary}"
        case ev.GateApproved(gate=gate, by=by, reason=reason):
            if by == ev.BY_COMMAND_LINE and not reason and not verbose:
                return None  # the command's own --yes: nothing to tell
            overriding = f", overriding: {reason}" if reason else ""
            return f"-- {gate} gate approved by {by}{overriding}"
        case ev.ColumnOverridden(
            table=table,
            column=column,
            type=kind,
            date_order=order,
            invalid=invalid,
            score=score,
            passed=passed,
        ):
            return (
                f"   override {table}.{column}: {kind} ({order}), {invalid:,} invalid;"
                f" score {score}, gate {'passes' if passed else 'refuses'}"
            )
        case ev.GateAwaiting(run_id=run_id, gate=gate, summary=summary, needs_reason=needs):
            how = (
                f'sdconsole approve {run_id} {gate} --reason "..."'
                if needs
                else f"sdconsole approve {run_id} {gate}"
            )
            return f"-- waiting at the {gate} gate: {summary}; go on with `{how}`"
        case ev.RunEnded(outcome=outcome, exit_code=code, error=error):
            return f"== run {outcome} (exit {code})" + (f": {error}" if error else "")
        case ev.SqlExecuted(statement=statement):
            return f"   sql> {statement}" if verbose else None
        case ev.StageFinished(stage=stage, summary=summary, seconds=seconds):
            figures = ", ".join(
                f"{k}={v}" for k, v in summary.items() if isinstance(v, (int, float, str))
            )
            return f"== {stage} done in {seconds:.2f}s" + (f": {figures}" if figures else "")
        case ev.StageFailed(stage=stage, error=error):
            return f"!! {stage} failed: {error}"
    return None
