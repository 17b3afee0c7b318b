"""The value rules every stage shares: what a text means, names, cells as the target holds them,
checksums.
"""
