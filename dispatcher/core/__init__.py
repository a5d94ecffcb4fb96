"""The pure dispatch core: places and rings, the helper index, ranking, the escalation
ladder and the request state machine. Standard library and `schemas` only; time comes
in as `now`.

Public API::

    state = DispatchState.rebuild(helpers, requests)      # from stored records
    decision = decide(state, command, now)                # pure: state is not touched
    apply(state, decision)                                # store records, update index
    state.deadlines()                                     # (request, step, due) for a timer
"""

from dispatcher.core.decide import decide
from dispatcher.core.state import Deadline, Decision, DispatchState, apply

__all__ = ["Deadline", "Decision", "DispatchState", "apply", "decide"]
