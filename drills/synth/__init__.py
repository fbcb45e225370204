"""A synthetic, de-identified enterprise DICOM data set: a data source, not ingest."""
