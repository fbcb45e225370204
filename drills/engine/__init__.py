"""The drill engine: scenarios (validated documents), runner, clock, journal, results."""
