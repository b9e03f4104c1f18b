"""A real one-node SLURM cluster on 127.0.0.1 for the tests: a MUNGE daemon, slurmctld and
slurmd, each started by PID in a process group of its own with every file (key, config,
state, logs, sockets) in one directory, and stopped by PID. No accounting database."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: What the cluster needs installed (Debian: ``apt-get install slurm-wlm munge``).
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "srun")


def node_name() -> str:
    """This host's name if it resolves to 127.0.0.1 (slurmd checks its own address), else localhost."""
    name = socket.gethostname()
    with contextlib.suppress(OSError):
        if socket.gethostbyname(name) == "127.0.0.1":
            return name
    return "localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClusterUnavailable(Exception):
    """The cluster cannot run here; the message says why, in one line."""


class SlurmCluster:
    """``start()`` brings the node up (idle in ``sinfo``); ``env`` is what a client (sbatch,
    the command) needs; ``stop()`` ends the daemons and waits for them."""

    def __init__(self, directory: Path, cpus: int = 2):
        self.directory = Path(directory)
        self.cpus = cpus
        self.node = node_name()
        self.processes: dict[str, subprocess.Popen] = {}
        self.config = self.directory / "slurm.conf"
        self.munge_socket = self.directory / "munge" / "munge.socket"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.config)}

    def start(self, timeout: float = 60) -> None:
        missing = [program for program in PROGRAMS if shutil.which(program) is None]
        if missing:
            raise ClusterUnavailable(f"SLURM is not installed here ({', '.join(missing)} missing)")
        if os.geteuid() != 0:
            raise ClusterUnavailable("the test cluster's daemons run as root, and this is not root")
        self._write_files()
        self._start_munge()
        self._start("slurmctld", ["slurmctld", "-D", "-f", str(self.config)])
        self._start("slurmd", ["slurmd", "-D", "-f", str(self.config), "-N", self.node])
        self._wait_until_idle(timeout)

    def _write_files(self) -> None:
        for name in ("munge", "state", "spool", "logs"):
            (self.directory / name).mkdir(parents=True, exist_ok=True, mode=0o700)
        key = self.directory / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.config.write_text(self._slurm_conf())

    def _slurm_conf(self) -> str:
        d = self.directory
        return "\n".join(
            [
                "ClusterName=framework-test",
                f"SlurmctldHost={self.node}(127.0.0.1)",
                f"SlurmctldPort={free_port()}",
                f"SlurmdPort={free_port()}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={self.munge_socket}",
                "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",  # 127.0.0.1, not every interface
                f"StateSaveLocation={d / 'state'}",
                f"SlurmdSpoolDir={d / 'spool'}",
                f"SlurmctldPidFile={d / 'slurmctld.pid'}",
                f"SlurmdPidFile={d / 'slurmd.pid'}",
                f"SlurmctldLogFile={d / 'logs' / 'slurmctld.log'}",
                f"SlurmdLogFile={d / 'logs' / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "MpiDefault=none",
                "ReturnToService=2",
                f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN",
                f"PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )

    def _start_munge(self) -> None:
        munge = self.directory / "munge"
        self._start(
            "munged",
            ["munged", "--foreground", "--force", f"--key-file={munge / 'munge.key'}", f"--socket={self.munge_socket}",
             f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'seed'}"],
        )  # fmt: skip
        self._wait_for(lambda: self.munge_socket.exists(), 20, "munged did not open its socket")

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.directory / "logs" / f"{name}.out", "ab")  # noqa: SIM115 - the child holds it
        with log:
            self.processes[name] = subprocess.Popen(
                command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env}, start_new_session=True,
            )  # fmt: skip

    def _wait_for(self, ready, timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise ClusterUnavailable(f"{name} exited with status {process.returncode}: {self._log_tail(name)}")
            if ready():
                return
            time.sleep(0.3)
        raise ClusterUnavailable(f"{failure} within {timeout:g} s: {self._log_tail()}")

    def _wait_until_idle(self, timeout: float) -> None:
        def idle() -> bool:
            result = self.run("sinfo", "--noheader", "--nodes", self.node, "--format", "%T", check=False)
            return result.returncode == 0 and result.stdout.strip() == "idle"

        self._wait_for(idle, timeout, f"node {self.node} did not become idle")

    def run(self, *command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """A SLURM client command (``sinfo``, ``scancel``, ...) against this cluster."""
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=check, env={**os.environ, **self.env}
        )

    def _log_tail(self, name: str | None = None) -> str:
        names = [name] if name else list(self.processes)
        lines = []
        for each in names:
            for path in (self.directory / "logs" / f"{each}.out", self.directory / "logs" / f"{each}.log"):
                with contextlib.suppress(OSError):
                    lines += path.read_text(errors="replace").splitlines()[-3:]
        return " | ".join(line.strip() for line in lines if line.strip())[-1500:] or "(no log)"

    def stop(self) -> None:
        """SIGTERM to each daemon's process group (the last started first), then SIGKILL to
        whatever is left after 15 s; waits for each."""
        for name in reversed(list(self.processes)):
            process = self.processes.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
