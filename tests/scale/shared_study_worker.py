"""A trainer process of the shared-study test: the test's world, then ``work_on_study`` until the
study has no waiting trial. Waits for a start file so all workers begin together.

    python -m tests.scale.shared_study_worker STORAGE STUDY WORKER_NAME START_FILE OUT_FILE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from models.shared_study import work_on_study
from tests.scale.study_world import KIND, study_config, study_windows


def main(storage: str, study: str, worker: str, start_file: str, out_file: str) -> None:
    cfg = study_config()
    windows = study_windows(cfg)
    Path(out_file + ".ready").touch()
    deadline = time.monotonic() + 120
    while not Path(start_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{worker}: no start signal in 120 s")
        time.sleep(0.05)
    done = work_on_study(KIND, windows, cfg, storage, study, worker=worker)
    Path(out_file).write_text(json.dumps(done.trials))


if __name__ == "__main__":
    main(*sys.argv[1:])
