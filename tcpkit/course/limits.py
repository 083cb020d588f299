"""Resource limits of one graded submission: wall time, memory, CPU, processes, files, answer size."""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.engine.errors import ParameterError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one submission.

    Attributes
    ----------
    timeout : float
        Wall-clock seconds for *all* the student's code: every cell and every call the tests make
        to its functions, together.
    memory_mb : int
        Address-space limit of each of the student's processes, and the limit of their resident
        memory together.
    cell_timeout : float
        Seconds one cell may run before it is interrupted (the next cell still runs).
    case_timeout : float
        Seconds one test case may run (including the calls it makes).
    processes : int
        ``RLIMIT_NPROC`` of the student's processes (namespace mode: processes in the jail).
    scratch_mb, files : int
        Size and number of files of the private ``/tmp`` (namespace mode; ``scratch_mb`` is also
        ``RLIMIT_FSIZE``).
    answer_mb : int
        Largest answer (as tagged JSON); a larger one is reported by name, never cut.
    cpu_s : float
        CPU seconds of all the student's processes together (default: ``timeout + 5``).
    isolation : str
        ``auto``, ``namespace`` or ``fallback`` (see :func:`tcpkit.course.sandbox.isolation`).
    """

    timeout: float = 60.0
    memory_mb: int = 1024
    cell_timeout: float = 20.0
    case_timeout: float = 30.0
    processes: int = 64
    scratch_mb: int = 64
    files: int = 1000
    answer_mb: int = 16
    cpu_s: float | None = None
    isolation: str = "auto"

    def __post_init__(self) -> None:
        for name in ("timeout", "cell_timeout", "case_timeout"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise ParameterError(name, v, "a number of seconds > 0")
        if isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, int) or self.memory_mb < 128:
            raise ParameterError("memory_mb", self.memory_mb, "an integer number of megabytes >= 128")
        for name, low in (("processes", 4), ("scratch_mb", 1), ("files", 16), ("answer_mb", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ParameterError(name, v, f"an integer >= {low}")
        if self.cpu_s is not None and (isinstance(self.cpu_s, bool) or not self.cpu_s > 0):
            raise ParameterError("cpu_s", self.cpu_s, "a number of seconds > 0")
        if self.isolation not in ("auto", "namespace", "fallback"):
            raise ParameterError("isolation", self.isolation, "one of auto, namespace, fallback")

    @property
    def cpu(self) -> float:
        return float(self.cpu_s if self.cpu_s is not None else self.timeout + 5)

    def key(self) -> str:
        return (
            f"{self.timeout:g}/{self.memory_mb}/{self.cell_timeout:g}/{self.case_timeout:g}/{self.processes}/"
            f"{self.scratch_mb}/{self.files}/{self.answer_mb}/{self.cpu:g}/{self.isolation}"
        )
