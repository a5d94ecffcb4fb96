"""What a language model's answer may change in the rules' answer: it may only raise.

The optional language-model backend (`dispatcher/api/llm_classifier.py`) asks an
OpenAI-compatible service for the same fields the rules produce. Its answer is not
measured like the rules', and a model can be talked into anything, so:

- a red flag (the rules advised a call) stands exactly as it is;
- otherwise it may turn a non-request into a request, raise urgency, add skills, and
  advise a call — with our own vetted advice for that number, never the model's text;
- in a kind whose urgency is about time, not life (`CategoryEntry.time_not_life`: tech
  help, an errand, carrying, a repair), by the rules' reading and the model's, it raises
  urgency to critical only together with a call it advises (a number): critical makes a
  request life-threatening (told to call 120), so there "critical, no call" is urgent.
  Where either reads another kind (medical, a fall, a hospital run, a lost person,
  company, which holds welfare checks on an elder alone, other) its critical stands,
  life-threatening, told to call the kind's number: a needless call is the safe mistake,
  a missed one is not;
- it never lowers urgency, drops a skill, or turns a request into a non-request.
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatcher.classify import lexicon as lx
from dispatcher.classify.model import Classification
from schemas.catalogue import entry
from schemas.vocab import Category, EmergencyNumber, Skill, Urgency

_E = TypeVar("_E", Category, Skill)
_RANK: Final = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.URGENT: 2, Urgency.CRITICAL: 3}
MAX_REASON: Final = 500
# The advice we send for a number the model asked for (our texts, not the model's).
_ADVICE: Final = {
    EmergencyNumber.AMBULANCE: lx.EMERGENCIES["medical"].advice,
    EmergencyNumber.FIRE: lx.EMERGENCIES["fire"].advice,
    EmergencyNumber.POLICE: lx.EMERGENCIES["crime"].advice,
}


class LlmAnswer(BaseModel):
    """The fields asked of the model (JSON), read field by field. The verdict
    (`is_request`, `urgency`, `advise_emergency_call`, `emergency_number`) must be readable
    or the whole answer is refused (the rules' answer stands); what is safe to coerce is:
    enum spellings ("Critical"), a number as a JSON number (120), and the side fields —
    an unknown category is none, unknown skills are dropped, a long reason is cut. Before,
    one bad side field threw away a model's 120 verdict. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    is_request: bool
    category: Category | None = None
    urgency: Urgency = Urgency.LOW
    skills: tuple[Skill, ...] = ()
    advise_emergency_call: bool = False
    emergency_number: EmergencyNumber | None = None
    reason: str | None = Field(default=None, max_length=MAX_REASON)

    @field_validator("urgency", mode="before")
    @classmethod
    def _urgency(cls, value: Any) -> Any:
        return _folded(value)

    @field_validator("emergency_number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # 120 as a JSON number; a number we do not know is refused
        return value.strip() if isinstance(value, str) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Category | None:
        return _known(Category, value)

    @field_validator("skills", mode="before")
    @classmethod
    def _skills(cls, value: Any) -> tuple[Skill, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return ()
        known = (_known(Skill, item) for item in items)
        return tuple(dict.fromkeys(s for s in known if s is not None))

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> str | None:
        return value[:MAX_REASON] if isinstance(value, str) else None


def _folded(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _known(enum: type[_E], value: Any) -> _E | None:
    """The member `value` names (any case), or None for anything else."""
    try:
        return enum(_folded(value))
    except (ValueError, TypeError):
        return None


def disagreements(rules: Classification, llm: LlmAnswer) -> list[str]:
    """Fields on which the model and the rules differ (for a metric)."""
    fields = []
    if rules.is_request != llm.is_request:
        fields.append("is_request")
    if rules.is_request and llm.is_request:
        if rules.urgency != llm.urgency:
            fields.append("urgency")
        if rules.category != llm.category:
            fields.append("category")
    if rules.advise_emergency_call != llm.advise_emergency_call:
        fields.append("advise_emergency_call")
    return fields


def _advises_call(llm: LlmAnswer) -> bool:
    """Whether the model advised a call we can give (a number we know)."""
    return llm.advise_emergency_call and llm.emergency_number is not None


def merge_llm(rules: Classification, llm: LlmAnswer) -> Classification:
    if rules.advise_emergency_call:
        return rules  # a red flag is never argued with
    if not (rules.is_request or llm.is_request):
        return rules
    reasons = list(rules.reasons)
    update: dict[str, object] = {}
    kind = rules.category if rules.is_request else llm.category or Category.OTHER
    if not rules.is_request:
        update["is_request"] = True
        update["category"] = kind
        reasons.append("llm:is_request")
    urgency = rules.urgency if rules.is_request else Urgency.LOW
    raised = llm.urgency
    # Both the request's kind and the model's own (it may read "胸口疼" in a tech-help
    # message): a kind where critical means life, in either reading, is not capped.
    kinds = [k for k in (kind, llm.category) if k is not None]
    everyday = bool(kinds) and all(entry(k).time_not_life for k in kinds)
    if raised is Urgency.CRITICAL and not _advises_call(llm) and everyday:
        # Critical makes a request life-threatening (told to call 120, its allowance and
        # pushes too): in an everyday kind the model's word alone may do that only with a
        # call it advises ("电脑中病毒了…急！" is not an emergency).
        raised = Urgency.URGENT
    if _RANK[raised] > _RANK[urgency]:
        urgency = raised
        reasons.append(f"llm:urgency:{raised.value}")
    skills = tuple(dict.fromkeys((*rules.skills, *llm.skills))) or (Skill.GENERAL,)
    if len(skills) > 1:
        skills = tuple(s for s in skills if s is not Skill.GENERAL)
    if llm.advise_emergency_call and llm.emergency_number is not None:
        urgency = Urgency.CRITICAL
        update.update(
            advise_emergency_call=True,
            emergency_number=llm.emergency_number,
            advice=_ADVICE[llm.emergency_number],
        )
        reasons.append(f"llm:advise:{llm.emergency_number.value}")
    update.update(urgency=urgency, skills=skills, reasons=tuple(reasons))
    return Classification.model_validate({**rules.model_dump(), **update})
