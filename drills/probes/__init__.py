"""Probes observe: the verification ladder's rungs and the drills' checks, over boto3 only."""
