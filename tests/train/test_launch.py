"""The accelerate launch command: only what the user set on our command line is passed, so an
accelerate config file (several machines, DeepSpeed, FSDP) keeps its own settings. Checked with
accelerate's own argument parser and config merging."""

from pathlib import Path

import pytest

from expertune.errors import InputError
from expertune.train.run import accelerate_command

TWO_MACHINES = """\
compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 2
num_processes: 16
machine_rank: 1
main_process_ip: 10.0.0.1
main_process_port: 29500
mixed_precision: "no"
gpu_ids: all
"""


def _accelerate_args(cmd: list[str]):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    start = cmd.index("accelerate.commands.launch") + 1
    args = launch_command_parser().parse_args(cmd[start:])
    args, _, _ = _validate_launch_command(args)  # merges the config file as `accelerate launch` does
    return args


@pytest.fixture
def two_machine_config(tmp_path: Path) -> Path:
    path = tmp_path / "two-machines.yaml"
    path.write_text(TWO_MACHINES)
    return path


def test_a_two_machine_config_keeps_its_machines_and_processes(tmp_path, two_machine_config):
    cmd, _ = accelerate_command(tmp_path / "run", num_processes=None, accelerate_config=two_machine_config)
    args = _accelerate_args(cmd)
    assert (args.num_machines, args.num_processes, args.machine_rank) == (2, 16, 1)
    assert args.main_process_ip == "10.0.0.1" and args.multi_gpu
    worker = cmd.index("expertune.train.worker")
    assert cmd[worker - 1:worker + 2] == ["-m", "expertune.train.worker", str(tmp_path / "run")]


def test_processes_set_by_the_user_beat_the_config_file(tmp_path, two_machine_config):
    cmd, _ = accelerate_command(tmp_path / "run", num_processes=8, accelerate_config=two_machine_config)
    args = _accelerate_args(cmd)
    assert (args.num_machines, args.num_processes) == (2, 8)


def test_cpu_processes_without_a_config_file(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    cmd, env = accelerate_command(tmp_path / "run", num_processes=2, accelerate_config=None)
    from accelerate.commands.launch import launch_command_parser

    args = launch_command_parser().parse_args(cmd[cmd.index("accelerate.commands.launch") + 1:])
    assert args.num_processes == 2 and args.multi_gpu and env["ACCELERATE_USE_CPU"] == "true"


def test_several_processes_need_the_accelerate_launcher(tmp_path):
    from expertune.train.run import launch

    with pytest.raises(InputError, match="--launcher accelerate"):
        launch(tmp_path, resume=False, launcher="none", num_processes=2, show_progress=False)
