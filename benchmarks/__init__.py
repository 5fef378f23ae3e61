"""cloudrec benchmarks: CPU cost, quality and latency of recordings (`python -m benchmarks`)."""
