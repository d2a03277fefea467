"""Kill a training subprocess the way a crash would: at its first checkpoint.

Shared by the resume tests of each backend (`tests/test_training_resume.py`,
`tests/test_jax_training.py`).
"""

import json
import os
import signal
import time


def kill_at_first_checkpoint(process, state_path, timeout):
    """SIGKILLs `process` as soon as `state_path` exists.

    Args:
        process: a running `subprocess.Popen` training run.
        state_path: its `OUT/checkpoint/training_state.json`.
        timeout: seconds to wait for the checkpoint.

    Returns:
        The training state the killed run left, as a dict.
    """
    deadline = time.time() + timeout
    try:
        while (time.time() < deadline and process.poll() is None
               and not os.path.isfile(state_path)):
            time.sleep(0.05)
        if process.poll() is not None:
            output = "\n".join(part[-3000:] for part in process.communicate()
                               if part)
            raise AssertionError(
                f"the run ended (exit {process.returncode}) before its "
                f"first checkpoint:\n{output}")
        assert os.path.isfile(state_path), (
            f"no checkpoint within {timeout} s")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL
    with open(state_path) as file:
        state = json.load(file)
    assert state["iterations"] > 0, state
    return state
