"""The checks the API server runs when a CustomResourceDefinition is created, in plain Python.

kubernetes_validate holds a CRD to the OpenAPI shape of apiextensions.k8s.io/v1 only: a schema
the API server refuses (a description on the root metadata, a type inside a oneOf) passes it.
`check(crd)` returns every violation of the rules below, each naming its rule and the field path
the API server would report (spec.versions[0].schema.openAPIV3Schema.properties[metadata]).

Every rule names where upstream enforces it, as a path in kubernetes/kubernetes under
staging/src/k8s.io/apiextensions-apiserver/ and the function doing it. Where a rule is stricter
than upstream its statement says so; `column-declared` is ours alone.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

STRUCTURAL = "pkg/apiserver/schema/validation.go"
COMPLETE = "pkg/apiserver/schema/complete.go"
CONVERT = "pkg/apiserver/schema/convert.go"
API = "pkg/apis/apiextensions/validation/validation.go"
CEL_CONTEXT = "pkg/apis/apiextensions/validation/cel_validation.go"
DEFAULTS = "pkg/apiserver/schema/defaulting/validation.go"
CEL_COMPILE = "pkg/apiserver/schema/cel/compilation.go"
V1_TYPES = "pkg/apis/apiextensions/v1/types.go"
DOCS = "kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/"

# StaticEstimatedCostLimit and StaticEstimatedCRDCostLimit in API.
RULE_COST_LIMIT = 10_000_000
CRD_COST_LIMIT = 100_000_000

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Rule:
    id: str
    statement: str
    source: str


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    detail: str


@dataclass(frozen=True)
class Node:
    """A schema node outside the logic junctors, where the API server's walk visits it."""

    schema: Schema
    path: str
    level: str  # "root", "field" (properties, additionalProperties) or "item"
    in_type_meta: bool  # under the root apiVersion, kind or metadata
    cardinality: int | None  # how often it can occur in one object; None: unbounded
    uncorrelatable: str | None  # the ancestor that keeps oldSelf from being correlated
    status: bool = False  # the root of a version with the status subresource


Found = Iterator[tuple[str, str]]  # (path, detail)
CrdCheck = Callable[[Schema], Found]
VersionCheck = Callable[[Schema, str], Found]
NodeCheck = Callable[[Node], Found]
RULES: dict[str, Rule] = {}
_CRD_CHECKS: list[tuple[str, CrdCheck]] = []
_VERSION_CHECKS: list[tuple[str, VersionCheck]] = []
_NODE_CHECKS: list[tuple[str, NodeCheck]] = []


def _add(rule_id: str, statement: str, source: str) -> None:
    assert rule_id not in RULES, rule_id
    RULES[rule_id] = Rule(rule_id, statement, source)


def crd_rule(rule_id: str, statement: str, source: str) -> Callable[[CrdCheck], CrdCheck]:
    def add(fn: CrdCheck) -> CrdCheck:
        _add(rule_id, statement, source)
        _CRD_CHECKS.append((rule_id, fn))
        return fn

    return add


def version_rule(rule_id: str, statement: str, source: str) -> Callable[[VersionCheck], VersionCheck]:
    def add(fn: VersionCheck) -> VersionCheck:
        _add(rule_id, statement, source)
        _VERSION_CHECKS.append((rule_id, fn))
        return fn

    return add


def node_rule(rule_id: str, statement: str, source: str) -> Callable[[NodeCheck], NodeCheck]:
    def add(fn: NodeCheck) -> NodeCheck:
        _add(rule_id, statement, source)
        _NODE_CHECKS.append((rule_id, fn))
        return fn

    return add


