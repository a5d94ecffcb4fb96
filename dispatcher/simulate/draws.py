"""Common random numbers: every random choice about a request or a helper comes from a
hash of (seed, what it is about), never from a shared stream. So a helper offered the
same request under two policies draws the same numbers, and one policy's extra offer
never shifts another's draws: policies differ by what they do, not by luck."""

from __future__ import annotations

import hashlib
import math
from statistics import NormalDist

_NORMAL = NormalDist()
_SCALE = float(1 << 53)


class Draws:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def uniforms(self, *key: object, n: int = 3) -> tuple[float, ...]:
        """`n` (at most 4) independent uniforms in (0, 1) for this key."""
        text = "|".join([str(self.seed), *map(str, key)]).encode()
        digest = hashlib.blake2b(text, digest_size=32).digest()
        out = []
        for i in range(n):
            bits = int.from_bytes(digest[8 * i : 8 * i + 8], "big") >> 11
            out.append((bits + 0.5) / _SCALE)
        return tuple(out)

    def normal(self, *key: object) -> float:
        (u,) = self.uniforms(*key, n=1)
        return _NORMAL.inv_cdf(u)


def lognormal(median: float, sigma: float, z: float) -> float:
    """A lognormal value with this median, from a standard normal draw `z`."""
    return median * math.exp(sigma * z)
