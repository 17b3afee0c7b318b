"""What the stages hand each other and write to the run dir: plain dataclasses, no I/O beyond their
files.
"""
