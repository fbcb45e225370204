"""Bring DICOM into the archive: header reader, identifier pseudonyms, the idempotent
ingest core, input sources, the ingest Lambda handler and the C-STORE gateway. Importing
this package creates no clients."""
