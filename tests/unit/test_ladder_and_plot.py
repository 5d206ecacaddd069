from runbook.present import ladder, plot
from runbook.present import report as render
from runbook.results import CheckResult, Status
from runbook.workloads import datasheet


def c(check_id, status, detail="", cause="", **data):
    return CheckResult(check_id, check_id, status, detail, cause=cause, data=data)


GPU_HOST_MANUAL = [  # the shape of a gpu_mode=manual run on a GPU host without the toolkit
    c("host.driver", Status.PASS),
    c("health.ecc", Status.PASS),
    c("health.dcgm", Status.SKIP),
    c("network.registries", Status.PASS),
    c("cuda.requirement", Status.SKIP),
    c("gpu.container_runs", Status.PASS),
    c("gpu.mode.gpus", Status.WARN, "did not start", "NVIDIA Container Toolkit not installed or engine not restarted"),
    c("gpu.mode.runtime", Status.WARN, "refused", "no nvidia runtime"),
    c("gpu.mode.cdi", Status.WARN, "refused", "no CDI"),
    c("gpu.nvidia_smi", Status.PASS, mode="manual"),
    c("pytorch.cuda_available", Status.PASS),
    c("pytorch.matmul", Status.PASS),
]


def test_the_chosen_mode_is_read_from_what_step_3_recorded():
    assert ladder.chosen_mode({x.id: x for x in GPU_HOST_MANUAL}) == "manual"
    failed = c("gpu.nvidia_smi", Status.FAIL, "refused", mode="cdi")
    assert ladder.chosen_mode({"gpu.nvidia_smi": failed}) == "cdi"
    assert ladder.chosen_mode({}) is None


def test_manual_works_and_the_toolkit_rung_is_named():
    rungs = ladder.ladder(GPU_HOST_MANUAL)
    assert [r.status for r in rungs] == [
        Status.PASS,
        Status.PASS,  # the GPUs are healthy: a skipped DCGM does not hide the ECC pass
        Status.PASS,
        Status.PASS,
        Status.PASS,
        Status.WARN,
        Status.WARN,
        Status.WARN,
        None,  # CUDA initialises in the container: not run in this record
        Status.SKIP,
        Status.PASS,
    ]
    assert rungs[1].check.id == "health.ecc" and rungs[2].check.id == "network.registries"
    assert rungs[4].check.id == "gpu.nvidia_smi"
    assert ladder.first_broken(rungs) is None  # manual, the chosen path, works
    assert ladder.first_warning(rungs).name.startswith("GPU through the toolkit: --gpus")
    text = render.ladder_text(rungs)
    assert (
        "every rung on this run's path works; the first that does not (a warning): GPU through the toolkit: --gpus"
        in text
        and "Toolkit not installed" in text
    )


def test_on_a_healthy_host_a_missing_alternative_is_not_called_a_break():
    """--gpus works; CDI is not set up: the headline says the path works and names CDI as a warning only."""
    checks = [
        c("host.driver", Status.PASS),
        c("gpu.container_runs", Status.PASS),
        c("gpu.mode.manual", Status.PASS),
        c("gpu.nvidia_smi", Status.PASS, mode="gpus"),
        c("gpu.mode.runtime", Status.PASS),
        c("gpu.mode.cdi", Status.WARN, "no CDI spec", "The engine found no CDI spec"),
        c("cuda.requirement", Status.PASS),
        c("pytorch.cuda_available", Status.PASS),
        c("pytorch.matmul", Status.PASS),
    ]
    rungs = ladder.ladder(checks)
    assert ladder.first_broken(rungs) is None
    page = render.ladder_html(rungs)
    assert "does not work:</b>" not in page and "(a warning):</b> GPU through the toolkit: CDI" in page


def test_a_failure_on_the_path_comes_before_an_earlier_warning():
    checks = [
        c("host.driver", Status.PASS),
        c("gpu.container_runs", Status.PASS),
        c("gpu.mode.manual", Status.WARN, "refused"),
        c("gpu.nvidia_smi", Status.FAIL, "refused", "toolkit", mode="gpus"),
        c("gpu.mode.runtime", Status.WARN, "refused"),
        c("gpu.mode.cdi", Status.WARN, "refused"),
    ]
    rungs = ladder.ladder(checks)
    assert ladder.first_broken(rungs).name.startswith("GPU through the toolkit: --gpus")
    assert render.ladder_text(rungs).count("first rung that does not work: GPU through the toolkit: --gpus") == 1


def test_pytorch_rung_is_the_worst_of_its_checks():
    checks = GPU_HOST_MANUAL[:-1] + [c("pytorch.matmul", Status.FAIL, "wrong")]
    assert ladder.ladder(checks)[-1].status is Status.FAIL


def test_rungs_not_run():
    rungs = ladder.ladder([c("host.driver", Status.FAIL, "no driver")])
    assert rungs[0].status is Status.FAIL and all(r.status is None for r in rungs[1:])
    assert ladder.first_broken(rungs) is rungs[0]


def test_datasheet_lookup_by_reported_name():
    assert datasheet.figures_for("NVIDIA H200") == (989.0, 4800.0)
    assert datasheet.figures_for("NVIDIA L40S") == (362.0, 864.0)  # not taken for an L4
    assert datasheet.figures_for("NVIDIA L4") == (121.0, 300.0)
    assert datasheet.figures_for("Tesla T4") is None


def test_bars_scale_to_the_largest_value():
    svg = plot.bars("bf16", "TFLOP/s", {"datasheet": 1000.0, "host": 500.0, "container": None})
    assert svg.startswith("<svg") and svg.count("<rect") == 2
    assert 'width="320.0"' in svg and 'width="160.0"' in svg  # 520 - 90 - 110 = 320 for the largest
    assert "1,000 TFLOP/s" in svg and "500 TFLOP/s" in svg


def test_throughput_chart_from_a_check():
    r = CheckResult(
        "pytorch.throughput",
        "t",
        Status.PASS,
        data={
            "gpu": "NVIDIA H200",
            "container": {"bf16_matmul_tflops": 690.0, "copy_gb_per_s": 4200.0},
            "host": {"bf16_matmul_tflops": 692.0, "copy_gb_per_s": 4199.0},
            "datasheet": {"bf16_matmul_tflops": 989.0, "copy_gb_per_s": 4800.0},
        },
    )
    svg = render.throughput_svg([r])
    assert svg.count("<svg") == 2 and svg.count("<rect") == 6
    assert render.throughput_svg([]) == ""


def test_no_registry_reachable_is_the_first_broken_rung_before_any_container():
    """The network rung comes before the container rungs: a host that reaches no registry is told so first."""
    checks = [
        c("host.driver", Status.PASS),
        c("network.registries", Status.FAIL, "no registry reachable for nvidia/cuda"),
        c("gpu.container_runs", Status.SKIP),
    ]
    broken = ladder.first_broken(ladder.ladder(checks))
    assert broken is not None and broken.check.id == "network.registries", broken
