"""`preflight check`'s verdict: the pack over a first preview, over the applied stack, and the offline-only checks.

- first preview: what `pulumi preview --policy-pack policies` reports on a new stack (unknowns where the engine has
  them, remote components as `{}`); a policy that meets an unknown answers "not applicable", so checks that depend
  on computed values are made by the real CLI only during `pulumi up`;
- applied: every value known, as `pulumi up` analyses each resource and as every later preview sees the stack;
- offline only: remote components judged on the program's own inputs (`preflight.remote_components`), violations
  the engine-faithful passes cannot see. The real gate judges the AWS resources the provider registers instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from preflight.engine import CheckResult, PolicyPackSession, format_report, result_to_json
from preflight.remote_components import offline_only_snapshot

TITLES = {
    "firstPreview": "First preview (what `pulumi preview --policy-pack policies` reports on a new stack)",
    "applied": "Applied stack (values known: what `pulumi up` and every later preview judge)",
    "offlineOnly": "Offline only: remote components judged on the program's own inputs (a real preview shows {})",
}


@dataclass
class GateResult:
    stack: str
    checks: dict[str, CheckResult] = field(default_factory=dict)

    @property
    def mandatory_count(self) -> int:
        return sum(result.mandatory_count for result in self.checks.values())

    @property
    def passed(self) -> bool:
        return self.mandatory_count == 0


def _key(violation) -> tuple:
    return violation.policy_name, violation.urn, violation.message


def _offline_only(session: PolicyPackSession, applied: dict, applied_result: CheckResult,
                  policy_config: Optional[dict]) -> Optional[CheckResult]:
    variant = offline_only_snapshot(applied)
    if variant is None:
        return None
    remote = {r["urn"] for r in variant["resources"] if r.get("remote")}
    result = session.check(variant, policy_config, analyze_only=remote)  # other resources are as in `applied`
    seen = {_key(v) for v in applied_result.violations}
    result.violations = [v for v in result.violations if _key(v) not in seen]
    result.not_applicable = []
    return result


def run_gate(session: PolicyPackSession, *, preview: Optional[dict] = None, applied: Optional[dict] = None,
             policy_config: Optional[dict] = None, applied_session: Optional[PolicyPackSession] = None) -> GateResult:
    """Check the snapshots given (a first-preview render, an applied render, or both). The CLI starts the pack
    afresh for `pulumi up` (PULUMI_DRY_RUN=false): pass that one as `applied_session`; by default one pack serves."""
    stack = (preview or applied or {}).get("stack", session.stack)
    gate = GateResult(stack=stack)
    if preview is not None:
        gate.checks["firstPreview"] = session.check(preview, policy_config)
    if applied is not None:
        up = applied_session or session
        gate.checks["applied"] = up.check(applied, policy_config)
        extra = _offline_only(up, applied, gate.checks["applied"], policy_config)
        if extra is not None:
            gate.checks["offlineOnly"] = extra
    return gate


def format_gate(gate: GateResult) -> str:
    sections = []
    for key, result in gate.checks.items():
        report = format_report(result)
        if key == "firstPreview":
            deferred = sorted({item["policy"] for item in result.not_applicable
                               if item["reason"].startswith("unknown during preview")})
            if deferred:
                report += ("\n    judged only during `pulumi up` by the real CLI (values unknown at preview): "
                           + ", ".join(deferred))
        sections.append(f"== {TITLES[key]} ==\n{report}")
    verdict = "passed" if gate.passed else f"FAILED: {gate.mandatory_count} mandatory violation(s)"
    sections.append(f"Gate for stack {gate.stack}: {verdict}")
    return "\n\n".join(sections)


def gate_to_json(gate: GateResult) -> dict:
    return {"stack": gate.stack, "mandatoryCount": gate.mandatory_count, "passed": gate.passed,
            "checks": {key: result_to_json(result) for key, result in gate.checks.items()}}
