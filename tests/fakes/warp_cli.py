"""A real executable playing ``warp-cli status`` in every state the probe must read.

The script reads its answer from files next to it, so a test switches the state
between checks without writing a new program. It appends its pid (and, when it
hangs, the pid of the child it waits on) to ``pids``, so a test can prove the probe
killed the whole process group.
"""

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Answer:
    stdout: str = ""
    stderr: str = ""
    exit_status: int = 0
    hang: bool = False


DAEMON_DOWN = (
    "Error: Unable to connect to CloudflareWARP daemon: Connection refused (os error 111). "
    "Maybe the daemon is not running?"
)

ANSWERS: dict[str, Answer] = {
    "connected": Answer("Status update: Connected\nNetwork: healthy\n"),
    "connected_old": Answer("Status update: Connected\nSuccess\n"),
    "disconnected": Answer("Status update: Disconnected\nReason: Manual Disconnection\n"),
    "disconnected_old": Answer(
        "Status update: Disconnected. Reason: Manual Disconnection\nSuccess\n"
    ),
    "connecting": Answer("Status update: Connecting\nReason: Checking for a route to the DNS\n"),
    "unable": Answer("Status update: Unable\nReason: No network\n"),
    "unable_old": Answer("Status update: Unable to connect. Reason: Registration missing\n"),
    "json_connected": Answer(json.dumps({"status": "Connected", "network": "healthy"})),
    "json_disconnected": Answer(json.dumps({"status": "Disconnected", "reason": "Manual"})),
    "json_disconnected_object": Answer(
        json.dumps({"status": "Disconnected", "reason": {"SettingsChanged": None}})
    ),
    "json_connecting": Answer(
        json.dumps({"status": "Connecting", "reason": {"PerformingHappyEyeballs": "MASQUE"}})
    ),
    "json_unable": Answer(json.dumps({"status": "Unable", "reason": "NoNetwork"})),
    "daemon_down": Answer(stderr=DAEMON_DOWN + "\n", exit_status=1),
    "json_error": Answer(json.dumps({"error": DAEMON_DOWN})),
    "garbage": Answer("Usage: warp-cli [OPTIONS] <COMMAND>\n"),
    "hang": Answer(hang=True),
}

SCRIPT = """#!/bin/sh
dir='{directory}'
echo $$ >> "$dir/pids"
printf '%s\\n' "$*" > "$dir/argv"
if [ -e "$dir/hang" ]; then
    sleep 300 &
    echo $! >> "$dir/pids"
    wait
fi
cat "$dir/stdout"
cat "$dir/stderr" >&2
exit "$(cat "$dir/exit_status")"
"""


class FakeWarpCli:
    def __init__(self, directory: Path, answer: str = "connected") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "warp-cli"
        self.path.write_text(SCRIPT.format(directory=directory))
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)
        self.set(answer)

    def command(self, *, json_flag: bool = False) -> list[str]:
        return [str(self.path), "--accept-tos", *(["-j"] if json_flag else []), "status"]

    def set(self, answer: str) -> None:
        chosen = ANSWERS[answer]
        (self.directory / "stdout").write_text(chosen.stdout)
        (self.directory / "stderr").write_text(chosen.stderr)
        (self.directory / "exit_status").write_text(str(chosen.exit_status))
        hang = self.directory / "hang"
        if chosen.hang:
            hang.touch()
        else:
            hang.unlink(missing_ok=True)

    def pids(self) -> list[int]:
        path = self.directory / "pids"
        return [int(line) for line in path.read_text().split()] if path.exists() else []


def process_gone(pid: int) -> bool:
    """Dead, or a zombie nobody has reaped yet (in a container, pid 1 may never reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"
