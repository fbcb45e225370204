"""Simulated AWS behaviours that moto lacks, one module each (see drills.cloud.simulation.BEHAVIOURS)."""
