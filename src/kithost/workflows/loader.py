"""Read a workflows folder: Agent Builder exports (``*.py``) and declarative files (``*.yaml``).

Versions: a file ``name@VERSION.py`` is version ``VERSION`` of the id it names; a file with no
``@`` is version ``1``. A YAML file states its own ``version``. The newest version (natural
order: ``2`` < ``10``) is what a session without a version gets, as hosted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from kithost.workflows.agent_services import AgentServices
from kithost.workflows.findings import export_findings, model_findings
from kithost.workflows.registry import WorkflowVersion
from kithost.workflows.sources.agent_builder import (
    AgentBuilderWorkflow,
    WorkflowFileError,
    find_workflow_id,
    load_module,
)
from kithost.workflows.sources.declarative import DeclarativeWorkflow, load_spec
from kithost.workflows.starter_prompts import starter_prompts

log = logging.getLogger("kithost.workflows")

DEFAULT_VERSION = "1"


@dataclass
class LoadResult:
    versions: list[WorkflowVersion] = field(default_factory=list)
    problems: list[WorkflowFileError] = field(default_factory=list)


def version_from_filename(path: Path) -> str:
    _, sep, version = path.stem.rpartition("@")
    return version if sep and version else DEFAULT_VERSION


def load_folder(folder: Path, agents: AgentServices, *, log_problems: bool = True) -> LoadResult:
    """Load every workflow file in ``folder``; a bad file is a problem, not a crash."""
    result = LoadResult()
    if not folder.is_dir():
        return result
    seen: dict[tuple[str, str], Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue
        try:
            if path.suffix == ".py":
                version = _load_export(path, agents)
            elif path.suffix in (".yaml", ".yml"):
                version = _load_declarative(path, agents)
            else:
                continue
        except WorkflowFileError as error:
            result.problems.append(error)
            continue
        key = (version.id, version.version)
        if key in seen:
            result.problems.append(
                WorkflowFileError(
                    path, f"{version.id} version {version.version} is also defined by {seen[key]}"
                )
            )
            continue
        seen[key] = path
        result.versions.append(version)
    for problem in result.problems if log_problems else ():
        log.warning("workflow skipped: %s", problem)
    return result


def _load_export(path: Path, agents: AgentServices) -> WorkflowVersion:
    source = path.read_text(encoding="utf-8")
    workflow_id = find_workflow_id(path, source)
    version = version_from_filename(path)
    module = load_module(path, workflow_id, version, agents.export_environment)
    return WorkflowVersion(
        id=workflow_id,
        version=version,
        name=path.stem.partition("@")[0],
        source="agent_builder",
        runnable=AgentBuilderWorkflow(path=path, module=module, agents=agents),
        description=f"Agent Builder export {path.name}",
        findings=export_findings(module, agents),
    )


def _load_declarative(path: Path, agents: AgentServices) -> WorkflowVersion:
    spec, _line = load_spec(path)
    workflow = DeclarativeWorkflow(spec=spec, agents=agents)
    tools = agents.hosted_tools.findings([workflow.agent({})])  # file_search: FileSearchTool
    return WorkflowVersion(
        id=spec.id,
        version=spec.version,
        name=spec.name or path.stem,
        source="declarative",
        runnable=workflow,
        description=f"declarative workflow {path.name}",
        starter_prompts=starter_prompts(spec.starter_prompts),
        retention_days=spec.retention_days,
        findings=(*tools, *model_findings([spec.model], agents.provider.config)),
    )
