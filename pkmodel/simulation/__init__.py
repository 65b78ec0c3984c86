"""simulate(): model + cohort + doses + engine -> Result; in chunks, to Parquet, on Dask."""
