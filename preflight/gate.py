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


def offline_only_check(session: PolicyPackSession, applied: dict,
                       policy_config: Optional[dict]) -> Optional[CheckResult]:
    """The offline-only pass over an applied snapshot, as the pack reports it; None without remote components.
    `without_applied` then leaves out what the applied pass reported already."""
    variant = offline_only_snapshot(applied)
    if variant is None:
        return None
    remote = {r["urn"] for r in variant["resources"] if r.get("remote")}
    return session.check(variant, policy_config, analyze_only=remote)  # other resources are as in `applied`


def without_applied(result: CheckResult, applied_result: CheckResult) -> CheckResult:
    seen = {_key(v) for v in applied_result.violations}
    result.violations = [v for v in result.violations if _key(v) not in seen]
    result.not_applicable = []
    return result


def gate_of(stack: str, first_preview: Optional[CheckResult] = None, applied: Optional[CheckResult] = None,
            offline_only: Optional[CheckResult] = None) -> GateResult:
    """The verdict from the passes' results (the offline-only one as `offline_only_check` returned it)."""
    gate = GateResult(stack=stack)
    if first_preview is not None:
        gate.checks["firstPreview"] = first_preview
    if applied is not None:
        gate.checks["applied"] = applied
        if offline_only is not None:
            gate.checks["offlineOnly"] = without_applied(offline_only, applied)
    return gate


def run_gate(session: PolicyPackSession, *, preview: Optional[dict] = None, applied: Optional[dict] = None,
             policy_config: Optional[dict] = None, applied_session: Optional[PolicyPackSession] = None) -> GateResult:
    """Check the snapshots given (a first-preview render, an applied render, or both). The CLI starts the pack
    afresh for `pulumi up` (PULUMI_DRY_RUN=false): pass that one as `applied_session`; by default one pack serves."""
    stack = (preview or applied or {}).get("stack", session.stack)
    first_preview = session.check(preview, policy_config) if preview is not None else None
    applied_result = offline = None
    if applied is not None:
        up = applied_session or session
        applied_result = up.check(applied, policy_config)
        offline = offline_only_check(up, applied, policy_config)
    return gate_of(stack, first_preview, applied_result, offline)


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
