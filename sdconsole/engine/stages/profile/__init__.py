"""The profile stage, a package: ``scan`` (the columns' values counted), ``infer`` (what
each column becomes, with its evidence), ``relations`` (orphans), ``quality`` (the score
and the gate) and ``profiler`` (the stage that runs them and writes the profile)."""

STAGE = "profile"  # the stage's name in events and the journal
