"""Config mistakes caught by the real program: misspelt keys anywhere under `vllm-eks:`, every problem in one run."""

import copy
import json

import pytest

from preflight.render import read_stack_config, render_config
from stack_checks import check_stack
from stack_config import StackConfigError, project_sections


def _run_error(config: dict) -> str:
    """The message `pulumi up` would print: the program's RunError for this config."""
    with pytest.raises(Exception) as raised:
        render_config("dev", config)
    assert type(raised.value).__name__ == "RunError", raised.value
    return str(raised.value)


def test_a_misspelt_section_fails_the_program_and_suggests_the_known_name():
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:autoscalling"] = config.pop("vllm-eks:autoscaling")
    message = _run_error(config)
    assert "vllm-eks:autoscalling: got a value, expected one of the sections" in message
    assert "(did you mean vllm-eks:autoscaling?)" in message


def test_a_key_far_from_every_section_gets_no_suggestion():
    config = copy.deepcopy(read_stack_config("dev")) | {"vllm-eks:zzz": {"a": 1}}
    message = _run_error(config)
    assert "vllm-eks:zzz: got a value" in message and "did you mean" not in message


@pytest.mark.parametrize(
    "path, key, suggestion",
    [
        (("vllm-eks:models", 0), "maxReplica", "models[0].maxReplica: got 3, expected no such setting (check the spelling; did you mean maxReplicas?)"),
        (("vllm-eks:cluster", "systemNodes"), "minSise", "cluster.systemNodes.minSise: got 3, expected no such setting (check the spelling; did you mean minSize?)"),
        (("vllm-eks:edge", "consumers", 0), "brust", "edge.consumers[0].brust: got 3, expected no such setting (check the spelling; did you mean burst?)"),
    ],
)
def test_a_misspelt_nested_key_suggests_the_nearest_setting(path, key, suggestion):
    config = copy.deepcopy(read_stack_config("dev"))
    target = config
    for part in path:
        target = target[part]
    target[key] = 3
    assert suggestion in _run_error(config)


def test_config_as_the_engine_passes_it_is_decoded():
    """The language host hands the program every key as text, objects JSON-encoded (PULUMI_CONFIG; pulumi/runtime/config.py)."""
    config = read_stack_config("dev")
    as_text = {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}
    sections = project_sections(as_text | {"aws:region": "eu-west-1", "vllm-eks:typo": "plain text"})
    assert sections["models"] == config["vllm-eks:models"] and sections["typo"] == "plain text"
    assert "region" not in sections


def _broken_everywhere() -> dict:
    """A schema error, a 70B model on an L4 (sizing) and a 70B model whose 300 s budget is too short (start-up: copied
    to local disk by s3-sync, 141 GB read at the published gp3 rate, vllm_eks/planning/startup_time.py)."""
    config = copy.deepcopy(read_stack_config("dev"))
    model = config["vllm-eks:models"][0]
    config["vllm-eks:network"]["availabilityZones"] = 1
    config["vllm-eks:models"] = [
        dict(model, name="big-on-l4", servedName="big-on-l4", catalogModel="llama-3.1-70b", instanceType="g6.2xlarge", maxModelLen=8192, loadFormat="s3-sync"),
        dict(model, name="big-slow", servedName="big-slow", catalogModel="llama-3.1-70b", instanceType="g6e.12xlarge", maxModelLen=8192, loadFormat="s3-sync"),
    ]
    return config


def test_schema_sizing_and_startup_problems_are_reported_in_one_run():
    message = _run_error(_broken_everywhere())
    assert "network.availabilityZones: got 1" in message
    assert "models[0].instanceType: got 'g6.2xlarge' for big-on-l4" in message
    # The model that does not fit is still budget-checked, so following the sizing advice meets no second error.
    assert "models[0].startupBudgetSeconds: got 300 for big-on-l4" in message
    assert "models[1].startupBudgetSeconds: got 300 for big-slow" in message


def test_a_broken_model_does_not_hide_the_sizing_of_a_valid_one():
    config = _broken_everywhere()
    config["vllm-eks:models"].insert(0, dict(config["vllm-eks:models"][0], name="Bad_Name"))
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(config))
    lines = raised.value.problems
    assert any(line.startswith("models[0].name: got 'Bad_Name'") for line in lines)
    assert any(line.startswith("models[1].instanceType: got 'g6.2xlarge' for big-on-l4") for line in lines)
    assert any(line.startswith("models[2].startupBudgetSeconds: got 300 for big-slow") for line in lines)


def test_a_valid_stack_passes_every_check():
    checked = check_stack(project_sections(read_stack_config("prod")))
    assert set(checked.capacity_plans) == {model.name for model in checked.config.models}


def _prod_with_model(**overrides) -> dict:
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"][0] = dict(config["vllm-eks:models"][0], **overrides)
    return config


def test_a_sizing_problem_alone_fails_the_check():
    """A schema-valid stack still fails when only sizing finds a problem (not only when the schema does)."""
    config = _prod_with_model(catalogModel="llama-3.1-70b", instanceType="g6.2xlarge", maxModelLen=8192,
                              startupBudgetSeconds=900)
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(config))
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith("models[0].instanceType: got 'g6.2xlarge' for qwen3-8b (llama-3.1-70b")


def test_a_start_up_budget_problem_alone_fails_the_check():
    config = _prod_with_model(catalogModel="llama-3.1-70b", instanceType="g6e.12xlarge", maxModelLen=8192,
                              loadFormat="s3-sync")
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(config))
    assert [problem.split(":")[0] for problem in raised.value.problems] == ["models[0].startupBudgetSeconds"]


def test_instance_type_auto_is_sized_and_its_budget_checked_on_the_chosen_instance():
    """`auto` resolves to the cheapest instance that fits: Qwen3-8B at a 32768-token context does not fit an L4's
    20.7 GiB usable (vllm_eks/planning/sizing.py), so the 1x L40S g6e.xlarge; the budget is judged on that instance."""
    checked = check_stack(project_sections(_prod_with_model(instanceType="auto")))
    assert {name: plan.instance_type for name, plan in checked.capacity_plans.items()} == {"qwen3-8b": "g6e.xlarge"}
    with pytest.raises(StackConfigError) as raised:
        check_stack(project_sections(_prod_with_model(instanceType="auto", catalogModel="llama-3.1-70b",
                                                      maxModelLen=8192, loadFormat="s3-sync")))
    assert [problem.split(":")[0] for problem in raised.value.problems] == ["models[0].startupBudgetSeconds"]
