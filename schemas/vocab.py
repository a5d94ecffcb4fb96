"""The words the whole product shares: categories, urgencies, skills, roles.

String enums so they travel as plain JSON strings and read well in the database.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    MEDICAL = "medical"  # illness, pain, breathing trouble
    HOSPITAL_TRANSPORT = "hospital_transport"  # someone needs driving to hospital
    FALL = "fall"  # a fall, cannot get up
    REPAIR = "repair"  # burst pipe, power, gas smell handled by property
    ERRAND = "errand"  # buy medicine, groceries, a SIM card
    CARRYING = "carrying"  # heavy things, a stretcher, a piano
    COMPANIONSHIP = "companionship"  # elder or child care, keeping company
    LOST_PERSON = "lost_person"  # a confused elder at the gate, a lost child
    TECH_HELP = "tech_help"  # phone, network, online class
    OTHER = "other"


class Urgency(StrEnum):
    CRITICAL = "critical"  # life or health at risk now
    URGENT = "urgent"  # within the hour
    NORMAL = "normal"  # today
    LOW = "low"  # when someone can


class Skill(StrEnum):
    DRIVING = "driving"  # a driver with a car: presence
    DOCTOR = "doctor"  # remote-capable
    NURSE = "nurse"  # remote-capable
    FIRST_AID = "first_aid"  # presence
    CARRYING = "carrying"  # presence
    ELDER_CARE = "elder_care"  # presence
    CHILD_CARE = "child_care"  # presence
    PLUMBING = "plumbing"  # presence
    ELECTRICAL = "electrical"  # presence
    ERRANDS = "errands"  # presence
    TECH_HELP = "tech_help"  # remote-capable
    LEGAL = "legal"  # remote-capable
    TRANSLATION = "translation"  # dialects such as Minnan: remote-capable
    GENERAL = "general"  # any willing neighbour: presence


# Skills that can help by phone from anywhere in the community.
REMOTE_CAPABLE_SKILLS: frozenset[Skill] = frozenset(
    {Skill.DOCTOR, Skill.NURSE, Skill.TECH_HELP, Skill.LEGAL, Skill.TRANSLATION}
)


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    PARTY_MEMBER = "party_member"  # 党员: expected to respond first ("亮身份")
    BUILDING_HEAD = "building_head"  # 楼长
    GRID_LEADER = "grid_leader"  # 网格长
    GRID_WORKER = "grid_worker"  # 网格员
    COMPOUND_PARTY_SECRETARY = "compound_party_secretary"  # 小区党支部书记
    COMMUNITY_STAFF = "community_staff"  # 社区工作人员 (on duty: whistle ring)
    PROPERTY_MANAGEMENT = "property_management"  # 物业
    CO_BUILDING_UNIT = "co_building_unit"  # 共建单位


class Ring(StrEnum):
    """Escalation rings, narrowest first."""

    PAIRED = "paired"  # 结对
    BUILDING = "building"
    COMPOUND = "compound"
    GRID = "grid"
    COMMUNITY = "community"
    WHISTLE = "whistle"  # staff on duty + broadcast to the community group
    EMERGENCY = "emergency"  # referral to 120/110/119


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"


class EmergencyNumber(StrEnum):
    AMBULANCE = "120"
    POLICE = "110"
    FIRE = "119"


class ReferralTarget(StrEnum):
    """Where a request can be handed on: emergency numbers or property management."""

    AMBULANCE = "120"
    POLICE = "110"
    FIRE = "119"
    PROPERTY = "property"  # 物业
    DEPARTMENT = "department"  # a named department (街道, 城管, 供水…): staff hand it on


# Referred to 120/110/119, a request keeps the neighbours assigned to it: someone who has
# fallen is helped until the professionals arrive (the core's `ladder.keeps_assigned`; the
# accepted helper's page keeps showing the contact: `record/read/requests.private_details`).
# Referred to property or a department, they are released.
EMERGENCY_SERVICES: frozenset[ReferralTarget] = frozenset(
    {ReferralTarget.AMBULANCE, ReferralTarget.POLICE, ReferralTarget.FIRE}
)


class Party(StrEnum):
    """Who issued a cancel or resolve."""

    REQUESTER = "requester"
    HELPER = "helper"
    STAFF = "staff"
    SYSTEM = "system"  # the core itself, e.g. closing at the end of a request's lifetime
