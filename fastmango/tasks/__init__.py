"""Background tasks: @task, inline and arq backends, worker, cron, job status (issue 8).

Nothing public here yet; the layer exists so that imports keep the direction ARCHITECTURE.md gives.
"""

__all__: list[str] = []
