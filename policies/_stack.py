"""Policy plumbing for the vllm-eks policy pack: the stack as a graph, findings, and the policy factories.

A check is a plain function; `resource_policy` / `stack_policy` wrap it into a pulumi_policy policy that turns
its findings into violations, or into "not applicable" when only unknown values stood in the way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy

from _values import as_list, is_unknown, plain

# What mocks and providers append to a resource name to form its id: "-id", "_arn", "-1a2b3c4d-id", "-1a2b3c4d".
_ID_SUFFIX = re.compile(r"(?:[-_][0-9a-f]{4,})?(?:[-_:.]?(?:id|arn|name))?(?:[-_][0-9a-f]{4,})?")


class StackView:
    """Stack resources with plain props, indexed by URN and type, plus reference resolution between them."""

    def __init__(self, resources: Sequence[Any]):
        self.resources = list(resources)
        self.props: dict[str, dict] = {}
        self.by_urn: dict[str, Any] = {}
        for r in self.resources:
            self.by_urn[r.urn] = r
            try:
                self.props[r.urn] = plain(r.props)
            except Exception:  # pragma: no cover - a prop we cannot unwrap: judge it as unknown
                self.props[r.urn] = {}

    def of_type(self, *types: str) -> list[Any]:
        return [r for r in self.resources if r.resource_type in types]

    def p(self, resource: Any) -> dict:
        return self.props.get(resource.urn, {})

    @staticmethod
    def parent_urn(resource: Any) -> Optional[str]:
        # The engine registers a resource only once its parent is registered (pulumi/pulumi step_generator.go
        # checkParent) and AnalyzeStack sends every resource of the deployment, so pulumi-policy links each to its
        # parent: `resource.parent` is None only for a resource without one.
        return resource.parent.urn if resource.parent is not None else None

    def identity_strings(self, resource: Any) -> set[str]:
        props = self.p(resource)
        ids = {resource.name}
        for key in ("name", "bucket", "arn", "id", "roleName"):
            value = props.get(key)
            if isinstance(value, str) and not is_unknown(value) and value:
                ids.add(value)
        return ids

    def refers_to(self, source: Any, prop: str, value: Any, target: Any) -> bool:
        """Does `source.<prop>` (whose value is `value`) point at `target`?

        Evidence, strongest first: the engine's property dependencies; the value equals the target's name/ARN/
        explicit physical name; the value is the target's resource name plus an id suffix (what mocks return).
        """
        deps = getattr(source, "property_dependencies", None) or {}
        if any(d.urn == target.urn for d in deps.get(prop, [])):
            return True
        values = [v for v in as_list(value) if isinstance(v, str) and not is_unknown(v)]
        ids = self.identity_strings(target)
        for v in values:
            if v in ids:
                return True
            for ident in ids:
                if ident and ("arn:aws:iam::" in v and v.endswith("/" + ident)):
                    return True
            if v.startswith(target.name) and _ID_SUFFIX.fullmatch(v[len(target.name):]):
                return True
        return False

    def resolve(self, source: Any, prop: str, candidates: Iterable[Any]) -> list[Any]:
        value = self.p(source).get(prop)
        return [c for c in candidates if self.refers_to(source, prop, value, c)]

    def siblings(self, resource: Any, candidates: Iterable[Any]) -> list[Any]:
        parent = self.parent_urn(resource)
        if not parent or "::pulumi:pulumi:Stack::" in parent:  # the Stack's URN: the root, no component
            return []
        return [c for c in candidates if self.parent_urn(c) == parent or c.urn == parent]

    def related(self, source: Any, prop: str, targets: list[Any]) -> list[Any]:
        """Targets `source.<prop>` refers to; falls back to parent/sibling structure when ids are not visible."""
        found = self.resolve(source, prop, targets)
        if found:
            return found
        value = self.p(source).get(prop)
        if isinstance(value, str) and not is_unknown(value) and value.startswith("arn:"):
            return []  # a concrete ARN that matches nothing here (e.g. an AWS-managed policy)
        # A child of the target, or the only target beside it under the same component.
        parents = [t for t in targets if self.parent_urn(source) == t.urn]
        if parents:
            return parents
        siblings = self.siblings(source, targets)
        return siblings if len(siblings) == 1 else []


# ---------------------------------------------------------------------------------------------------------------
# Findings, and checks wrapped into policies
# ---------------------------------------------------------------------------------------------------------------

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


class Findings:
    """Violations found by one policy run, plus the places it could not judge because a value was unknown."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, Optional[str]]] = []
        self.unknown: list[str] = []
        self.outside: list[str] = []

    def fail(self, message: str, urn: Optional[str] = None) -> None:
        self.violations.append((message, urn))

    def cannot_judge(self, where: str) -> None:
        self.unknown.append(where)

    def outside_stack(self, what: str) -> None:
        """What the policy would judge lives outside this stack (a program on an existing cluster or VPC)."""
        self.outside.append(what)


