"""PetSeg's HTTP API: `python -m core serve` (FastAPI on uvicorn), on the CLI's code path."""
