"""One what-if: a roster, a request stream, several policies, the same draws for all."""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatcher.simulate.behaviour import Behaviour
from dispatcher.simulate.draws import Draws
from dispatcher.simulate.engine import Simulation
from dispatcher.simulate.metrics import goal_check, summarise
from dispatcher.simulate.outcomes import Run
from dispatcher.simulate.policies import Plans
from dispatcher.simulate.world import Arrival, arrivals, demo_roster
from schemas.helpers import HelperProfile


@dataclass
class Scenario:
    helpers: Sequence[HelperProfile]
    arrivals: Sequence[Arrival]
    behaviour: Behaviour
    seed: int
    start: datetime
    days: int

    @classmethod
    def demo(cls, *, behaviour: Behaviour, seed: int, start: datetime, days: int) -> Scenario:
        draws = Draws(seed)
        helpers = demo_roster(behaviour, draws)
        stream = arrivals(helpers, behaviour, start=start, days=days, seed=seed)
        return cls(helpers, stream, behaviour, seed, start, days)

    def run(self, name: str, plans: Plans, *, trace: bool = False) -> Run:
        return Simulation(
            policy=name,
            plans=plans,
            helpers=self.helpers,
            arrivals=self.arrivals,
            behaviour=self.behaviour,
            draws=Draws(self.seed),
            start=self.start,
            days=self.days,
            trace=trace,
        ).run()

    def compare(
        self, policies: Mapping[str, Plans], *, jobs: int = 1
    ) -> tuple[dict[str, Any], dict[str, Run]]:
        """The JSON-ready result (deterministic for the seed, whatever `jobs`) and each
        policy's run. Policies are independent, so `jobs` > 1 runs them in parallel
        processes."""
        if jobs > 1 and len(policies) > 1:
            context = multiprocessing.get_context("fork")  # the scenario is inherited
            with ProcessPoolExecutor(min(jobs, len(policies)), mp_context=context) as pool:
                futures = {
                    name: pool.submit(self.run, name, plans) for name, plans in policies.items()
                }
                runs = {name: future.result() for name, future in futures.items()}
        else:
            runs = {name: self.run(name, plans) for name, plans in policies.items()}
        summaries = {name: summarise(run) for name, run in runs.items()}
        urgencies = [a.spec.urgency.value for a in self.arrivals]
        result: dict[str, Any] = {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "helpers": len(self.helpers),
            "requests": len(self.arrivals),
            "requests_by_urgency": {u: urgencies.count(u) for u in sorted(set(urgencies))},
            "policies": summaries,
            "goal": goal_check(summaries),
        }
        return result, runs
