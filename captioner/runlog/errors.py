"""Errors of the run log, each with a short Korean and English message (see captioner/errors.py).

A run that does not exist and a run that the caller may not see raise the same
:class:`RunNotFound` with the same words, so an error never tells a visitor that somebody
else's run exists.
"""

from __future__ import annotations

from typing import Any

from captioner.errors import CaptionerError, InvalidRequest


class RunLogError(CaptionerError):
    """The run log file cannot be opened or written (bad path, read-only disk, newer schema),
    or an export file cannot be written."""

    code = "run_log"


class RunNotFound(InvalidRequest):
    code = "run_not_found"

    def __init__(self, run_id: Any) -> None:
        super().__init__(
            f"실행 기록 #{run_id} 을(를) 찾을 수 없습니다.", f"Run #{run_id} was not found."
        )