def check(crd: Schema) -> list[Violation]:
    found: list[Violation] = []
    for rule_id, crd_fn in _CRD_CHECKS:
        found += [Violation(rule_id, p, d) for p, d in crd_fn(crd)]
    for i, version in enumerate(crd.get("spec", {}).get("versions") or []):
        vpath = f"spec.versions[{i}]"
        for rule_id, version_fn in _VERSION_CHECKS:
            found += [Violation(rule_id, p, d) for p, d in version_fn(version, vpath)]
        root = (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(root, Mapping):
            status = (version.get("subresources") or {}).get("status") is not None
            for node in walk(root, f"{vpath}.schema.openAPIV3Schema", status):
                for rule_id, node_fn in _NODE_CHECKS:
                    found += [Violation(rule_id, p, d) for p, d in node_fn(node)]
    return found


# --- the walk ------------------------------------------------------------------------------


def _max_elements(schema: Schema) -> int | None:
    """By how much a node multiplies the occurrences of its children (extractMaxElements)."""
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return _int_or_none(schema.get("maxProperties"))
    if schema.get("type") == "array":
        return _int_or_none(schema.get("maxItems"))
    return 1


def _int_or_none(value: Any) -> int | None:
    return max(0, value) if isinstance(value, int) and not isinstance(value, bool) else None


def walk(root: Schema, path: str, status: bool = False) -> Iterator[Node]:
    yield from _walk(Node(root, path, "root", False, 1, None, status))


def _walk(node: Node) -> Iterator[Node]:
    yield node
    s = node.schema
    factor = _max_elements(s)
    card = None if node.cardinality is None or factor is None else node.cardinality * factor
    props = s.get("properties")
    if isinstance(props, Mapping):
        atomic_map = s.get("x-kubernetes-map-type") == "atomic"
        for name, sub in props.items():
            if isinstance(sub, Mapping):
                yield from _walk(
                    Node(
                        sub,
                        f"{node.path}.properties[{name}]",
                        "field",
                        node.in_type_meta or (node.level == "root" and name in TYPE_META),
                        card,
                        node.uncorrelatable or (node.path if atomic_map else None),
                    )
                )
    items = s.get("items")
    if isinstance(items, Mapping):
        by_key = s.get("x-kubernetes-list-type") == "map"
        yield from _walk(
            Node(
                items,
                f"{node.path}.items",
                "item",
                node.in_type_meta,
                card,
                node.uncorrelatable or (None if by_key else node.path),
            )
        )
    extra = s.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from _walk(
            Node(
                extra,
                f"{node.path}.additionalProperties",
                "field",
                node.in_type_meta,
                card,
                node.uncorrelatable,
            )
        )


TYPE_META = ("apiVersion", "kind", "metadata")
JUNCTORS = ("allOf", "anyOf", "oneOf")


def _junctor_branches(schema: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    for junctor in JUNCTORS:
        for i, branch in enumerate(schema.get(junctor) or []):
            if isinstance(branch, Mapping):
                yield f"{path}.{junctor}[{i}]", branch
    if isinstance(schema.get("not"), Mapping):
        yield f"{path}.not", schema["not"]


# --- the CRD itself ------------------------------------------------------------------------

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _dns1035(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(DNS1035.match(value))


@crd_rule(
    "crd-name",
    "metadata.name is spec.names.plural + '.' + spec.group.",
    f"{API} ValidateCustomResourceDefinition",
)
def _crd_name(crd: Schema) -> Found:
    spec = crd.get("spec", {})
    wanted = f"{spec.get('names', {}).get('plural')}.{spec.get('group')}"
    if crd.get("metadata", {}).get("name") != wanted:
        yield "metadata.name", f'must be spec.names.plural+"."+spec.group ({wanted})'


@crd_rule(
    "crd-group",
    "spec.group is a DNS-1123 subdomain with at least one dot.",
    f"{API} validateCustomResourceDefinitionSpec",
)
def _crd_group(crd: Schema) -> Found:
    group = crd.get("spec", {}).get("group")
    ok = isinstance(group, str) and len(group) <= 253 and DNS1123_SUBDOMAIN.match(group) and "." in group
    if not ok:
        yield "spec.group", "must be a DNS-1123 subdomain with at least one dot"


@crd_rule(
    "crd-scope",
    "spec.scope is Namespaced or Cluster.",
    f"{API} validateCustomResourceDefinitionSpec",
)
def _crd_scope(crd: Schema) -> Found:
    if crd.get("spec", {}).get("scope") not in ("Namespaced", "Cluster"):
        yield "spec.scope", "must be Namespaced or Cluster"


@crd_rule(
    "crd-names",
    "plural and kind are set; plural, singular, shortNames and categories are DNS-1035 labels, "
    "kind and listKind are once lowercased; kind and listKind differ.",
    f"{API} validateCustomResourceDefinitionSpec, ValidateCustomResourceDefinitionNames",
)
def _crd_names(crd: Schema) -> Found:
    names = crd.get("spec", {}).get("names", {})
    for required in ("plural", "kind"):
        if not names.get(required):
            yield f"spec.names.{required}", "required"
    for key in ("plural", "singular"):
        if names.get(key) and not _dns1035(names[key]):
            yield f"spec.names.{key}", "must be a DNS-1035 label"
    for key in ("kind", "listKind"):
        if names.get(key) and not _dns1035(str(names[key]).lower()):
            yield f"spec.names.{key}", "may have mixed case, but should otherwise be a DNS-1035 label"
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            if not _dns1035(value):
                yield f"spec.names.{key}[{i}]", "must be a DNS-1035 label"
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        yield "spec.names.listKind", "kind and listKind may not be the same"


@crd_rule(
    "crd-versions",
    "Version names are unique DNS-1035 labels, exactly one version is the storage version, "
    "and every version has a schema.",
    f"{API} validateCustomResourceDefinitionSpec",
)
def _crd_versions(crd: Schema) -> Found:
    versions = crd.get("spec", {}).get("versions") or []
    names = [v.get("name") for v in versions]
    for i, name in enumerate(names):
        if not _dns1035(name):
            yield f"spec.versions[{i}].name", "must be a DNS-1035 label"
    if len(set(map(str, names))) != len(names):
        yield "spec.versions", "must contain unique version names"
    if sum(1 for v in versions if v.get("storage")) != 1:
        yield "spec.versions", "must have exactly one version marked as storage version"
    for i, v in enumerate(versions):
        if not isinstance((v.get("schema") or {}).get("openAPIV3Schema"), Mapping):
            yield f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"


# --- printer columns -----------------------------------------------------------------------

COLUMN_TYPES = {"integer", "number", "string", "boolean", "date"}
COLUMN_FORMATS = {"int32", "int64", "float", "double", "byte", "date", "date-time", "password"}
# ObjectMeta is the API server's own: a column may read any of its fields.
OBJECT_META = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
}  # fmt: skip


def _columns(version: Schema, vpath: str) -> Iterator[tuple[str, Schema]]:
    for i, column in enumerate(version.get("additionalPrinterColumns") or []):
        yield f"{vpath}.additionalPrinterColumns[{i}]", column


@version_rule(
    "column-name",
    "Every printer column has a name.",
    f"{API} ValidateCustomResourceColumnDefinition",
)
def _column_name(version: Schema, vpath: str) -> Found:
    for path, column in _columns(version, vpath):
        if not column.get("name"):
            yield f"{path}.name", "required"


@version_rule(
    "column-type",
    "A printer column's type is one of integer, number, string, boolean, date.",
    f"{API} ValidateCustomResourceColumnDefinition (printerColumnDatatypes)",
)
def _column_type(version: Schema, vpath: str) -> Found:
    for path, column in _columns(version, vpath):
        if column.get("type") not in COLUMN_TYPES:
            yield f"{path}.type", f"must be one of {','.join(sorted(COLUMN_TYPES))}"


@version_rule(
    "column-format",
    "A printer column's format, if set, is one of int32, int64, float, double, byte, date, "
    "date-time, password.",
    f"{API} ValidateCustomResourceColumnDefinition (customResourceColumnDefinitionFormats)",
)
def _column_format(version: Schema, vpath: str) -> Found:
    for path, column in _columns(version, vpath):
        if column.get("format") and column["format"] not in COLUMN_FORMATS:
            yield f"{path}.format", f"must be one of {','.join(sorted(COLUMN_FORMATS))}"


@version_rule(
    "column-json-path",
    "A printer column's jsonPath is a non-empty simple JSON path starting with '.'.",
    f"{API} ValidateCustomResourceColumnDefinition, validateSimpleJSONPath",
)
def _column_json_path(version: Schema, vpath: str) -> Found:
    for path, column in _columns(version, vpath):
        json_path = column.get("jsonPath")
        if not isinstance(json_path, str) or not json_path.startswith("."):
            yield f"{path}.jsonPath", "must be a simple json path starting with ."


@version_rule(
    "column-priority",
    "A printer column's priority, if set, is an integer (int32).",
    f"{V1_TYPES} CustomResourceColumnDefinition.Priority (int32)",
)
def _column_priority(version: Schema, vpath: str) -> Found:
    for path, column in _columns(version, vpath):
        priority = column.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or not -(2**31) <= priority < 2**31:
            yield f"{path}.priority", "must be an int32"


@version_rule(
    "column-declared",
    "A printer column's jsonPath names a field the schema declares (or ObjectMeta, apiVersion, "
    "kind). Ours: the API server accepts any path and shows an empty cell for an undeclared one.",
    f"none upstream; {DOCS}#additional-printer-columns",
)
def _column_declared(version: Schema, vpath: str) -> Found:
    root = (version.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(root, Mapping):
        return
    for path, column in _columns(version, vpath):
        json_path = column.get("jsonPath")
        if isinstance(json_path, str) and json_path.startswith(".") and not _declares(root, json_path):
            yield f"{path}.jsonPath", f"{json_path} names no field of the schema"


def _declares(root: Schema, json_path: str) -> bool:
    steps = re.sub(r"\[[^\]]*\]", ".[]", json_path).strip(".").split(".")
    steps = [s for s in steps if s]
    if steps[:1] in (["apiVersion"], ["kind"]) and len(steps) == 1:
        return True
    if steps[:1] == ["metadata"]:
        return len(steps) == 1 or steps[1] in OBJECT_META
    node: Schema = root
    for step in steps:
        if step == "[]":
            if not isinstance(node.get("items"), Mapping):
                return False
            node = node["items"]
        elif isinstance(node.get("properties"), Mapping) and step in node["properties"]:
            node = node["properties"][step]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return bool(node.get("x-kubernetes-preserve-unknown-fields"))
    return True


# --- the root ------------------------------------------------------------------------------

# allowedFieldsAtRootSchema in API, in their JSON spelling.
ROOT_FIELDS_WITH_STATUS = {
    "description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "required", "items", "properties", "externalDocs", "example",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
}  # fmt: skip


@node_rule(
    "root-object",
    "The root schema's type, if set, is object.",
    f"{STRUCTURAL} validateStructuralInvariants",
)
def _root_object(node: Node) -> Found:
    if node.level == "root" and "type" in node.schema and node.schema["type"] != "object":
        yield f"{node.path}.type", "must be object at the root"


@node_rule(
    "root-no-additional-properties",
    "The root schema has no additionalProperties.",
    f"{STRUCTURAL} validateStructuralInvariants",
)
def _root_additional_properties(node: Node) -> Found:
    if node.level == "root" and "additionalProperties" in node.schema:
        yield f"{node.path}.additionalProperties", "must not be used at the root"


@node_rule(
    "root-not-nullable",
    "The root schema is not nullable.",
    f"{API} validateCustomResourceDefinitionValidation",
)
def _root_nullable(node: Node) -> Found:
    if node.level == "root" and node.schema.get("nullable"):
        yield f"{node.path}.nullable", "nullable cannot be true at the root"


@node_rule(
    "root-fields-with-status",
    "With the status subresource the root schema has only the fields of allowedFieldsAtRootSchema "
    "(no default, enum, nullable, junctors, additionalProperties, min/maxProperties, other x-kubernetes-*).",
    f"{API} validateCustomResourceDefinitionValidation, allowedAtRootSchema",
)
def _root_fields_with_status(node: Node) -> Found:
    if node.level == "root" and node.status:
        for key, value in node.schema.items():
            # Go skips zero values here: false and "" are no more set than an absent key.
            if (
                key not in ROOT_FIELDS_WITH_STATUS
                and value is not None
                and value is not False
                and value != ""
            ):
                yield node.path, f"{key}: only {sorted(ROOT_FIELDS_WITH_STATUS)} at the root with status"


@node_rule(
    "type-meta-strings",
    "apiVersion and kind at the root (and of an embedded resource) are of type string, metadata "
    "of type object.",
    f"{STRUCTURAL} validateStructuralInvariants, validateStructuralMetadataInvariants",
)
def _type_meta_strings(node: Node) -> Found:
    if node.level != "root" and not node.schema.get("x-kubernetes-embedded-resource"):
        return
    props = node.schema.get("properties") or {}
    for name, wanted in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
        if isinstance(props.get(name), Mapping) and props[name].get("type") != wanted:
            yield f"{node.path}.properties[{name}].type", f"must be {wanted}"


@node_rule(
    "root-metadata-implicit",
    "The root metadata schema may only constrain name and generateName: besides type: object and "
    "properties naming nothing but name and/or generateName (any schema for those), nothing is "
    "allowed, not even a description. externalDocs and example are dropped before the check; a "
    "default is refused by no-default-in-type-meta.",
    f"{STRUCTURAL} validateStructuralMetadataInvariants; {CONVERT} NewStructural; "
    f"{DOCS}#specifying-a-structural-schema",
)
def _root_metadata(node: Node) -> Found:
    if node.level != "root":
        return
    meta = (node.schema.get("properties") or {}).get("metadata")
    if not isinstance(meta, Mapping):
        return
    ignored = {"type", "default", "externalDocs", "example"}
    # What NewStructural leaves as Go zero values compares equal to "unspecified".
    rest = [k for k, v in meta.items() if k not in ignored and v is not None and v is not False]
    rest = [k for k in rest if not (k in ("enum", "properties") and not meta[k])]
    names = meta.get("properties")
    if isinstance(names, Mapping) and set(names) <= {"name", "generateName"}:
        rest = [k for k in rest if k != "properties"]
    if rest:
        yield (
            f"{node.path}.properties[metadata]",
            "must not specify anything other than name and generateName, but metadata specifies "
            f"{sorted(rest)}",
        )


@node_rule(
    "no-default-in-type-meta",
    "No default anywhere under the root apiVersion, kind or metadata.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema (withForbiddenDefaults 'in top-level ...')",
)
def _no_default_in_type_meta(node: Node) -> Found:
    if node.in_type_meta and "default" in node.schema:
        yield f"{node.path}.default", "must not be set in top-level apiVersion, kind or metadata"


# --- every node ----------------------------------------------------------------------------

OPENAPI_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
UNSUPPORTED = ("id", "$schema", "$ref", "additionalItems", "patternProperties", "definitions", "dependencies")


@node_rule(
    "type-specified",
    "The root and every node under properties, items and additionalProperties has a type, unless "
    "that node itself sets x-kubernetes-int-or-string: true or x-kubernetes-preserve-unknown-fields: "
    "true (the exemption is not inherited by its children).",
    f"{STRUCTURAL} validateStructuralInvariants; {DOCS}#specifying-a-structural-schema",
)
def _type_specified(node: Node) -> Found:
    s = node.schema
    exempt = s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")
    if not s.get("type") and not exempt and not s.get("x-kubernetes-embedded-resource"):
        where = {"root": "at the root", "item": "for specified array items"}.get(
            node.level, "for specified object fields"
        )
        yield f"{node.path}.type", f"must not be empty {where}"


@node_rule(
    "type-known",
    "A type is one of string, number, integer, boolean, array, object (null is refused: use nullable).",
    f"{API} specStandardValidatorV3.validate",
)
def _type_known(node: Node) -> Found:
    kind = node.schema.get("type")
    if kind and kind not in OPENAPI_TYPES:
        yield f"{node.path}.type", f"must be one of {sorted(OPENAPI_TYPES)}"


@node_rule(
    "array-items",
    "A node of type array has items.",
    f"{STRUCTURAL} validateStructuralInvariants",
)
def _array_items(node: Node) -> Found:
    if node.schema.get("type") == "array" and "items" not in node.schema:
        yield f"{node.path}.items", "must be specified"


@node_rule(
    "items-single-schema",
    "items is one schema, not a list of schemas.",
    f"{API} specStandardValidatorV3.validate; {CONVERT} NewStructural",
)
def _items_single(node: Node) -> Found:
    if isinstance(node.schema.get("items"), list):
        yield f"{node.path}.items", "items must be a schema object and not an array"


@node_rule(
    "unsupported-keyword",
    "No id, $schema, $ref, additionalItems, patternProperties, definitions or dependencies.",
    f"{API} specStandardValidatorV3.validate; {CONVERT} validateUnsupportedFields",
)
def _unsupported(node: Node) -> Found:
    for key in UNSUPPORTED:
        if node.schema.get(key):
            yield f"{node.path}.{key}", f"{key} is not supported"


@node_rule(
    "no-unique-items",
    "uniqueItems is never true (quadratic to check).",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _unique_items(node: Node) -> Found:
    if node.schema.get("uniqueItems") is True:
        yield f"{node.path}.uniqueItems", "uniqueItems cannot be set to true"


@node_rule(
    "properties-xor-additional-properties",
    "A node with properties has no additionalProperties schema nor additionalProperties: false.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _properties_xor(node: Node) -> Found:
    extra = node.schema.get("additionalProperties")
    if node.schema.get("properties") and extra is not None and extra is not True:
        yield f"{node.path}.additionalProperties", "additionalProperties and properties are mutual exclusive"


@node_rule(
    "preserve-unknown-fields-true",
    "x-kubernetes-preserve-unknown-fields, if set, is true.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema; {CONVERT} newExtensions",
)
def _preserve_true(node: Node) -> Found:
    if node.schema.get("x-kubernetes-preserve-unknown-fields") is False:
        yield f"{node.path}.x-kubernetes-preserve-unknown-fields", "must be true or undefined"


@node_rule(
    "int-or-string-alone",
    "x-kubernetes-int-or-string excludes x-kubernetes-preserve-unknown-fields and "
    "x-kubernetes-embedded-resource.",
    f"{STRUCTURAL} validateExtensions",
)
def _int_or_string(node: Node) -> Found:
    if node.schema.get("x-kubernetes-int-or-string"):
        for other in ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"):
            if node.schema.get(other):
                yield f"{node.path}.{other}", "must be false if x-kubernetes-int-or-string is true"


@node_rule(
    "embedded-resource",
    "x-kubernetes-embedded-resource needs type object, no additionalProperties, and properties or "
    "x-kubernetes-preserve-unknown-fields.",
    f"{STRUCTURAL} validateStructuralInvariants",
)
def _embedded(node: Node) -> Found:
    s = node.schema
    if not s.get("x-kubernetes-embedded-resource"):
        return
    if s.get("type") != "object":
        yield f"{node.path}.type", "must be object if x-kubernetes-embedded-resource is true"
    if "additionalProperties" in s:
        yield f"{node.path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"
    if not s.get("x-kubernetes-preserve-unknown-fields") and not s.get("properties"):
        yield f"{node.path}.properties", "must not be empty without x-kubernetes-preserve-unknown-fields"


# Go's RE2 has no lookaround and no backreferences; Python's re has both.
NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


@node_rule(
    "pattern-compiles",
    "A pattern is a valid Go (RE2) regular expression; approximated as: compiles in Python's re "
    "and uses no lookaround or backreference.",
    f"{STRUCTURAL} validateValueValidation",
)
def _pattern(node: Node) -> Found:
    pattern = node.schema.get("pattern")
    if pattern is None:
        return
    try:
        re.compile(pattern)
    except (re.error, TypeError) as err:
        yield f"{node.path}.pattern", f"must be a valid regular expression: {err}"
        return
    if NOT_RE2.search(pattern):
        yield f"{node.path}.pattern", "lookaround and backreferences are not RE2"


# --- logic junctors ------------------------------------------------------------------------

# What a value validation under a junctor must leave unset (validateNestedValueValidation).
FORBIDDEN_IN_JUNCTOR = (
    "type", "additionalProperties", "default", "title", "description", "nullable", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations",
)  # fmt: skip
INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
# Pointers in Go: set as soon as present, whatever the value (a default of 0 or false included).
SET_WHEN_PRESENT = {
    "default",
    "additionalProperties",
    "externalDocs",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
}


def _specified(schema: Schema, key: str) -> bool:
    if key in SET_WHEN_PRESENT:
        return key in schema
    value = schema.get(key)
    return value is True if isinstance(value, bool) else bool(value)


@node_rule(
    "junctor-structural",
    "Inside allOf, anyOf, oneOf and not (at any depth) there is no type, additionalProperties, "
    "default, title, description, nullable, externalDocs, x-kubernetes-* extension nor a metadata "
    "property; except the int-or-string anyOf [{type: integer}, {type: string}] (also as allOf[0]).",
    f"{STRUCTURAL} validateValueValidation, validateNestedValueValidation; "
    f"{DOCS}#specifying-a-structural-schema",
)
def _junctor_structural(node: Node) -> Found:
    yield from _value_validation(node.schema, node.path)


def _value_validation(schema: Schema, path: str) -> Found:
    skip_any_of = schema.get("anyOf") == INT_OR_STRING
    all_of = schema.get("allOf") or []
    skip_first_all_of = (
        bool(all_of) and isinstance(all_of[0], Mapping) and all_of[0].get("anyOf") == INT_OR_STRING
    )
    for branch_path, branch in _junctor_branches(schema, path):
        if skip_any_of and branch_path.startswith(f"{path}.anyOf["):
            continue
        skip_nested = skip_first_all_of and branch_path == f"{path}.allOf[0]"
        yield from _nested(branch, branch_path, skip_nested)


def _nested(v: Schema, path: str, skip_any_of: bool) -> Found:
    for key in FORBIDDEN_IN_JUNCTOR:
        if _specified(v, key):
            yield f"{path}.{key}", "must be undefined to be structural"
    if isinstance(v.get("properties"), Mapping) and "metadata" in v["properties"]:
        yield f"{path}.properties[metadata]", "must not be specified in a nested context"
    for branch_path, branch in _junctor_branches(v, path):
        if skip_any_of and branch_path.startswith(f"{path}.anyOf["):
            continue
        yield from _nested(branch, branch_path, False)
    if isinstance(v.get("items"), Mapping):
        yield from _nested(v["items"], f"{path}.items", False)
    for name, sub in (v.get("properties") or {}).items():
        if isinstance(sub, Mapping):
            yield from _nested(sub, f"{path}.properties[{name}]", False)


@node_rule(
    "junctor-complete",
    "Every property and items a junctor names is also specified in the structural part at the same "
    "place. Upstream's walk starts from the root's junctors only; the structural-schema docs state "
    "the rule for every node, and so do we.",
    f"{COMPLETE} validateStructuralCompleteness, validateNestedValueValidationCompleteness; "
    f"{DOCS}#specifying-a-structural-schema",
)
def _junctor_complete(node: Node) -> Found:
    for branch_path, branch in _junctor_branches(node.schema, node.path):
        yield from _complete(branch, node.schema, node.path, branch_path)


def _complete(v: Schema, s: Schema | None, spath: str, vpath: str) -> Found:
    if s is None:
        yield spath, f"because it is defined in {vpath}"
        return
    for branch_path, branch in _junctor_branches(v, vpath):
        yield from _complete(branch, s, spath, branch_path)
    if isinstance(v.get("items"), Mapping):
        items = s.get("items")
        yield from _complete(
            v["items"], items if isinstance(items, Mapping) else None, f"{spath}.items", f"{vpath}.items"
        )
    declared = s.get("properties") or {}
    for name, sub in (v.get("properties") or {}).items():
        if name not in declared:
            yield f"{spath}.properties[{name}]", f"because it is defined in {vpath}.properties[{name}]"
        elif isinstance(sub, Mapping):
            yield from _complete(
                sub, declared[name], f"{spath}.properties[{name}]", f"{vpath}.properties[{name}]"
            )


# --- defaults ------------------------------------------------------------------------------


def _as_json_schema(s: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "default", "description", "format"):
            continue
        if key == "properties":
            out[key] = {name: _as_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, Mapping)):
            out[key] = _as_json_schema(value)
        elif key in JUNCTORS:
            out[key] = [_as_json_schema(b) for b in value]
        else:
            out[key] = value
    if s.get("format") in FORMATS:
        out["format"] = s["format"]
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper()


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _int_range(bits: int) -> Callable[[object], bool]:
    def fits(value: object) -> bool:
        return not isinstance(value, int) or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

    return fits


# The formats of strfmt.Default that a default here could plausibly carry.
FORMATS: dict[str, Callable[[object], bool]] = {
    "date-time": _date_time,
    "date": _date,
    "int32": _int_range(32),
    "int64": _int_range(64),
}
FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
for _name, _fn in FORMATS.items():
    FORMAT_CHECKER.checks(_name)(_fn)


@node_rule(
    "default-valid",
    "A default validates against its own node's schema: type, nullable, enum, pattern, "
    "min/max(Length, Items, Properties), required, junctors, and the formats date-time, date, "
    "int32, int64.",
    f"{DEFAULTS} ValidateDefaults",
)
def _default_valid(node: Node) -> Found:
    if "default" not in node.schema or node.in_type_meta:
        return
    validator = jsonschema.Draft202012Validator(_as_json_schema(node.schema), format_checker=FORMAT_CHECKER)
    for error in validator.iter_errors(node.schema["default"]):
        where = "".join(f"[{p}]" for p in error.absolute_path)
        yield f"{node.path}.default", f"{where or 'value'}: {error.message}"


@node_rule(
    "default-pruned",
    "A default holds no field the API server would prune (one its schema does not declare, outside "
    "x-kubernetes-preserve-unknown-fields).",
    f"{DEFAULTS} ValidateDefaults ('must not have unknown fields')",
)
def _default_pruned(node: Node) -> Found:
    if "default" in node.schema and not node.in_type_meta:
        for where in _unknown_fields(node.schema["default"], node.schema, ""):
            yield f"{node.path}.default", f"{where}: unknown field"


def _unknown_fields(value: Any, s: Schema, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        props = s.get("properties")
        extra = s.get("additionalProperties")
        for key, sub in value.items():
            if isinstance(props, Mapping) and key in props:
                yield from _unknown_fields(sub, props[key], f"{where}.{key}")
            elif isinstance(extra, Mapping):
                yield from _unknown_fields(sub, extra, f"{where}.{key}")
            elif not s.get("x-kubernetes-preserve-unknown-fields") and extra is not True:
                yield f"{where}.{key}"
    elif isinstance(value, list) and isinstance(s.get("items"), Mapping):
        for i, item in enumerate(value):
            yield from _unknown_fields(item, s["items"], f"{where}[{i}]")


# --- list and map topology -----------------------------------------------------------------


@node_rule(
    "list-type",
    "x-kubernetes-list-type is atomic, set or map, and only on type array.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _list_type(node: Node) -> Found:
    list_type = node.schema.get("x-kubernetes-list-type")
    if list_type is None:
        return
    if list_type not in ("atomic", "set", "map"):
        yield f"{node.path}.x-kubernetes-list-type", "must be atomic, set or map"
    if node.schema.get("type") != "array":
        yield f"{node.path}.type", "must be array if x-kubernetes-list-type is specified"


@node_rule(
    "list-map-keys",
    "x-kubernetes-list-map-keys comes with and only with x-kubernetes-list-type: map; a map list "
    "has object items and non-empty, unique keys naming scalar item properties.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _list_map_keys(node: Node) -> Found:
    s = node.schema
    keys = s.get("x-kubernetes-list-map-keys") or []
    if keys and s.get("x-kubernetes-list-type") != "map":
        yield f"{node.path}.x-kubernetes-list-type", "must be map if x-kubernetes-list-map-keys is non-empty"
    if s.get("x-kubernetes-list-type") != "map":
        return
    if not keys:
        yield f"{node.path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"
    items = s.get("items")
    if not isinstance(items, Mapping):
        yield f"{node.path}.items", "must have a single schema if x-kubernetes-list-type is map"
        return
    if items.get("type") != "object":
        yield f"{node.path}.items.type", "must be object if parent array's x-kubernetes-list-type is map"
        return
    props = items.get("properties") or {}
    for key in keys:
        if key not in props:
            yield (
                f"{node.path}.x-kubernetes-list-map-keys",
                f"{key}: entries must all be names of item properties",
            )
        elif props[key].get("type") in ("array", "object"):
            yield f"{node.path}.items.properties[{key}].type", "must be a scalar type"
    if len(set(keys)) != len(keys):
        yield f"{node.path}.x-kubernetes-list-map-keys", "must not contain duplicate entries"


@node_rule(
    "list-map-key-required",
    "Every x-kubernetes-list-map-keys property is required or has a default, and is not nullable.",
    f"{API} validateMapListKeysMapSet",
)
def _list_map_key_required(node: Node) -> Found:
    s = node.schema
    items = s.get("items")
    if s.get("x-kubernetes-list-type") != "map" or not isinstance(items, Mapping):
        return
    props = items.get("properties") or {}
    for key in s.get("x-kubernetes-list-map-keys") or []:
        if key not in props:
            continue
        if key not in (items.get("required") or []) and "default" not in props[key]:
            yield (
                f"{node.path}.items.properties[{key}].default",
                "must have a default or be a required property",
            )
        if props[key].get("nullable"):
            yield f"{node.path}.items.properties[{key}].nullable", "a list-map key cannot be nullable"


@node_rule(
    "list-items-not-nullable",
    "The items of a set or map list are not nullable.",
    f"{API} validateMapListKeysMapSet",
)
def _list_items_nullable(node: Node) -> Found:
    items = node.schema.get("items")
    set_or_map = node.schema.get("x-kubernetes-list-type") in ("set", "map")
    if set_or_map and isinstance(items, Mapping) and items.get("nullable"):
        yield f"{node.path}.items.nullable", "cannot be nullable in a set or map list"


@node_rule(
    "list-set-atomic-items",
    "The items of a set list are scalars or atomic: an array item has list-type atomic (or none), "
    "an object item has x-kubernetes-map-type: atomic.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema (requireAtomicSetType)",
)
def _list_set_atomic(node: Node) -> Found:
    items = node.schema.get("items")
    if node.schema.get("x-kubernetes-list-type") != "set" or not isinstance(items, Mapping):
        return
    if items.get("type") == "array" and items.get("x-kubernetes-list-type", "atomic") != "atomic":
        yield f"{node.path}.items.x-kubernetes-list-type", "must be atomic as item of a set"
    if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
        yield f"{node.path}.items.x-kubernetes-map-type", "must be atomic as item of a set"


@node_rule(
    "map-type",
    "x-kubernetes-map-type is atomic or granular, and only on type object.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _map_type(node: Node) -> Found:
    map_type = node.schema.get("x-kubernetes-map-type")
    if map_type is None:
        return
    if map_type not in ("atomic", "granular"):
        yield f"{node.path}.x-kubernetes-map-type", "must be atomic or granular"
    if node.schema.get("type") != "object":
        yield f"{node.path}.type", "must be object if x-kubernetes-map-type is specified"


# --- CEL validation rules ------------------------------------------------------------------

STRING_LITERAL = re.compile(
    r"(?s)[rRbB]?('''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")"
)
FIELD_PATH = re.compile(r"(?<![\w.])(self|oldSelf)((?:\.[A-Za-z_]\w*)*)(\s*\()?")
MACROS = re.compile(r"\.\s*(all|exists|exists_one|map|filter)\s*\(")
# MaxDatetimeSizeJSON and MaxDurationSizeJSON of k8s.io/apiserver pkg/cel: upstream's size for a
# string of these formats without maxLength.
SIZED_FORMATS: dict[Any, int] = {"date-time": 32, "duration": 32}
OWN_META = ("name", "generateName")
REASONS = {"FieldValueRequired", "FieldValueForbidden", "FieldValueInvalid", "FieldValueDuplicate"}


def _rules(node: Node) -> Iterator[tuple[str, Schema]]:
    for i, rule in enumerate(node.schema.get("x-kubernetes-validations") or []):
        if isinstance(rule, Mapping):
            yield f"{node.path}.x-kubernetes-validations[{i}]", rule


def _code(rule: Schema) -> str:
    """The rule with its string literals blanked, so that quoted text is not read as code."""
    return STRING_LITERAL.sub('""', str(rule.get("rule") or ""))


def _balanced(code: str) -> bool:
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in code:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and code.count('"') % 2 == 0 and code.count("'") % 2 == 0


def _reads(node: Node, rule: Schema) -> Iterator[tuple[str, Schema | None]]:
    """The schema nodes a rule reads via self.a.b (None: a field the schema does not have)."""
    for match in FIELD_PATH.finditer(_code(rule)):
        steps = [s for s in match.group(2).split(".") if s]
        if match.group(3) and steps:
            steps = steps[:-1]  # self.x.size(): the last step is a function, not a field
        target: Schema | None = node.schema
        for depth, step in enumerate(steps):
            assert target is not None
            props = target.get("properties")
            if node.level == "root" and depth == 1 and steps[0] == "metadata" and step in OWN_META:
                # CEL always sees these two at the root, typed as plain (unbounded) strings.
                target = (props or {}).get(step) or {"type": "string"}
                continue
            extra = target.get("additionalProperties")
            if isinstance(props, Mapping) and step in props:
                target = props[step]
            elif isinstance(extra, Mapping):
                target = extra
            elif target.get("x-kubernetes-preserve-unknown-fields"):
                break  # dynamic: nothing more is known about it
            else:
                target = None
                break
        yield ".".join([match.group(1), *steps]), target


def _unbounded(s: Schema, path: str) -> Iterator[str]:
    """Every string, list or map in s (s included) without maxLength, maxItems or maxProperties."""
    kind = s.get("type")
    if (
        kind == "string"
        and "maxLength" not in s
        and not s.get("enum")
        and s.get("format") not in SIZED_FORMATS
    ):
        yield path
    if kind == "array" and "maxItems" not in s:
        yield path
    is_map = "additionalProperties" in s or s.get("x-kubernetes-preserve-unknown-fields")
    if kind == "object" and is_map and "maxProperties" not in s:
        yield path
    for name, sub in (s.get("properties") or {}).items():
        yield from _unbounded(sub, f"{path}.{name}")
    if isinstance(s.get("items"), Mapping):
        yield from _unbounded(s["items"], f"{path}[]")
    if isinstance(s.get("additionalProperties"), Mapping):
        yield from _unbounded(s["additionalProperties"], f"{path}{{}}")


def _size(s: Schema) -> int:
    """Worst-case elements of a value of s, from its declared bounds (unbounded ones excluded)."""
    kind = s.get("type")
    if kind == "string":
        if "maxLength" in s:
            return int(s["maxLength"])
        if s.get("enum"):
            return max(len(str(e)) for e in s["enum"])
        return SIZED_FORMATS.get(s.get("format"), 0)
    if kind == "array":
        items = s.get("items")
        return int(s.get("maxItems") or 0) * (1 + (_size(items) if isinstance(items, Mapping) else 1))
    if kind == "object":
        extra = s.get("additionalProperties")
        if isinstance(extra, Mapping) or s.get("x-kubernetes-preserve-unknown-fields"):
            value = _size(extra) if isinstance(extra, Mapping) else 1
            return int(s.get("maxProperties") or 0) * (1 + value)
        return 1 + sum(_size(sub) for sub in (s.get("properties") or {}).values())
    return 1


def unbounded_reads(node: Node, rule: Schema) -> list[str]:
    """What keeps a rule's cost unbounded: an unbounded list or map above it, or one it reads."""
    if node.cardinality is None:
        return [f"{node.path}: under a list or map without maxItems/maxProperties"]
    found: list[str] = []
    for expression, target in _reads(node, rule):
        if target is not None:
            found += [f"{expression}{where}" for where in _unbounded(target, "")]
    return found


def estimated_cost(node: Node, rule: Schema) -> int | None:
    """Our estimate of a rule's cost; None when it is unbounded (see unbounded_reads).

    Upstream (getExpressionCost in API) runs cel-go's static estimator over the checked rule,
    with each string, list and map as large as its maxLength, maxItems or maxProperties, or,
    lacking one, as large as fits in a 3 MiB request (MaxRequestSizeBytes, k8s.io/apiserver
    pkg/apis/cel; a date-time or duration string is at most 32 long), and multiplies that by the
    node's MaxCardinality (the product of maxItems/maxProperties of the lists and maps above it,
    CEL_CONTEXT). Ours: a rule reading anything unbounded, or under an unbounded list or map, is
    refused outright; otherwise
        cost = cardinality x (elements the rule reads) ^ (number of comprehension macros, min 1).
    It refuses some rules upstream accepts (self.size() on an unbounded list costs O(1) there),
    and is no cost model of CEL's functions: a bounded rule can still cost more upstream.
    """
    if unbounded_reads(node, rule):
        return None
    assert node.cardinality is not None
    read = sum(_size(target) for _, target in _reads(node, rule) if target is not None)
    depth = max(1, len(MACROS.findall(_code(rule))))
    return int(node.cardinality * max(1, read) ** depth)


@node_rule(
    "cel-rule",
    "A rule is non-empty, looks compilable (brackets and quotes balanced) and every self.<field> "
    "it names is declared. The API server compiles and type-checks it; this is a stand-in.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema; {CEL_COMPILE} Compile",
)
def _cel_rule(node: Node) -> Found:
    for path, rule in _rules(node):
        text = rule.get("rule")
        if not isinstance(text, str) or not text.strip():
            yield f"{path}.rule", "rule is not specified"
            continue
        if not _balanced(_code(rule)):
            yield f"{path}.rule", "unbalanced brackets or quotes: does not compile"
        for expression, target in _reads(node, rule):
            if target is None:
                yield f"{path}.rule", f"{expression}: no such field in the schema"


@node_rule(
    "cel-message",
    "A rule's message, if set, is non-blank and one line; a multi-line rule has a message; "
    "messageExpression and fieldPath, if set, are non-blank (fieldPath one line).",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema",
)
def _cel_message(node: Node) -> Found:
    for path, rule in _rules(node):
        text = str(rule.get("rule") or "").strip()
        message = rule.get("message")
        if message is not None and not str(message).strip():
            yield f"{path}.message", "message must be non-empty if specified"
        elif message is not None and re.search(r"[\r\n]", str(message).strip()):
            yield f"{path}.message", "message must not contain line breaks"
        elif re.search(r"[\r\n]", text) and not str(message or "").strip():
            yield f"{path}.message", "message must be specified if rule contains line breaks"
        if "messageExpression" in rule and not str(rule["messageExpression"]).strip():
            yield f"{path}.messageExpression", "messageExpression must be non-empty if specified"
        if "fieldPath" in rule:
            field_path = str(rule["fieldPath"])
            if not field_path.strip() or re.search(r"[\r\n]", field_path):
                yield f"{path}.fieldPath", "fieldPath must be non-empty and one line"


@node_rule(
    "cel-reason",
    "A rule's reason, if set, is FieldValueRequired, FieldValueForbidden, FieldValueInvalid or "
    "FieldValueDuplicate.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema (supportedValidationReason)",
)
def _cel_reason(node: Node) -> Found:
    for path, rule in _rules(node):
        if "reason" in rule and rule["reason"] not in REASONS:
            yield f"{path}.reason", f"must be one of {sorted(REASONS)}"


@node_rule(
    "cel-cost",
    "A rule's estimated cost is within StaticEstimatedCostLimit (10^7): every string, list and map "
    "it reads (and all below them) has maxLength (or enum, or format date-time/duration), maxItems "
    "or maxProperties, and so do the lists and maps above its node. See estimated_cost for how the "
    "estimate relates to upstream's.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema, getExpressionCost; {CEL_CONTEXT} "
    f"extractMaxElements; {DOCS}#validation-rules",
)
def _cel_cost(node: Node) -> Found:
    for path, rule in _rules(node):
        cost = estimated_cost(node, rule)
        if cost is None:
            yield f"{path}.rule", f"unbounded: {', '.join(unbounded_reads(node, rule))}"
        elif cost > RULE_COST_LIMIT:
            yield f"{path}.rule", f"estimated rule cost {cost} exceeds budget {RULE_COST_LIMIT}"


@version_rule(
    "cel-cost-total",
    "The estimated costs of all rules of one schema add up to at most StaticEstimatedCRDCostLimit (10^8).",
    f"{API} validateCustomResourceDefinitionValidation (StaticEstimatedCRDCostLimit)",
)
def _cel_cost_total(version: Schema, vpath: str) -> Found:
    root = (version.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(root, Mapping):
        return
    path = f"{vpath}.schema.openAPIV3Schema"
    total = sum(estimated_cost(n, r) or 0 for n in walk(root, path) for _, r in _rules(n))
    if total > CRD_COST_LIMIT:
        yield path, f"estimated rule cost total {total} exceeds {CRD_COST_LIMIT}"


@node_rule(
    "cel-oldself-correlatable",
    "A rule using oldSelf sits where old and new values correlate: under no list other than a "
    "list-type map and no object with x-kubernetes-map-type: atomic; optionalOldSelf only with oldSelf.",
    f"{API} ValidateCustomResourceDefinitionOpenAPISchema (forbidOldSelfValidations); "
    f"{DOCS}#transition-rules",
)
def _cel_oldself(node: Node) -> Found:
    for path, rule in _rules(node):
        uses = bool(re.search(r"\boldSelf\b", _code(rule)))
        if uses and node.uncorrelatable:
            yield (
                f"{path}.rule",
                f"oldSelf cannot be used on the uncorrelatable portion within {node.uncorrelatable}",
            )
        if not uses and rule.get("optionalOldSelf") is not None:
            yield f"{path}.optionalOldSelf", "may not be set if oldSelf is not used in rule"


def describe() -> str:
    """The rules, one a line: id, statement, source."""
    return "\n".join(f"{r.id}: {r.statement} [{r.source}]" for r in RULES.values())
