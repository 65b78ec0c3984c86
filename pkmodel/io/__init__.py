"""Files: atomic writes, provenance, CSV text, the long table and the Parquet writer, result files."""
