"""The operator runbook, as Markdown files (shipped in the package as sdconsole.runbook)."""
