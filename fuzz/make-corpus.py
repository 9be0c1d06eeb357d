#!/usr/bin/env python3
"""fuzz/make-corpus.py - write the seed corpus of iovamap-fuzz-api.

Each seed is a domain header and a short call sequence in the input format
documented at the top of fuzz/fuzz_api.c, chosen to reach every call and
its main outcomes at once (maps that succeed and collide, whole and partial
unmaps, reservations with maps inside, identity maps, regions, forced
failures).  The fuzzer mutates from there.  Run from anywhere:

    python3 fuzz/make-corpus.py        # rewrites fuzz/corpus/*
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def u16(v):
    return struct.pack("<H", v & 0xFFFF)

def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)

def header(alloc=3, cache_off=False, strict=False, passthrough=False,
           width=39, regions=()):
    h = alloc | (4 if cache_off else 0) | (8 if strict else 0) | \
        (0x10 if passthrough else 0)
    body = b""
    for i, (first, pages, should_map) in enumerate(regions):
        h |= 0x40 << i
        body += u16(first) + bytes([pages, 1 if should_map else 0])
    return bytes([h, (width - 13) % 51]) + body

def phys(kind=0, pages=1, base=0x100, large=False):
    # kind: 0 buffer, 1 contiguous, 2 pfn array
    t = (kind << 2) | (0x40 if large else 0)
    c = 0xFF if large else (pages - 1)
    return bytes([t, c]) + u16(base)

def op_map(perms=3, explicit=None, min_=None, max_=None, ph=None):
    f = (1 if explicit is not None else 0) | (2 if min_ is not None else 0) | \
        (4 if max_ is not None else 0)
    return bytes([0, perms, f]) + (ph or phys()) + u16(explicit or 0) + \
        u16(min_ or 0) + u16(max_ or 0)

def op_unmap(index=0, how=1, extra=0, page=0):
    return bytes([1, how, index, extra]) + u16(page)

def op_identity(ph, perms=3):
    return bytes([2, perms, 0]) + ph

def op_identity_unmap(index=0):
    return bytes([3, 1, index]) + phys()

def op_reserve(pages=8, explicit=None, min_=None, max_=None):
    f = (1 if explicit is not None else 0) | (2 if min_ is not None else 0) | \
        (4 if max_ is not None else 0)
    return bytes([4, f, pages - 1]) + u16(explicit or 0) + u16(min_ or 0) + \
        u16(max_ or 0)

def op_map_reserved(index=0, offset=0, perms=3, ph=None):
    return bytes([5, index, offset, perms]) + (ph or phys())

def op_unmap_reserved(index=0, name_live=True):
    return bytes([6, index, 0, 0x80 if name_live else 1])

def op_free_reserved(index=0):
    return bytes([7, index])

def op_translate(index=0, raw=0x1234):
    return bytes([8, 1, index]) + u32(raw)

def op_flush(kind=0):
    return bytes([9, kind << 2]) + u32(1) * 4

def op_trim():
    return bytes([10])

def op_fault(mask=3, n=0):
    return bytes([11, mask, n])

SEEDS = {
    # Buddy + explicit: allocated, constrained and explicit maps that
    # collide; partial and whole unmaps; translate.
    "buddy-maps": header() + op_map(ph=phys(0, 3, 0x200)) +
        op_map(explicit=0x40, ph=phys(1, 2, 0x300)) +
        op_map(explicit=0x41, ph=phys(2, 4, 0x400)) +
        op_map(min_=0x800, ph=phys(0, 5, 0x500)) +
        op_map(max_=0x20, ph=phys(1, 1, 0x600)) +
        op_translate(0) + op_unmap(0, how=3) + op_unmap(1, how=1) +
        op_unmap(0, how=5) + op_trim(),
    # Cache off, strict: lowest-first placement is checked exactly.
    "buddy-nocache-strict": header(cache_off=True, strict=True, width=28) +
        op_map(ph=phys(0, 1, 0x10)) + op_map(ph=phys(0, 7, 0x20)) +
        op_map(ph=phys(0, 2, 0x40)) + op_unmap(1, how=1) +
        op_map(ph=phys(0, 1, 0x50)) + op_flush(0),
    # No allocator: explicit only, overlaps settled by the page table;
    # identity maps; allocated maps refused.
    "no-allocator": header(alloc=1, width=40) +
        op_map(explicit=0x10, ph=phys(0, 4, 0x900)) +
        op_map(explicit=0x12, ph=phys(0, 4, 0xa00)) +
        op_map(explicit=0x0e, ph=phys(0, 3, 0xb00)) +
        op_map(ph=phys(0, 1, 0xc00)) +
        op_identity(phys(1, 2, 0x3000)) + op_identity_unmap(0) +
        op_unmap(0, how=1),
    # Reservations: map inside, unmap, free refused then accepted.
    "reservations": header() + op_reserve(16) + op_reserve(5, explicit=0x100) +
        op_map_reserved(0, 2, ph=phys(2, 3, 0x700)) +
        op_map_reserved(0, 3, ph=phys(0, 1, 0x710)) +
        op_free_reserved(0) + op_unmap_reserved(0) + op_free_reserved(0) +
        op_map(explicit=0x102, ph=phys(0, 1, 0x720)),
    # Reserved regions (a marker and an identity one) and 2 MiB leaves.
    "regions-large": header(width=44, regions=((0x200, 16, False),
                                                (0x400, 8, True))) +
        op_map(ph=phys(1, 512, 3, large=True)) +
        op_map(explicit=0x205, ph=phys(0, 1, 0x30)) +
        op_translate(0, 0x400123) + op_unmap(0, how=1) + op_trim() +
        op_map(ph=phys(0, 512, 5, large=True)),
    # PassThrough: identity succeeds, maps refused.
    "passthrough": header(passthrough=True) + op_identity(phys(0, 2, 0x40)) +
        op_map(ph=phys()) + op_translate(0, 0xabcdef) + op_reserve(4),
    # Forced failures: the n-th allocation / table / backend map fails.
    "faults": header() + op_fault(3, 0) + op_map(ph=phys(0, 2, 0x100)) +
        op_fault(7, 1) + op_map(explicit=0x9000, ph=phys(1, 3, 0x200)) +
        op_fault(3, 0) + op_reserve(8) + op_fault(3, 0) +
        op_map_reserved(0, 0, ph=phys(0, 2, 0x300)) +
        op_fault(4, 0) + op_map_reserved(0, 4, ph=phys(0, 1, 0x310)) +
        op_fault(1, 2) + op_unmap(0, how=1),
    # Bad input: permissions, phys, widths, a refused domain.
    "bad-input": header(width=13) + op_map(perms=0x84) +
        bytes([0, 3, 0x10]) + bytes([0x23, 0, 0, 0]) + u16(0) * 3 +
        op_unmap(0, how=0x30, page=1) + op_translate(0, 0xFFFFFFFF),
    "bad-domain": bytes([0x22, 0xFA]),
}

def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))

if __name__ == "__main__":
    main()
