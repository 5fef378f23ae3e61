"""Media engine tests: layout math, mixer, compositor, and end-to-end recordings over HTTP."""
