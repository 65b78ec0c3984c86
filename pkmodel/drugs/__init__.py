"""Drug-specific knowledge, one module per drug."""
