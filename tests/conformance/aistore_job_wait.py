"""Wait for jobs through the real AIStore Python SDK (2.0.0) and print each WaitResult as JSON.

Run by tests/jobwait_conformance.rs against stowage's embedded cluster, whose jobs follow
scripts. For each job, the SDK's own `Job.wait` (or `wait_for_idle`, `wait_single_node`) decides
when it is done; the test compares the SDK's results with stowage's.

usage: aistore_job_wait.py URL TIMEOUT JOB:MODE[:abort] ...
  MODE is wait | idle | single; with `:abort` the job is aborted through the SDK first.
Prints one JSON object per job, one per line:
  {"job", "success", "error", "end_time_us"} or {"job", "raised", "message"}
"""

import json
import sys
from datetime import datetime, timedelta, timezone

from aistore.sdk import Client
from aistore.sdk.errors import JobInfoNotFound, Timeout

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def micros(end_time):
    if end_time is None:
        return None
    return (end_time - EPOCH) // timedelta(microseconds=1)


def main() -> None:
    url, timeout = sys.argv[1], float(sys.argv[2])
    client = Client(url)
    for arg in sys.argv[3:]:
        job_id, mode, *rest = arg.split(":")
        job = client.job(job_id=job_id)
        if rest == ["abort"]:
            job.abort()
        wait = {"wait": job.wait, "idle": job.wait_for_idle, "single": job.wait_single_node}[mode]
        try:
            result = wait(timeout=timeout, verbose=False)
            out = {
                "job": job_id,
                "success": result.success,
                "error": result.error,
                "end_time_us": micros(result.end_time),
            }
        except (Timeout, JobInfoNotFound) as error:
            out = {"job": job_id, "raised": type(error).__name__, "message": str(error)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
