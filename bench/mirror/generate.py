#!/usr/bin/env python3
"""A photo-library-shaped tree for bench/mirror/run.sh, laid out like Immich's storage template.

    generate.py make   ROOT FILES SEED      writes ROOT/<user>/<year>/<month>/IMG_nnnn.{jpg,heic,mp4}
                                            (+ IMG_nnnn.<ext>.xmp sidecars); prints "files bytes"
    generate.py change ROOT PERCENT SEED LIST
                                            rewrites PERCENT % of the media files with new random
                                            content of the same size and a new mtime (now); writes
                                            their paths, relative to ROOT, to LIST; prints "files bytes"

FILES counts every file, sidecars included. Content is os.urandom (incompressible, unique per file).

Sizes are a real library's scaled down about 50 times, so that 100 000 files are about 4.4 GB (44 KB a file on average) and
a run takes minutes on two cores rather than hours: what sets the tools apart on a USB drive is the
per-file work (directory entries, metadata, the manifest), which the file count keeps; per-byte
throughput is exercised by the videos. Real photos are 1-6 MB (JPEG/HEIC), videos 10-500 MB.

  kind   share of media  size (log-uniform)
  .jpg   86 %            6 KB - 120 KB     (mean 38 KB)
  .heic  12 %            5 KB - 80 KB      (mean 27 KB)
  .mp4    2 %            250 KB - 2 MB     (mean 840 KB)
  .xmp   sidecar of 20 % of media files, 1.5 - 4 KB

The mtime of each file is a time inside its <year>/<month> folder, as a camera would give it.
"""

import math
import os
import random
import sys
import time

USERS = ["admin", "anna", "ben"]
YEARS = list(range(2012, 2026))
KINDS = [  # (extension, weight, min bytes, max bytes)
    ("jpg", 86, 6_000, 120_000),
    ("heic", 12, 5_000, 80_000),
    ("mp4", 2, 250_000, 2_000_000),
]
SIDECAR_SHARE = 0.20
CHUNK = 1 << 20


def log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, CHUNK)
            f.write(os.urandom(n))
            left -= n


def make(root, files, seed):
    rng = random.Random(seed)
    folders = [(u, y, m) for u in USERS for y in YEARS for m in range(1, 13)]
    # Media files per folder, so that media + sidecars reach `files`.
    media_total = max(1, round(files / (1 + SIDECAR_SHARE)))
    counters = {}
    written = 0
    total_bytes = 0
    kinds = [k[0] for k in KINDS]
    weights = [k[1] for k in KINDS]
    limits = {k[0]: (k[2], k[3]) for k in KINDS}
    sidecars_left = files - media_total
    media_left = media_total
    while written < files:
        user, year, month = rng.choice(folders)
        d = os.path.join(root, user, str(year), f"{month:02d}")
        if (user, year, month) not in counters:
            os.makedirs(d, exist_ok=True)
            counters[(user, year, month)] = 1000
        n = counters[(user, year, month)]
        counters[(user, year, month)] = n + 1
        kind = rng.choices(kinds, weights)[0]
        lo, hi = limits[kind]
        size = log_uniform(rng, lo, hi)
        name = os.path.join(d, f"IMG_{n:04d}.{kind}")
        write_random(name, size)
        # A time inside the month, as a camera would record it.
        when = time.mktime((year, month, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                            rng.randint(0, 59), 0, 0, -1))
        os.utime(name, (when, when))
        written += 1
        total_bytes += size
        media_left -= 1
        want_sidecar = sidecars_left > 0 and (media_left <= sidecars_left or rng.random() < SIDECAR_SHARE)
        if want_sidecar and written < files:
            xmp_size = rng.randint(1_500, 4_000)
            write_random(name + ".xmp", xmp_size)
            os.utime(name + ".xmp", (when + 5, when + 5))
            written += 1
            sidecars_left -= 1
            total_bytes += xmp_size
    print(written, total_bytes)


def change(root, percent, seed, listing):
    media = []
    for d, _, names in os.walk(root):
        for n in names:
            if not n.endswith(".xmp"):
                media.append(os.path.join(d, n))
    media.sort()
    rng = random.Random(seed)
    count = max(1, round(len(media) * percent / 100))
    chosen = sorted(rng.sample(media, count))
    total_bytes = 0
    with open(listing, "w") as out:
        for p in chosen:
            size = os.stat(p).st_size
            write_random(p, size)  # same size: only the content and the mtime say it changed
            total_bytes += size
            out.write(os.path.relpath(p, root) + "\n")
    print(len(chosen), total_bytes)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "change":
        change(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
