"""Each job's BLAS thread share comes from whatever runs it."""

from framework.command.threads import job_thread_share


def test_one_run_at_a_time_leaves_blas_alone():
    assert job_thread_share({"n_jobs": 4}, multirun=False, environ={}, cpus=8) is None
    assert job_thread_share({}, multirun=True, environ={}, cpus=8) is None


def test_joblib_jobs_share_the_cores():
    assert job_thread_share({"n_jobs": 2}, multirun=True, environ={}, cpus=8) == 4
    assert job_thread_share({"n_jobs": 16}, multirun=True, environ={}, cpus=8) == 1
    assert job_thread_share({"n_jobs": -1}, multirun=True, environ={}, cpus=8) == 1  # one job per core


def test_submitit_cpus_per_task_is_the_share():
    launcher = {"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher", "cpus_per_task": 3}
    assert job_thread_share(launcher, multirun=True, environ={}, cpus=8) == 3


def test_slurm_says_how_many_cpus_the_task_has():
    assert job_thread_share({}, multirun=True, environ={"SLURM_CPUS_PER_TASK": "2"}, cpus=8) == 2
    # parallel jobs inside one SLURM task share its CPUs, not the machine's
    assert job_thread_share({"n_jobs": 2}, multirun=True, environ={"SLURM_CPUS_PER_TASK": "4"}, cpus=64) == 2
    assert job_thread_share({}, multirun=False, environ={"SLURM_CPUS_PER_TASK": "6"}, cpus=8) == 6
    assert job_thread_share({}, multirun=False, environ={"SLURM_CPUS_PER_TASK": "x"}, cpus=8) is None
