"""`${...}` expressions in workflow task parameters, and the start body turned into input parameters."""

from __future__ import annotations

import pytest

from menderlite.workflows.inputs import InputError, input_parameters, missing_inputs
from menderlite.workflows.templating import Scope, json_path_value, readable_environment

OUTPUT = '{"auth": {"token": "t-1", "ttl": 60}, "devices": [{"id": "a"}, {"id": "b"}], "flag": true, "none": null}'


def scope() -> Scope:
    return Scope(
        inputs={"device_id": "d-1", "empty": ""},
        outputs={"login": OUTPUT, "plain": "not json"},
        environ={"INVENTORY_ADDR": "http://127.0.0.1:8080", "MENDERLITE_SMTP_PASSWORD": "secret"},
    )


@pytest.mark.parametrize(
    "text, expanded",
    [
        ("no expressions", "no expressions"),
        ("/devices/${workflow.input.device_id}", "/devices/d-1"),
        ("[${workflow.input.empty}]", "[]"),
        ("${workflow.input.unknown}", "${workflow.input.unknown}"),
        ("${env.INVENTORY_ADDR}/api", "http://127.0.0.1:8080/api"),
        ("[${env.UNSET}]", "[]"),
        ("[${env.MENDERLITE_SMTP_PASSWORD}]", "[]"),
        ("${login.json.auth.token}", "t-1"),
        ("${login.json.auth.ttl}", "60"),
        ("${login.json.devices.[1].id}/${login.json.devices.0.id}", "b/a"),
        ("${login.json.devices.[7].id}", ""),
        ("${login.json.auth}", '{"token":"t-1","ttl":60}'),
        ("${login.json.flag} ${login.json.none}", "true null"),
        ("[${login.json.missing.deeper}]", "[]"),
        ("[${plain.json.x}]", "[]"),
        ("[${later.json.x}]", "[]"),
        ("${something.else}", "${something.else}"),
        ("${workflow.input.device_id}${workflow.input.device_id}", "d-1d-1"),
        ("$workflow.input.device_id {workflow.input.device_id}", "$workflow.input.device_id {workflow.input.device_id}"),
    ],
)
def test_expansion(text: str, expanded: str) -> None:
    assert scope().expand(text) == expanded


def test_an_input_value_is_not_expanded_again() -> None:
    assert Scope(inputs={"a": "${env.HOME}"}, environ={"HOME": "/root"}).expand("${workflow.input.a}") == "${env.HOME}"


def test_json_path_of_the_whole_document() -> None:
    assert json_path_value('{"a": 1}', "") == '{"a":1}'
    assert json_path_value('"text"', "") == "text"


def test_start_body_object_values_become_text() -> None:
    body = {"s": "x", "i": 1, "f": 1.5, "whole": 2.0, "t": False, "n": None, "l": ["a", 1, None], "o": {"k": "é"}}
    assert input_parameters(body) == [
        {"name": "s", "value": "x"},
        {"name": "i", "value": "1"},
        {"name": "f", "value": "1.5"},
        {"name": "whole", "value": "2"},
        {"name": "t", "value": "false"},
        {"name": "n", "value": "null"},
        {"name": "l", "value": "a,1,null"},
        {"name": "o", "value": '{"k":"é"}'},
    ]


def test_start_body_as_the_documented_list() -> None:
    assert input_parameters([{"name": "a", "value": "1"}, {"name": "b", "value": 2}, {"name": "c"}]) == [
        {"name": "a", "value": "1"},
        {"name": "b", "value": "2"},
        {"name": "c", "value": "null"},
    ]


@pytest.mark.parametrize("body", [None, "text", 5, True, [1], [{"value": "x"}], [{"name": ""}], [{"name": 3}]])
def test_bad_start_bodies(body: object) -> None:
    with pytest.raises(InputError):
        input_parameters(body)


def test_missing_inputs_keep_the_definition_order() -> None:
    assert missing_inputs(("b", "a", "c"), [{"name": "a", "value": ""}]) == ["b", "c"]
    assert missing_inputs((), []) == []


@pytest.mark.parametrize(
    "text, rendered",
    [
        ('{"id": "{{.device_id}}", "again": "{{ .device_id }}"}', '{"id": "d-1", "again": "d-1"}'),
        ("[{{.empty}}]", "[]"),
        ("no actions", "no actions"),
        ("{{.unknown}} {{.device_id}}", "{{.unknown}} {{.device_id}}"),  # a failing template: unchanged
        ("{{if .device_id}}x{{end}}", "{{if .device_id}}x{{end}}"),
        ("{{ .device_id", "{{ .device_id"),
    ],
)
def test_go_template_actions_naming_inputs(text: str, rendered: str) -> None:
    assert scope().render_actions(text) == rendered


def test_a_later_output_of_the_same_task_name_replaces_the_earlier() -> None:
    current = scope()
    assert current.expand("${login.json.auth.token}") == "t-1"
    current.set_output("login", '{"auth": {"token": "t-2"}}')
    assert current.expand("${login.json.auth.token}") == "t-2"


@pytest.mark.parametrize("text", ["${workflow.input.device_id" * 50000, "${" * 100000, "{{" * 100000, "{{.device_id}}" * 50000])
def test_hostile_texts_take_linear_time(text: str) -> None:
    # A quadratic scan of these would take minutes; each is one pass here (no timing: the suite's own
    # bound is the check).
    current = scope()
    assert len(current.render_actions(current.expand(text))) >= len(text) // 5


def test_the_readable_environment_is_the_listed_variables_that_are_set() -> None:
    environ = {"INVENTORY_ADDR": "http://i", "SECRET": "s"}
    assert readable_environment(["INVENTORY_ADDR", "UNSET"], environ) == {"INVENTORY_ADDR": "http://i"}
    assert readable_environment([], environ) == {}
    assert Scope(inputs={}).expand("[${env.HOME}]") == "[]"  # nothing readable unless given
