"""What every run has: its id, dir and journal, events, errors, logs, metrics and worker
processes."""
