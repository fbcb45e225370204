"""drkit: provision, drill and verify a two-region cloud archive for medical imaging."""

__version__ = "0.1.0"
