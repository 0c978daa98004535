"""Running the app: the RSGI front that reads whole requests within bounds (`front`), the front that
runs requests that may block on thread pools (`offload`), granian or waitress with their limits
(`run`), `--watch` (`reloader`), and the container's health check (`healthcheck`, standard library
only)."""
