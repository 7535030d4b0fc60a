"""`python -m core serve`: uvicorn serving `core.serving.api.app`, in one process or several."""

from __future__ import annotations

import os

from core.config import ServeConfig


def serve(config: ServeConfig) -> None:
    import uvicorn

    from core.serving.api.app import CONFIG_ENVIRONMENT, config_to_environment

    os.environ[CONFIG_ENVIRONMENT] = config_to_environment(config)  # read by every worker's factory call
    uvicorn.run(
        "core.serving.api.app:app_from_environment",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        limit_concurrency=config.max_connections,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        log_level="info",
    )
