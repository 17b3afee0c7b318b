"""What stopping the run in each step keeps and what it discards, in the operator's words.

The console asks before it stops the run (x, esc), naming both. The run ends
interrupted at its next safe point; ``sdconsole resume`` goes on from what
it kept, or discards it.
"""

from __future__ import annotations

STOPS = {
    "gate": (
        "everything done so far: the run waits at a gate and changes nothing there",
        "nothing",
    ),
    "preflight": ("everything: preflight only reads", "the checks not run yet"),
    "profile": ("the preflight results; the source, opened read-only", "the profile so far"),
    "preview": (
        "the profile and your column choices",
        "the preview so far (a dry run: nothing was written)",
    ),
    "clean": (
        "the source, never modified, the profile and your column choices",
        "the working copy being written (the clean is one transaction)",
    ),
    "canary": (
        "the cleaned working copy; {stable} as it is",
        "the canary sample (its schema is dropped)",
    ),
    "load": (
        "the cleaned working copy; {stable} on its active version",
        "the rows loaded so far into {version} (a retry loads it again from the start)",
    ),
    "validate": (
        "{version}, loaded; {stable} on its active version",
        "the validation so far (it only reads)",
    ),
    "cutover": (
        "{stable} on its active version, unless the switch (one transaction) already committed",
        "the backup being written",
    ),
}
"""Step -> (what is kept, what is discarded)."""


def stop_terms(step: str, stable: str, version: str | None) -> tuple[str, str]:
    """(kept, discarded) when ``step`` stops, for the stable schema and new version named."""
    kept, discarded = STOPS[step]
    names = {"stable": stable, "version": version or "the new version"}
    return kept.format(**names), discarded.format(**names)
