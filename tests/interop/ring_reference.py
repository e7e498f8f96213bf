"""An independent implementation of the ring layout in docs/ring.md, in plain Python, used to
check the golden vectors that the Rust client is also tested against."""

import bisect

MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK


def siphash24(data: bytes, k0: int = 0, k1: int = 0) -> int:
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & MASK; v1 = _rotl(v1, 13) ^ v0; v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & MASK; v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & MASK; v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & MASK; v1 = _rotl(v1, 17) ^ v2; v2 = _rotl(v2, 32)

    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        rounds(2)
        v0 ^= m
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= last
    rounds(2)
    v0 ^= last
    v2 ^= 0xFF
    rounds(4)
    return v0 ^ v1 ^ v2 ^ v3


def hash_tag(key: bytes) -> bytes:
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def points_for(weight: float) -> int:
    points = round(160 * weight)
    return max(1, points)


class Ring:
    def __init__(self, nodes: list[tuple[str, float]]):
        points = []
        for index, (name, weight) in enumerate(nodes):
            for i in range(points_for(weight)):
                points.append((siphash24(f"{name}-{i}".encode()), index))
        points.sort(key=lambda p: p[0])  # stable, like the Rust ring
        self.hashes = [h for h, _ in points]
        self.owners = [n for _, n in points]
        self.names = [name for name, _ in nodes]

    def replicas(self, key: bytes, count: int) -> list[str]:
        start = bisect.bisect_left(self.hashes, siphash24(hash_tag(key)))
        out: list[int] = []
        for step in range(len(self.hashes)):
            node = self.owners[(start + step) % len(self.hashes)]
            if node not in out:
                out.append(node)
                if len(out) == min(count, len(self.names)):
                    break
        return [self.names[i] for i in out]
