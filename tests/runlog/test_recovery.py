"""captioner/runlog/recovery.py: runs left "running" by a process killed with SIGKILL become
"interrupted" at the next start; a live process's run and a reused pid are told apart."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
from runlog.fakes import ACCESS, recorded, request

from captioner import runlog
from captioner.runlog.recovery import ProcessId
from captioner.runlog.times import format_time

ROOT = Path(__file__).resolve().parents[2]

# Records a run, streams some text, says so on stdout, then waits to be killed.
CHILD = """
import sys, threading
sys.path.insert(0, "tests")
from captioner import runlog
from captioner.generation import Text
from runlog.fakes import ACCESS, request

log = runlog.RunLog(sys.argv[1])
def events():
    yield Text("반쯤 ")
    yield Text("썼다")
    print("streaming", flush=True)
    threading.Event().wait()  # a generation that never ends
    yield Text("never")
ids = []
for _ in runlog.record(events(), request(), log=log, source="cli", access=ACCESS,
                       on_start=ids.append, progress_interval_s=0.0):
    pass
"""


def _start_child(path: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()  # blocks until the run is recorded and streaming
    assert line.strip() == "streaming", child.stderr.read()
    return child


def test_a_run_killed_with_sigkill_becomes_interrupted(tmp_path):
    path = tmp_path / "runs.sqlite3"
    killed, alive = _start_child(path), _start_child(path)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        with runlog.RunLog(path) as run_log:
            assert sorted(r.status for r in run_log.query(access=ACCESS)) == ["running"] * 2
            recovered = runlog.recover_interrupted(run_log)
            runs = {r.id: r for r in run_log.query(access=ACCESS)}
            (dead_id,) = recovered
            assert runs[dead_id].status == "interrupted" and runs[dead_id].finished_at
            assert runs[dead_id].answer == "반쯤 썼다"  # the partial output stays
            assert runs[dead_id].error_code == "interrupted"
            assert runs[dead_id].error_ko and runs[dead_id].error_en
            (live,) = [r for r in runs.values() if r.id != dead_id]
            assert live.status == "running"  # its process is alive: left alone
            assert runlog.recover_interrupted(run_log) == []  # nothing left to do
    finally:
        for child in (killed, alive):
            if child.poll() is None:
                child.kill()
            child.wait(timeout=60)
            child.stdout.close()
            child.stderr.close()


def _set_process(db, run_id: int, pid: int, host: str, started: float, updated_at: str) -> None:
    db._conn().execute(
        "UPDATE runs SET status = 'running', process_pid = ?, process_host = ?,"
        " process_started = ?, updated_at = ? WHERE id = ?",
        (pid, host, started, updated_at, run_id),
    )


def test_a_reused_pid_and_other_hosts(db):
    me = ProcessId.current()
    assert me.alive() and me.here()
    assert me.started == psutil.Process().create_time()
    now = dt.datetime.now(dt.UTC)
    fresh = runlog.utc_now()
    ours, reused, elsewhere, elsewhere_old, unknown_old = (recorded(db) for _ in range(5))
    old = format_time(now - dt.timedelta(hours=7))  # longer ago than recovery.STALE_AFTER
    _set_process(db, ours, me.pid, me.host, me.started, fresh)
    # this pid is alive, but it is another process than the one that started the run
    _set_process(db, reused, me.pid, me.host, me.started - 3600, fresh)
    _set_process(db, elsewhere, 1, "another-host", 0.0, fresh)  # cannot be checked from here
    _set_process(db, elsewhere_old, 1, "another-host", 0.0, old)
    db._conn().execute(  # a run recorded before the process was stored (schema v2)
        "UPDATE runs SET status = 'running', process_pid = NULL, process_host = NULL,"
        " updated_at = ? WHERE id = ?",
        (old, unknown_old),
    )
    assert sorted(runlog.recover_interrupted(db, now=now)) == [reused, elsewhere_old, unknown_old]
    statuses = {r.id: r.status for r in db.query(access=ACCESS)}
    assert statuses[ours] == statuses[elsewhere] == "running"


def test_new_runs_record_their_process(db):
    run_id = db.start(request(), "cli", access=ACCESS)
    ((found_id, process, updated_at),) = db.running_processes()
    assert found_id == run_id and process == ProcessId.current() and updated_at