def describe(resource: Any) -> str:
    return f"{resource.resource_type} '{resource.name}'"


# Every policy accepts `reason` beside its enforcement level: a stack's policy config (policies/config/<stack>.json)
# that lowers a policy says why, and `preflight check` prints it. Declared in each schema so the CLI's validation
# (pkg/resource/analyzer/config.go validatePolicyPackConfig) checks it is a string.
REASON = {"type": "string", "default": "", "description": "Why this stack's policy config lowers the policy's enforcement level."}


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**properties, "reason": REASON})


def config_value(args: Any, schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value, falling back to the schema default (the engine normally sends defaults itself)."""
    config = {}
    try:
        config = args.get_config() or {}
    except Exception:  # pragma: no cover - defensive, get_config never raises in 1.x
        config = {}
    if key in config and config[key] is not None:
        return config[key]
    return schema.properties.get(key, {}).get("default")


def _strict() -> bool:
    """VLLM_EKS_POLICY_STRICT=1 (the tests) lets a policy that raises fail loudly instead of going "not applicable"."""
    return os.environ.get("VLLM_EKS_POLICY_STRICT") == "1"


def _validator(evaluate, config_schema: PolicyConfigSchema, subject: str):
    """A pulumi_policy validate callback: run `evaluate(args, config, findings)`, report what it found."""

    def validate(args, report_violation):
        findings = Findings()
        try:
            config = {k: config_value(args, config_schema, k) for k in config_schema.properties}
            evaluate(args, config, findings)
        except Exception as error:  # never let one policy break the pack during a preview
            if _strict():
                raise
            args.not_applicable(f"policy could not evaluate {subject}: {error!r}")
            return
        for message, urn in findings.violations:
            report_violation(message, urn)
        if findings.violations:
            return  # a violation is the verdict: what could not be judged besides it changes nothing
        if findings.unknown:
            args.not_applicable("unknown during preview: " + ", ".join(sorted(set(findings.unknown))))
        elif findings.outside:
            args.not_applicable("not in this stack, judge it where it is created: " + ", ".join(sorted(set(findings.outside))))

    return validate


def resource_policy(*, name: str, description: str, enforcement_level: EnforcementLevel, check,
                    config: Optional[dict] = None) -> ResourceValidationPolicy:
    """A resource policy from `check(resource_type, props, config, findings, args)`; `config` maps each config key
    to its JSON schema (with a default)."""

    def evaluate(args, values, findings):
        check(args.resource_type, plain(args.props), values, findings, args)

    config_schema = schema(**(config or {}))
    return ResourceValidationPolicy(
        name=name, description=description, enforcement_level=enforcement_level, config_schema=config_schema,
        validate=_validator(evaluate, config_schema, "this resource"))


def stack_policy(*, name: str, description: str, enforcement_level: EnforcementLevel, check,
                 config: Optional[dict] = None) -> StackValidationPolicy:
    """A stack policy from `check(stack_view, config, findings, args)`."""

    def evaluate(args, values, findings):
        check(StackView(args.resources), values, findings, args)

    config_schema = schema(**(config or {}))
    return StackValidationPolicy(
        name=name, description=description, enforcement_level=enforcement_level, config_schema=config_schema,
        validate=_validator(evaluate, config_schema, "the stack"))
