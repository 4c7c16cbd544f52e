"""Per-environment random streams for compiled kernels: xoshiro256** seeded by SplitMix64.

A stream is a ``(STATE_WORDS,)`` uint64 array owned by one environment; every draw advances it in place, so
a path depends only on the stream's seed (not on threads, batch position or what other environments draw).

* :func:`seed_stream`: SplitMix64 (Steele, Lea & Flood 2014) expands a 64-bit key into the four state words,
  ``z <- z + 0x9E3779B97F4A7C15; x = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; x = (x ^ (x >> 27)) *
  0x94D049BB133111EB; word = x ^ (x >> 31)``; the state is never all zero.
* :func:`next_u64`: xoshiro256** (Blackman & Vigna 2018), period ``2^256 - 1``:
  ``out = rotl(s1 * 5, 7) * 9``, then ``t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
  s3 = rotl(s3, 45)``.
* :func:`uniform`: ``(out >> 11) * 2^-53``, uniform on the 2^53 doubles ``k / 2^53`` of ``[0, 1)``.
* :func:`normal_pair`: two independent N(0, 1) draws by Marsaglia's polar method: ``u, v ~ U(-1, 1)``
  until ``0 < s = u^2 + v^2 < 1``, then ``(u, v) * sqrt(-2 ln s / s)``.
* :func:`student_t`: one Student-t(``dof``) draw by Bailey's polar method (Math. Comp. 62, 1994): ``u, v`` as
  above until ``0 < w = u^2 + v^2 < 1``, then ``u * sqrt(dof * (w^(-2/dof) - 1) / w)``, with
  ``w^(-2/dof) - 1`` computed as ``expm1(-2 ln(w) / dof)`` so that a large ``dof`` tends to the normal.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from wealtharena_env.kernels import STEP_KERNEL_OPTIONS

#: uint64 words of one stream's state
STATE_WORDS = 4

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


@njit(inline="always", **STEP_KERNEL_OPTIONS)
def _rotl(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def seed_stream(key: np.uint64, state_out: np.ndarray) -> None:
    """Fill ``state_out`` (STATE_WORDS,) uint64 with the next four SplitMix64 outputs after ``key``."""
    z = np.uint64(key)
    for j in range(STATE_WORDS):
        z = z + _GOLDEN_GAMMA
        x = (z ^ (z >> np.uint64(30))) * _MIX_1
        x = (x ^ (x >> np.uint64(27))) * _MIX_2
        state_out[j] = x ^ (x >> np.uint64(31))


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def next_u64(state: np.ndarray) -> np.uint64:
    """The next xoshiro256** output of ``state`` (advanced in place)."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = _rotl(s3, 45)
    return result


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def uniform(state: np.ndarray) -> float:
    """A U[0, 1) draw: the top 53 bits of :func:`next_u64` times ``2^-53``."""
    return float(next_u64(state) >> np.uint64(11)) * _TWO_POW_MINUS_53


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def normal_pair(state: np.ndarray) -> tuple[float, float]:
    """Two independent N(0, 1) draws (Marsaglia's polar method)."""
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        s = u * u + v * v
        if 0.0 < s < 1.0:
            factor = np.sqrt(-2.0 * np.log(s) / s)
            return u * factor, v * factor


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def student_t(state: np.ndarray, dof: float) -> float:
    """One Student-t draw with ``dof`` degrees of freedom (Bailey's polar method)."""
    while True:
        u = 2.0 * uniform(state) - 1.0
        v = 2.0 * uniform(state) - 1.0
        w = u * u + v * v
        if 0.0 < w < 1.0:
            return u * np.sqrt(dof * np.expm1(-2.0 * np.log(w) / dof) / w)


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def fill_uniform(state: np.ndarray, out: np.ndarray) -> None:
    """``out[k] = uniform(state)`` in order (a 1-D float64 array)."""
    for k in range(out.shape[0]):
        out[k] = uniform(state)


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def fill_normal(state: np.ndarray, out: np.ndarray) -> None:
    """N(0, 1) draws into ``out`` (1-D float64), two per :func:`normal_pair` (the last pair's second draw is
    dropped when the length is odd)."""
    n = out.shape[0]
    for k in range(0, n, 2):
        a, b = normal_pair(state)
        out[k] = a
        if k + 1 < n:
            out[k + 1] = b


@njit(nogil=True, **STEP_KERNEL_OPTIONS)
def fill_student_t(state: np.ndarray, dof: float, out: np.ndarray) -> None:
    """Student-t(``dof``) draws into ``out`` (1-D float64), in order."""
    for k in range(out.shape[0]):
        out[k] = student_t(state, dof)


def new_stream(key: int) -> np.ndarray:
    """A fresh stream seeded from the 64-bit ``key`` (Python helper; kernels use :func:`seed_stream`)."""
    state = np.empty(STATE_WORDS, dtype=np.uint64)
    seed_stream(np.uint64(key % (1 << 64)), state)
    return state


def key_from(generator: np.random.Generator) -> int:
    """A 64-bit stream key drawn from a NumPy generator (one draw: how an environment's seeded generator
    hands each new episode its own stream): the generator's next raw 64-bit output, the value
    ``generator.integers(0, 2**64, dtype=np.uint64)`` returns, at a tenth of its cost."""
    return int(generator.bit_generator.random_raw())
