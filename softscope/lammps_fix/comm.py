"""MPI collectives of the fix on its communicator, without mpi4py in the ranks.

:class:`PluginComm` calls the plugin's C functions (``softscope_mpi_allreduce``,
``softscope_mpi_gatherv``) through ctypes; :class:`SerialComm` is the same interface on
one rank.  Values travel as float64.  Every rank must make the same calls in the same
order (they are MPI collectives).
"""

from __future__ import annotations

import numpy as np

from softscope.errors import SoftscopeError

__all__ = ["PluginComm", "SerialComm", "fix_comm"]


class SerialComm:
    """The collectives the fix uses, for one rank."""

    def allreduce(self, x, op="SUM"):
        return x

    def gather_vectors(self, arrays, root=0):
        return [np.asarray(a, dtype=np.float64) for a in arrays]

    def allgather_rows(self, rows):
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


class PluginComm:
    """MPI collectives through the plugin's C functions (``softscope_mpi_*``) on the fix's
    communicator: the same calls as mpi4py's for what the fix needs, without importing
    mpi4py in every rank (~10 MB each)."""

    _OPS = {"SUM": 0, "MIN": 1, "MAX": 2}

    def __init__(self, fortran_comm: int, rank: int, nprocs: int) -> None:
        import ctypes

        from softscope.plugins import plugin_path

        lib = ctypes.CDLL(str(plugin_path()))  # already loaded by LAMMPS: same handle
        dp = ctypes.POINTER(ctypes.c_double)
        ip = ctypes.POINTER(ctypes.c_int)
        ci = ctypes.c_int
        self._allreduce = lib.softscope_mpi_allreduce
        self._allreduce.argtypes = [ci, dp, ci, ci]
        self._gatherv = lib.softscope_mpi_gatherv
        self._gatherv.argtypes = [ci, dp, ci, dp, ip, ip, ci]
        for f in (self._allreduce, self._gatherv):
            f.restype = ci
        self._dp, self._ip = dp, ip
        self.fcomm, self.rank, self.nprocs = int(fortran_comm), int(rank), int(nprocs)

    def _ok(self, rc: int, what: str) -> None:
        if rc != 0:
            raise SoftscopeError(f"MPI {what} failed with error code {rc}")

    def _ptr(self, a: np.ndarray):
        return a.ctypes.data_as(self._dp)

    def allreduce(self, x, op="SUM"):
        """``x`` (a number or array) reduced over the ranks with ``op`` (SUM, MIN, MAX),
        on every rank; a float for a number."""
        a = np.array(x, dtype=np.float64, ndmin=1)  # a copy, reduced in place
        self._ok(self._allreduce(self.fcomm, self._ptr(a), a.size, self._OPS[op]), "allreduce")
        return a if np.ndim(x) else float(a[0])

    def gather_vectors(self, arrays, root=0):
        """Each 1-D array's values of every rank, concatenated in rank order, on ``root``
        (one gatherv each, straight into the result; None elsewhere)."""
        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
        mine = np.zeros(self.nprocs)
        mine[self.rank] = arrays[0].size if arrays else 0
        counts = self.allreduce(mine, "SUM").astype(np.intc)
        displs = np.zeros(self.nprocs, dtype=np.intc)
        displs[1:] = np.cumsum(counts)[:-1]
        out = []
        for a in arrays:
            recv = np.empty(int(counts.sum()) if self.rank == root else 1)
            self._ok(
                self._gatherv(
                    self.fcomm,
                    self._ptr(a),
                    a.size,
                    self._ptr(recv),
                    counts.ctypes.data_as(self._ip),
                    displs.ctypes.data_as(self._ip),
                    root,
                ),
                "gatherv",
            )
            out.append(recv)
        return out if self.rank == root else None

    def allgather_rows(self, rows):
        """Every rank's rows (k_r, c) stacked in rank order, on every rank (small arrays:
        one allreduce of the zero-padded stack)."""
        rows = np.asarray(rows, dtype=np.float64)
        c = rows.shape[1]
        mine = np.zeros(self.nprocs)
        mine[self.rank] = rows.shape[0]
        counts = self.allreduce(mine, "SUM").astype(np.int64)
        total = np.zeros((int(counts.sum()), c))
        if total.size == 0:
            return total
        start = int(counts[: self.rank].sum())
        total[start : start + rows.shape[0]] = rows
        return self.allreduce(total, "SUM").reshape(-1, c)


def fix_comm(fortran_comm: int, rank: int, nprocs: int) -> SerialComm | PluginComm:
    """The collectives for a fix on ``nprocs`` ranks (serial on one rank)."""
    return SerialComm() if nprocs == 1 else PluginComm(fortran_comm, rank, nprocs)
