"""The editing tasks, one module each, and the registry that names them all (registry.py).

A task module declares everything the engine knows about its task in one `TaskSpec`: the
request dataclass (whose `wire` fields give the server's schema and the CLI's arguments),
the tuned default settings, the planner with its energy, and a one-line summary.
"""

# the registry stamps each request type with its `Task`: importing any task module brings it
from diffeditor_app.engine.tasks.registry import TASKS, Task, request_for, spec_of

__all__ = ["TASKS", "Task", "request_for", "spec_of"]
