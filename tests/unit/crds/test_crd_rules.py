"""crd_rules holds a CRD to what the API server checks when it is created.

A checker never seen failing proves nothing: every rule refuses a CRD breaking it (and only it),
built from a minimal CRD the checker passes. Then our CRDs pass it, and so do the chart's copies.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import crd_rules
import kubernetes_validate
import pytest
import wl_crd_schema
import yaml

ROOT = "spec.versions[0].schema.openAPIV3Schema"
SPEC = f"{ROOT}.properties[spec]"
COLUMN = "spec.versions[0].additionalPrinterColumns[0]"
CHART_CRD_DIR = wl_crd_schema.ROOT / "charts" / "workspace-link" / "crds"

Crd = dict[str, Any]


def minimal_crd() -> Crd:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            },
                        }
                    },
                }
            ],
        },
    }


def version(crd: Crd) -> dict[str, Any]:
    return crd["spec"]["versions"][0]  # type: ignore[no-any-return]


def root(crd: Crd) -> dict[str, Any]:
    return version(crd)["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def spec(crd: Crd) -> dict[str, Any]:
    return root(crd)["properties"]["spec"]  # type: ignore[no-any-return]


# --- mutations -------------------------------------------------------------------------------

Mutation = Callable[[Crd], None]


def at(where: Callable[[Crd], dict[str, Any]], **keys: Any) -> Mutation:
    """Set keys on the node `where` picks."""

    def mutate(crd: Crd) -> None:
        where(crd).update(keys)

    return mutate


def field(name: str, schema: dict[str, Any]) -> Mutation:
    """Declare spec.<name> with the given schema."""

    def mutate(crd: Crd) -> None:
        spec(crd)["properties"][name] = schema

    return mutate


def metadata(schema: dict[str, Any]) -> Mutation:
    def mutate(crd: Crd) -> None:
        root(crd)["properties"]["metadata"] = schema

    return mutate


def column(**keys: Any) -> Mutation:
    def mutate(crd: Crd) -> None:
        version(crd)["additionalPrinterColumns"] = [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size", **keys}
        ]

    return mutate


def drop_column_key(key: str) -> Mutation:
    def mutate(crd: Crd) -> None:
        column()(crd)
        del version(crd)["additionalPrinterColumns"][0][key]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(crd: Crd) -> None:
        for m in mutations:
            m(crd)

    return mutate


def second_version(crd: Crd) -> None:
    crd["spec"]["versions"].append({**copy.deepcopy(version(crd)), "name": "v2"})


def without_schema(crd: Crd) -> None:
    del version(crd)["schema"]


def spec_rule(**rule: Any) -> Mutation:
    """Give spec one x-kubernetes-validations rule."""
    return at(spec, **{"x-kubernetes-validations": [rule]})


def map_list(keys: list[str], item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": 4,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": keys,
        "items": item,
        **extra,
    }


NAMED = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 8}}}
STRING = {"type": "string", "maxLength": 16}


def many_costly_lists(count: int) -> Mutation:
    """count lists whose item rule costs 1000 x 9000: each within the per-rule limit."""

    def mutate(crd: Crd) -> None:
        for i in range(count):
            item = {
                "type": "string",
                "maxLength": 9000,
                "x-kubernetes-validations": [{"rule": "self.startsWith('a')"}],
            }
            spec(crd)["properties"][f"l{i}"] = {"type": "array", "maxItems": 1000, "items": item}

    return mutate


@dataclass(frozen=True)
class Bad:
    rule: str
    path: str
    mutate: Mutation
    why: str
    also: tuple[str, ...] = ()  # rules the API server reports as well, for the same fault


BAD = [
    # the CRD itself
    Bad(
        "crd-name",
        "metadata.name",
        at(lambda c: c["metadata"], name="gadgets.example.com"),
        "name not plural.group",
    ),
    Bad(
        "crd-group",
        "spec.group",
        both(at(lambda c: c["metadata"], name="widgets.example"), at(lambda c: c["spec"], group="example")),
        "group without a dot",
    ),
    Bad("crd-scope", "spec.scope", at(lambda c: c["spec"], scope="Global"), "unknown scope"),
    Bad("crd-names", "spec.names.kind", at(lambda c: c["spec"]["names"], kind="Wid_get"), "kind not a label"),
    Bad(
        "crd-names",
        "spec.names.listKind",
        at(lambda c: c["spec"]["names"], listKind="Widget"),
        "listKind is kind",
    ),
    Bad(
        "crd-names",
        "spec.names.shortNames[0]",
        at(lambda c: c["spec"]["names"], shortNames=["w.1"]),
        "short name not a label",
    ),
    Bad("crd-versions", "spec.versions", second_version, "two storage versions"),
    Bad("crd-versions", "spec.versions[0].name", at(version, name="V1"), "version name not a label"),
    Bad(
        "crd-versions", "spec.versions[0].schema.openAPIV3Schema", without_schema, "a version without schema"
    ),
    # printer columns
    Bad("column-name", f"{COLUMN}.name", drop_column_key("name"), "column without a name"),
    Bad("column-type", f"{COLUMN}.type", column(type="int"), "column type int"),
    Bad("column-format", f"{COLUMN}.format", column(format="uint8"), "column format uint8"),
    Bad("column-json-path", f"{COLUMN}.jsonPath", column(jsonPath="spec.size"), "jsonPath without the dot"),
    Bad("column-priority", f"{COLUMN}.priority", column(priority="1"), "priority a string"),
    Bad("column-priority", f"{COLUMN}.priority", column(priority=2**31), "priority beyond int32"),
    Bad(
        "column-declared",
        f"{COLUMN}.jsonPath",
        column(jsonPath=".spec.colour"),
        "column of an undeclared field",
    ),
    Bad(
        "column-declared",
        f"{COLUMN}.jsonPath",
        column(jsonPath=".metadata.colour"),
        "column of no ObjectMeta field",
    ),
    # the root
    Bad("root-object", f"{ROOT}.type", at(root, type="string"), "root a string"),
    Bad(
        "root-no-additional-properties",
        f"{ROOT}.additionalProperties",
        at(root, additionalProperties=True),
        "root additionalProperties",
    ),
    Bad("root-not-nullable", f"{ROOT}.nullable", at(root, nullable=True), "root nullable"),
    Bad(
        "root-fields-with-status",
        ROOT,
        both(at(version, subresources={"status": {}}), at(root, minProperties=1)),
        "root minProperties with status",
    ),
    Bad(
        "type-meta-strings",
        f"{ROOT}.properties[kind].type",
        at(lambda c: root(c)["properties"]["kind"], type="integer"),
        "kind an integer",
    ),
    Bad(
        "root-metadata-implicit",
        f"{ROOT}.properties[metadata]",
        metadata({"type": "object", "description": "Standard object metadata."}),
        "the defect: a description",
    ),
    Bad(
        "root-metadata-implicit",
        f"{ROOT}.properties[metadata]",
        metadata({"type": "object", "properties": {"labels": {"type": "object"}}}),
        "metadata.labels",
    ),
    Bad(
        "root-metadata-implicit",
        f"{ROOT}.properties[metadata]",
        metadata({"type": "object", "required": ["name"]}),
        "metadata required",
    ),
    Bad(
        "root-metadata-implicit",
        f"{ROOT}.properties[metadata]",
        metadata({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
        "metadata preserving",
    ),
    Bad(
        "no-default-in-type-meta",
        f"{ROOT}.properties[metadata].properties[name].default",
        metadata({"type": "object", "properties": {"name": {"type": "string", "default": "w"}}}),
        "a default name",
    ),
    Bad(
        "no-default-in-type-meta",
        f"{ROOT}.properties[kind].default",
        at(lambda c: root(c)["properties"]["kind"], default="Widget"),
        "a default kind",
    ),
    # every node
    Bad(
        "type-specified",
        f"{SPEC}.properties[colour].type",
        field("colour", {"description": "untyped"}),
        "a field without type",
    ),
    Bad(
        "type-specified",
        f"{SPEC}.properties[free].properties[inner].type",
        field(
            "free",
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"inner": {}}},
        ),
        "the exemption is not inherited",
    ),
    Bad(
        "type-specified",
        f"{SPEC}.properties[list].items.type",
        field("list", {"type": "array", "maxItems": 2, "items": {"maxLength": 3}}),
        "untyped items",
    ),
    Bad("type-known", f"{SPEC}.properties[colour].type", field("colour", {"type": "null"}), "type null"),
    Bad("type-known", f"{SPEC}.properties[colour].type", field("colour", {"type": "float"}), "type float"),
    Bad(
        "array-items",
        f"{SPEC}.properties[list].items",
        field("list", {"type": "array", "maxItems": 3}),
        "array without items",
    ),
    Bad(
        "items-single-schema",
        f"{SPEC}.properties[list].items",
        field("list", {"type": "array", "items": [{"type": "string"}]}),
        "items a list",
    ),
    Bad(
        "unsupported-keyword",
        f"{SPEC}.properties[colour].$ref",
        field("colour", {"type": "string", "$ref": "#/definitions/colour"}),
        "$ref",
    ),
    Bad(
        "unsupported-keyword",
        f"{SPEC}.properties[colour].patternProperties",
        field("colour", {"type": "object", "patternProperties": {"^a": {"type": "string"}}}),
        "patternProperties",
    ),
    Bad(
        "no-unique-items",
        f"{SPEC}.properties[list].uniqueItems",
        field("list", {"type": "array", "items": STRING, "uniqueItems": True}),
        "uniqueItems",
    ),
    Bad(
        "properties-xor-additional-properties",
        f"{SPEC}.additionalProperties",
        at(spec, additionalProperties={"type": "string"}),
        "properties and additionalProperties",
    ),
    Bad(
        "properties-xor-additional-properties",
        f"{SPEC}.additionalProperties",
        at(spec, additionalProperties=False),
        "properties and additionalProperties: false",
    ),
    Bad(
        "preserve-unknown-fields-true",
        f"{SPEC}.x-kubernetes-preserve-unknown-fields",
        at(spec, **{"x-kubernetes-preserve-unknown-fields": False}),
        "preserve-unknown-fields false",
    ),
    Bad(
        "int-or-string-alone",
        f"{SPEC}.properties[port].x-kubernetes-preserve-unknown-fields",
        field("port", {"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}),
        "int-or-string preserving",
    ),
    Bad(
        "embedded-resource",
        f"{SPEC}.properties[pod].properties",
        field("pod", {"type": "object", "x-kubernetes-embedded-resource": True}),
        "embedded resource of nothing",
    ),
    Bad(
        "pattern-compiles",
        f"{SPEC}.properties[colour].pattern",
        field("colour", {"type": "string", "pattern": "[a-"}),
        "pattern not compiling",
    ),
    Bad(
        "pattern-compiles",
        f"{SPEC}.properties[colour].pattern",
        field("colour", {"type": "string", "pattern": "^(?!red)"}),
        "pattern with lookahead",
    ),
    # logic junctors
    Bad(
        "junctor-structural",
        f"{SPEC}.oneOf[0].type",
        at(spec, oneOf=[{"type": "object", "required": ["size"]}]),
        "type in oneOf",
    ),
    Bad(
        "junctor-structural",
        f"{SPEC}.anyOf[1].description",
        at(spec, anyOf=[{"required": ["size"]}, {"description": "or not"}]),
        "description in anyOf",
    ),
    Bad(
        "junctor-structural",
        f"{SPEC}.oneOf[0].properties[size].default",
        at(spec, oneOf=[{"properties": {"size": {"default": 0}}}]),
        "a default of 0 deep in oneOf",
    ),
    Bad(
        "junctor-structural",
        f"{SPEC}.not.x-kubernetes-validations",
        at(spec, **{"not": {"x-kubernetes-validations": [{"rule": "true"}]}}),
        "a CEL rule in not",
    ),
    Bad(
        "junctor-structural",
        f"{SPEC}.allOf[0].nullable",
        at(spec, allOf=[{"nullable": True}]),
        "nullable in allOf",
    ),
    Bad(
        "junctor-structural",
        f"{SPEC}.allOf[0].properties[metadata]",
        both(field("metadata", {"type": "object"}), at(spec, allOf=[{"properties": {"metadata": {}}}])),
        "metadata in a junctor",
    ),
    Bad(
        "junctor-complete",
        f"{SPEC}.properties[colour]",
        at(spec, oneOf=[{"properties": {"colour": {}}}]),
        "oneOf names an undeclared field",
    ),
    Bad(
        "junctor-complete",
        f"{SPEC}.properties[tags].items.properties[x]",
        field(
            "tags",
            {
                "type": "array",
                "maxItems": 2,
                "items": STRING,
                "allOf": [{"items": {"properties": {"x": {"minLength": 1}}}}],
            },
        ),
        "allOf names an undeclared field of items",
    ),
    # defaults
    Bad(
        "default-valid",
        f"{SPEC}.properties[size].default",
        field("size", {"type": "integer", "default": "big"}),
        "default of the wrong type",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[size].default",
        field("size", {"type": "integer", "maximum": 10, "default": 11}),
        "default over maximum",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[colour].default",
        field("colour", {"type": "string", "enum": ["red", "blue"], "default": "green"}),
        "default not in enum",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[colour].default",
        field("colour", {"type": "string", "pattern": "^[a-z]+$", "default": "Red"}),
        "default not matching",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[colour].default",
        field("colour", {"type": "string", "maxLength": 3, "default": "green"}),
        "default too long",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[when].default",
        field("when", {"type": "string", "format": "date-time", "default": "yesterday"}),
        "default not a date-time",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.properties[size].default",
        field("size", {"type": "integer", "format": "int32", "default": 2**31}),
        "default beyond int32",
    ),
    Bad(
        "default-valid",
        f"{SPEC}.default",
        at(spec, required=["size"], default={}),
        "object default without a required field",
    ),
    Bad(
        "default-pruned",
        f"{SPEC}.default",
        at(spec, default={"size": 1, "colour": "red"}),
        "default with an unknown field",
    ),
    # lists and maps
    Bad(
        "list-type",
        f"{SPEC}.properties[tags].type",
        field("tags", {"type": "object", "x-kubernetes-list-type": "set"}),
        "list-type on an object",
    ),
    Bad(
        "list-type",
        f"{SPEC}.properties[tags].x-kubernetes-list-type",
        field("tags", {"type": "array", "maxItems": 2, "items": STRING, "x-kubernetes-list-type": "bag"}),
        "list-type bag",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].x-kubernetes-list-map-keys",
        field("ports", map_list([], NAMED)),
        "map list without keys",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].x-kubernetes-list-type",
        field("ports", {**map_list(["name"], NAMED), "x-kubernetes-list-type": "atomic"}),
        "keys on an atomic list",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].x-kubernetes-list-map-keys",
        field("ports", map_list(["port"], NAMED)),
        "key not an item property",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].items.type",
        field("ports", map_list(["name"], STRING)),
        "map list of strings",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].items.properties[name].type",
        field(
            "ports",
            map_list(
                ["name"], {"type": "object", "required": ["name"], "properties": {"name": {"type": "object"}}}
            ),
        ),
        "an object key",
    ),
    Bad(
        "list-map-keys",
        f"{SPEC}.properties[ports].x-kubernetes-list-map-keys",
        field("ports", map_list(["name", "name"], NAMED)),
        "duplicate keys",
    ),
    Bad(
        "list-map-key-required",
        f"{SPEC}.properties[ports].items.properties[name].default",
        field("ports", map_list(["name"], {**NAMED, "required": []})),
        "key neither required nor defaulted",
    ),
    Bad(
        "list-map-key-required",
        f"{SPEC}.properties[ports].items.properties[name].nullable",
        field("ports", map_list(["name"], {**NAMED, "properties": {"name": {**STRING, "nullable": True}}})),
        "nullable key",
    ),
    Bad(
        "list-items-not-nullable",
        f"{SPEC}.properties[tags].items.nullable",
        field(
            "tags",
            {
                "type": "array",
                "maxItems": 2,
                "x-kubernetes-list-type": "set",
                "items": {**STRING, "nullable": True},
            },
        ),
        "nullable set items",
    ),
    Bad(
        "list-set-atomic-items",
        f"{SPEC}.properties[tags].items.x-kubernetes-map-type",
        field("tags", {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "set", "items": NAMED}),
        "set of granular objects",
    ),
    Bad(
        "map-type",
        f"{SPEC}.properties[tags].type",
        field("tags", {"type": "array", "maxItems": 2, "items": STRING, "x-kubernetes-map-type": "atomic"}),
        "map-type on an array",
    ),
    Bad(
        "map-type",
        f"{SPEC}.x-kubernetes-map-type",
        at(spec, **{"x-kubernetes-map-type": "loose"}),
        "map-type loose",
    ),
    # CEL validation rules
    Bad(
        "cel-rule",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        spec_rule(rule="  "),
        "blank rule",
    ),
    Bad(
        "cel-rule",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        spec_rule(rule="self.size > (1"),
        "unbalanced rule",
    ),
    Bad(
        "cel-rule",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        spec_rule(rule="self.colour == 'red'"),
        "rule of an undeclared field",
    ),
    Bad(
        "cel-message",
        f"{SPEC}.x-kubernetes-validations[0].message",
        spec_rule(rule="self.size > 0", message=" "),
        "blank message",
    ),
    Bad(
        "cel-message",
        f"{SPEC}.x-kubernetes-validations[0].message",
        spec_rule(rule="self.size > 0", message="a\nb"),
        "two-line message",
    ),
    Bad(
        "cel-message",
        f"{SPEC}.x-kubernetes-validations[0].message",
        spec_rule(rule="self.size > 0 &&\nself.size < 9"),
        "two-line rule without message",
    ),
    Bad(
        "cel-message",
        f"{SPEC}.x-kubernetes-validations[0].messageExpression",
        spec_rule(rule="self.size > 0", messageExpression=""),
        "blank messageExpression",
    ),
    Bad(
        "cel-reason",
        f"{SPEC}.x-kubernetes-validations[0].reason",
        spec_rule(rule="self.size > 0", reason="FieldValueWrong"),
        "unknown reason",
    ),
    Bad(
        "cel-cost",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        both(
            field("name", {"type": "string"}),
            spec_rule(rule="self.name.startsWith('a')"),
        ),
        "rule reading an unbounded string",
    ),
    Bad(
        "cel-cost",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        both(
            field("list", {"type": "array", "items": {"type": "integer"}}),
            spec_rule(rule="self.list.all(x, x > 0)"),
        ),
        "rule reading an unbounded list",
    ),
    Bad(
        "cel-cost",
        f"{SPEC}.properties[list].items.x-kubernetes-validations[0].rule",
        field(
            "list",
            {
                "type": "array",
                "items": {"type": "integer", "x-kubernetes-validations": [{"rule": "self > 0"}]},
            },
        ),
        "rule under an unbounded list",
    ),
    Bad(
        "cel-cost",
        f"{SPEC}.x-kubernetes-validations[0].rule",
        both(
            field(
                "list", {"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": 1000}}
            ),
            spec_rule(rule="self.list.all(a, self.list.all(b, a == b))"),
        ),
        "nested comprehensions over a big list",
        also=("cel-cost-total",),
    ),
    Bad("cel-cost-total", ROOT, many_costly_lists(12), "twelve rules near the limit"),
    Bad(
        "cel-oldself-correlatable",
        f"{SPEC}.properties[list].items.x-kubernetes-validations[0].rule",
        field(
            "list",
            {
                "type": "array",
                "maxItems": 4,
                "items": {**STRING, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
            },
        ),
        "oldSelf in an atomic list",
    ),
    Bad(
        "cel-oldself-correlatable",
        f"{SPEC}.x-kubernetes-validations[0].optionalOldSelf",
        spec_rule(rule="self.size > 0", optionalOldSelf=True),
        "optionalOldSelf without oldSelf",
    ),
]


def test_the_minimal_crd_passes() -> None:
    crd = minimal_crd()
    kubernetes_validate.validate(crd, "1.30", strict=True)
    assert crd_rules.check(crd) == []


@pytest.mark.parametrize("bad", BAD, ids=[f"{b.rule}: {b.why}" for b in BAD])
def test_each_rule_refuses_a_crd_breaking_it_and_only_it(bad: Bad) -> None:
    crd = minimal_crd()
    bad.mutate(crd)
    found = crd_rules.check(crd)
    assert (bad.rule, bad.path) in {(v.rule, v.path) for v in found}, found
    assert {v.rule for v in found} == {bad.rule, *bad.also}, found


def test_every_rule_is_seen_refusing() -> None:
    assert {b.rule for b in BAD} == set(crd_rules.RULES)


def test_every_rule_has_an_id_a_one_line_statement_and_an_upstream_source() -> None:
    for rule_id, rule in crd_rules.RULES.items():
        assert rule.id == rule_id
        assert rule.statement and "\n" not in rule.statement, rule_id
        assert rule.source, rule_id
    assert len(crd_rules.describe().splitlines()) == len(crd_rules.RULES)


def test_the_metadata_description_passes_kubernetes_validate_and_not_the_checker() -> None:
    """Why the checker exists: the defect kube-apiserver refused was valid OpenAPI."""
    crd = minimal_crd()
    root(crd)["properties"]["metadata"]["description"] = "Standard object metadata."
    kubernetes_validate.validate(crd, "1.30", strict=True)
    assert [(v.rule, v.path) for v in crd_rules.check(crd)] == [
        ("root-metadata-implicit", f"{ROOT}.properties[metadata]")
    ]


def rich_crd() -> Crd:
    """Every feature the rules govern, used as the API server allows it."""
    crd = minimal_crd()
    version(crd)["subresources"] = {"status": {}}
    version(crd)["additionalPrinterColumns"] = [
        {"name": "Size", "type": "integer", "format": "int32", "jsonPath": ".spec.size", "priority": 1},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Label", "type": "string", "jsonPath": ".spec.labels.app"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    name = {"type": "string", "maxLength": 63, "pattern": "^[a-z]+$"}
    root(crd)["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": name, "generateName": name},
    }
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "maxLength": 64},
            "status": {"type": "string", "enum": ["True", "False"]},
        },
    }
    root(crd)["properties"]["status"] = {
        "type": "object",
        "properties": {"conditions": map_list(["type"], condition)},
    }
    port = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 15},
            "protocol": {"type": "string", "enum": ["TCP", "UDP"], "default": "TCP"},
        },
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "ports are immutable"}],
    }
    spec(crd).update(
        {
            "required": ["size"],
            "oneOf": [
                {"properties": {"size": {"minimum": 1}}},
                {"properties": {"port": {}}, "required": ["port"]},
            ],
            "x-kubernetes-validations": [
                {
                    "rule": "self.size <= 10 || self.name.startsWith('big')",
                    "message": "a size over 10 needs a big name",
                    "reason": "FieldValueInvalid",
                }
            ],
            "properties": {
                "size": {"type": "integer", "format": "int32", "minimum": 0, "default": 1},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "name": {"type": "string", "maxLength": 63, "pattern": "^[a-z]+$", "default": "small"},
                "when": {
                    "type": "string",
                    "format": "date-time",
                    "maxLength": 64,
                    "default": "2024-05-01T10:00:00Z",
                },
                "labels": {
                    "type": "object",
                    "maxProperties": 8,
                    "additionalProperties": {"type": "string", "maxLength": 63},
                },
                "extra": {"type": "object", "maxProperties": 4, "x-kubernetes-preserve-unknown-fields": True},
                "tags": {"type": "array", "maxItems": 4, "x-kubernetes-list-type": "set", "items": STRING},
                "ports": map_list(["name", "protocol"], port),
                "limits": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "properties": {"cpu": {"type": "integer"}},
                    "default": {"cpu": 1},
                },
            },
        }
    )
    return crd


def test_a_crd_using_every_feature_as_allowed_passes() -> None:
    crd = rich_crd()
    kubernetes_validate.validate(crd, "1.30", strict=True)
    assert crd_rules.check(crd) == []


def test_the_cost_estimate_is_cardinality_times_what_the_rule_reads() -> None:
    node = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 253}}}
    rule = {"rule": "self.name.startsWith('a')"}
    (top, *_) = crd_rules.walk(node, "x")
    assert crd_rules.estimated_cost(top, rule) == 253
    listed = {"type": "array", "maxItems": 8, "items": node}
    item = next(n for n in crd_rules.walk(listed, "x") if n.level == "item")
    assert crd_rules.estimated_cost(item, rule) == 8 * 253
    assert crd_rules.estimated_cost(top, {"rule": "self.name.size() > 0"}) == 253  # ours: no O(1) size()
    assert crd_rules.estimated_cost(top, {"rule": "self.name.all(c, c == 'a')"}) == 253
    when = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    (top, *_) = crd_rules.walk(when, "x")
    assert crd_rules.estimated_cost(top, {"rule": "self.at != ''"}) == 32  # MaxDatetimeSizeJSON
    assert crd_rules.estimated_cost(top, {"rule": "self.at.all(a, self.at.all(b, a == b))"}) == 64**2


def test_a_rule_may_read_the_root_metadata_name_which_cel_sees_as_an_unbounded_string() -> None:
    (top, *_) = crd_rules.walk({"type": "object", "properties": {"metadata": {"type": "object"}}}, "x")
    rule = {"rule": "self.metadata.name.startsWith('w')"}
    assert crd_rules.unbounded_reads(top, rule) == ["self.metadata.name"]
    assert crd_rules.estimated_cost(top, rule) is None


def shipped() -> list[pathlib.Path]:
    return sorted(wl_crd_schema.CRD_DIR.glob("*.yaml")) + sorted(CHART_CRD_DIR.glob("*.yaml"))


def _documents(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", shipped(), ids=lambda p: str(p.relative_to(wl_crd_schema.ROOT)))
def test_every_shipped_crd_passes_the_checker(path: pathlib.Path) -> None:
    (crd,) = _documents(path)
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd_rules.check(crd) == []


def test_the_chart_ships_the_crds_unchanged() -> None:
    top = {p.name: _documents(p) for p in wl_crd_schema.CRD_DIR.glob("*.yaml")}
    chart = {p.name: _documents(p) for p in CHART_CRD_DIR.glob("*.yaml")}
    assert set(top) == {"syncconfigs.yaml", "flows.yaml", "executions.yaml", "settings.yaml"}
    assert chart == top, "run `make crds`"
