"""The weakening catalogue: ways a real stack gets weaker, and the drill that must catch each."""
