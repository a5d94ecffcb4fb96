"""A community's party-first setting: party members ranked first within each ring by
default, or for some categories only (a request may still ask with `prefer_party_member`)."""

from __future__ import annotations

from schemas._base import Wire
from schemas.vocab import Category


class PartyFirst(Wire):
    default: bool = False  # every request of the community
    categories: tuple[Category, ...] = ()  # these categories (when not the default)

    def applies(self, category: Category) -> bool:
        return self.default or category in self.categories
