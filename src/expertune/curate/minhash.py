"""Near-duplicate pairs by MinHash-LSH over word shingles, confirmed by exact Jaccard.

Signatures are datasketch MinHash values (its "affine32" scheme and permutations, so they equal
`datasketch.MinHash(num_perm, seed)` fed the same shingle hashes), computed for all texts at once
with numpy instead of one Python object per text. The band/row split comes from
`datasketch.MinHashLSH` for a candidate threshold *below* the reporting threshold: candidates are
cheap to confirm exactly, missed pairs are lost for good. Banding is a sort over band keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from expertune.curate.text import WordTable
from expertune.errors import ConfigError

_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_BAND_P = np.uint64(0x100000001B3)
# Bound on memory of one (shingles x permutations) block.
_BLOCK = 1 << 22


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, as datasketch applies it before its affine32 permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * _M1
    h = h ^ (h >> np.uint32(13))
    h = h * _M2
    return h ^ (h >> np.uint32(16))


def to_hash32(h64: np.ndarray) -> np.ndarray:
    return (h64 ^ (h64 >> np.uint64(32))).astype(np.uint32)


def signatures(h32: np.ndarray, docs: np.ndarray, n_docs: int, num_perm: int, seed: int) -> np.ndarray:
    """(n_docs, num_perm) MinHash values; `docs` (ascending) says which text each shingle belongs to.
    Texts without shingles keep the maximum value in every row."""
    from datasketch import MinHash  # imported here: datasketch pulls in scipy (~0.5 s per CLI start)

    m = MinHash(num_perm=num_perm, seed=seed)
    if getattr(m, "scheme", None) != "affine32":
        raise ConfigError("the near-duplicate check needs datasketch>=2.0 (its affine32 MinHash scheme); "
                          "run `pip install -U 'datasketch>=2.0'`")
    a, b = m.permutations
    sig = np.full((n_docs, num_perm), np.iinfo(np.uint32).max, np.uint32)
    if not len(h32):
        return sig
    mixed = fmix32(h32)
    bounds = np.searchsorted(docs, np.arange(n_docs + 1))
    step = max(_BLOCK // num_perm, 1)
    lo = 0
    while lo < n_docs:
        # Blocks end on text boundaries so reduceat never straddles two texts.
        hi = int(np.searchsorted(bounds, bounds[lo] + step, side="right")) - 1
        hi = min(max(hi, lo + 1), n_docs)
        s, e = bounds[lo], bounds[hi]
        if e > s:
            # Permutation-major (num_perm x shingles): the reduction runs along contiguous memory.
            block = a[:, None] * mixed[None, s:e]
            block += b[:, None]
            present = np.flatnonzero(bounds[lo + 1 : hi + 1] > bounds[lo:hi]) + lo
            sig[present] = np.minimum.reduceat(block, bounds[present] - s, axis=1).T
        lo = hi
    return sig


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def candidate_pairs(sig: np.ndarray, rows: np.ndarray, bands: int, r: int) -> np.ndarray:
    """Unique (i, j), i < j, of `rows` that share at least one band of their signatures."""
    pairs = []
    for k in range(bands):
        key = np.zeros(len(rows), np.uint64)
        for col in sig[rows, k * r : (k + 1) * r].T:
            key = key * _BAND_P + col.astype(np.uint64) + np.uint64(1)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, len(sk)])
        two = starts[sizes == 2]
        pairs.append(np.stack([order[two], order[two + 1]], axis=1))
        for s, n in zip(starts[sizes > 2], sizes[sizes > 2]):
            i, j = np.triu_indices(n, 1)
            pairs.append(np.stack([order[s + i], order[s + j]], axis=1))
    if not pairs:
        return np.zeros((0, 2), np.int64)
    p = rows[np.concatenate(pairs)]
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0)


@dataclass
class SimilarPairs:
    """Confirmed pairs (Jaccard >= threshold) of texts whose normalised text differs, and
    clusters of texts whose normalised text is identical (exact duplicates)."""

    left: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    right: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    jaccard: np.ndarray = field(default_factory=lambda: np.zeros(0))
    identical: list[list[int]] = field(default_factory=list)
    candidates: int = 0
    params: dict = field(default_factory=dict)


def similar_pairs(table: WordTable, keys: list[str], *, shingle: int, threshold: float, num_perm: int,
                  seed: int = 1, candidate_threshold: float | None = None) -> SimilarPairs:
    """Texts of `table` with shingle-set Jaccard >= `threshold`. `keys` are the normalised texts:
    equal keys mean identical shingle sets, so only one representative of each goes through LSH."""
    rep_of: dict[str, int] = {}
    members: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        rep = rep_of.setdefault(k, i)
        members.setdefault(rep, []).append(i)
    reps = np.array(sorted(rep_of.values()), np.int64)

    hashes, docs, _ = table.ngrams(shingle, whole_short=True)
    h32 = to_hash32(hashes)
    bands, rows = lsh_params(candidate_threshold or max(threshold - 0.2, 0.3), num_perm)
    out = SimilarPairs(identical=[m for m in members.values() if len(m) > 1],
                       params={"shingle": shingle, "num_perm": num_perm, "bands": bands, "rows": rows})
    bounds = np.searchsorted(docs, np.arange(len(table) + 1))
    reps = reps[bounds[reps + 1] > bounds[reps]]  # texts without words cannot be near anything
    if len(reps) < 2:
        return out
    sig = signatures(h32, docs, len(table), num_perm, seed)
    cand = candidate_pairs(sig, reps, bands, rows)
    out.candidates = len(cand)

    sets: dict[int, np.ndarray] = {}

    def shingles(d: int) -> np.ndarray:
        if d not in sets:
            sets[d] = np.unique(hashes[bounds[d] : bounds[d + 1]])  # 64-bit: exact up to ~2**-64
        return sets[d]

    left, right, jac = [], [], []
    for a, b in cand.tolist():
        sa, sb = shingles(a), shingles(b)
        inter = len(np.intersect1d(sa, sb, assume_unique=True))
        j = inter / (len(sa) + len(sb) - inter)
        if j >= threshold:
            for x in members[a]:
                for y in members[b]:
                    left.append(x)
                    right.append(y)
                    jac.append(j)
    out.left, out.right, out.jaccard = np.array(left, np.int64), np.array(right, np.int64), np.array(jac)
    return out


def components(n: int, left: np.ndarray, right: np.ndarray) -> list[list[int]]:
    """Connected components (size >= 2) of the graph on 0..n-1 with the given edges."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in {int(v) for v in (*left.tolist(), *right.tolist())}:
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
