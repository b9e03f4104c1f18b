"""How a job ends when it does not return its value: raised by the command's parts,
caught by its entry point. Both are reported (one line) before they are raised."""

from framework.core.errors import FrameworkError


class JobFailed(FrameworkError):
    """A job of a sweep ended with an error (``line``): the launcher records a failed job
    and the sweep's other jobs go on."""

    def __init__(self, line: str, exit_code: int):
        super().__init__(line)
        self.line, self.exit_code = line, exit_code

    def __reduce__(self):  # travels back from a worker process (joblib, submitit)
        return type(self), (self.line, self.exit_code)


class RunStopped(BaseException):
    """The command stops: a single run that failed, an interruption, or a directory that
    cannot be used. A BaseException, so that Hydra passes it on instead of recording it."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code
