"""The HTTP control plane: FastAPI app, contract schemas, auth, error mapping (never imports `av`)."""
