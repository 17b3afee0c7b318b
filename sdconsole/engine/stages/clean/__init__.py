"""The clean stage: ``cleaner`` (the snapshot, the transaction, the report) and ``passes``
(the rules over each column, in SQL where a value's shape is known, else in Python)."""
