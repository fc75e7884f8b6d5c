"""Moved to :mod:`zoo.sdk` (the public plugin kit); these modules only re-export it, for old imports."""
