"""What a work dir and its run dirs hold, by file name: one place for the names.

The stages write these files, and status, housekeeping, resume and discard
find them again; naming them here lets those readers find a file without
importing the stage that writes it.
"""

from __future__ import annotations

# In a run dir.
PROFILE = "profile.json"  # the profile: what every column holds, the score
PLAN = "plan.json"  # what each table and column becomes (see records.plan)
WORKING_COPY = "working.db"  # the cleaned snapshot of the source the loader reads
NUMBERED = "numbered.db"  # the source with its WITHOUT ROWID tables numbered (the cleaner's)

# In the work dir.
BACKUP_DIR = "backups"  # the dumps taken before a cutover
PARTIAL = ".partial"  # suffix of a file being written (a working copy, a dump)
