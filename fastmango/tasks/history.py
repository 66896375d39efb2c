"""Job history: the last jobs of each task and their states, in memory (inline) or in Redis (arq)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict

from fastmango.tasks.jobs import RECORDED_STATES, JobInfo, JobState

#: Jobs kept per task; older records are dropped as new jobs arrive.
DEFAULT_HISTORY_SIZE = 1000


class History(ABC):
    """Where job records live. ``save`` writes the whole record; the newest ``size`` jobs per task are kept."""

    size: int

    @abstractmethod
    async def save(self, info: JobInfo) -> None:
        """Store ``info`` (replacing the job's earlier record) and index it under its task."""

    @abstractmethod
    async def get(self, job_id: str) -> JobInfo | None:
        """The record of a job, or None."""

    @abstractmethod
    async def records(self, task: str | None = None) -> list[JobInfo]:
        """Every retained record (of one task, or of all)."""

    @abstractmethod
    async def task_names(self) -> set[str]:
        """The names of the tasks that have records."""

    async def recent(self, task: str | None = None, state: JobState | None = None, limit: int = 50) -> list[JobInfo]:
        """The newest jobs first (by enqueue time), optionally of one task and in one state."""
        found = [r for r in await self.records(task) if state is None or r.state is state]
        found.sort(key=lambda r: r.enqueued_at, reverse=True)
        return found[:limit]

    async def stats(self, tasks: set[str] | None = None) -> dict[str, dict[str, int]]:
        """For each task (those with records, plus ``tasks``), how many retained jobs are in each state."""
        counts = {name: dict.fromkeys(RECORDED_STATES, 0) for name in (tasks or set()) | await self.task_names()}
        for record in await self.records():
            counts.setdefault(record.task, dict.fromkeys(RECORDED_STATES, 0))[record.state] += 1
        return {name: {str(state): n for state, n in counts[name].items()} for name in sorted(counts)}


class MemoryHistory(History):
    """History in this process's memory: the inline backend's."""

    def __init__(self, size: int = DEFAULT_HISTORY_SIZE) -> None:
        self.size = size
        self._jobs: dict[str, JobInfo] = {}
        self._by_task: dict[str, OrderedDict[str, None]] = {}

    async def save(self, info: JobInfo) -> None:
        self._jobs[info.id] = info
        ids = self._by_task.setdefault(info.task, OrderedDict())
        ids[info.id] = None
        while len(ids) > self.size:
            old, _ = ids.popitem(last=False)
            self._jobs.pop(old, None)

    async def get(self, job_id: str) -> JobInfo | None:
        return self._jobs.get(job_id)

    async def records(self, task: str | None = None) -> list[JobInfo]:
        if task is None:
            return list(self._jobs.values())
        return [self._jobs[i] for i in self._by_task.get(task, ()) if i in self._jobs]

    async def task_names(self) -> set[str]:
        return set(self._by_task)
