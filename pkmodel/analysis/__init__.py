"""What the curves mean: exposure windows and metrics, summaries and target attainment, compare,
dose finding, sensitivity, validation against published data."""
