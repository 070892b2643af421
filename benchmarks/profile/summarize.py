#!/usr/bin/env python3
"""Summaries of async-profiler collapsed stacks (`-o collapsed`, threads on with `-t`).

  summarize.py cpu FILE [THREAD]          share of samples per thread, then, for the threads whose
                                          name contains THREAD (default tollgate-loop): self time
                                          per frame and inclusive time of tollgate's own frames
  summarize.py alloc FILE REQUESTS        bytes allocated per request (profile taken with --total)
                                          per thread, and on the loop threads per allocating site

Used for issue 8's before/after figures; see benchmarks/profile/profile.sh.
"""
import collections
import sys


def stacks(path):
    for line in open(path):
        stack, _, n = line.rstrip().rpartition(' ')
        yield stack.split(';'), int(n)


def thread(frames):
    return frames[0].split(' tid')[0].strip('[')


def cpu(path, want):
    threads = collections.Counter()
    selfc = collections.Counter()
    incl = collections.Counter()
    total = mine = 0
    for frames, n in stacks(path):
        total += n
        threads[thread(frames)] += n
        if want not in frames[0]:
            continue
        mine += n
        selfc[frames[-1]] += n
        for f in set(frames[1:]):
            incl[f] += n
    print(f"samples {total}; by thread:")
    for k, v in threads.most_common(8):
        print(f"  {100 * v / total:5.1f}%  {k}")
    print(f"\n{want} threads, self (top 25):")
    for k, v in selfc.most_common(25):
        print(f"  {100 * v / mine:5.1f}%  {k[:120]}")
    print(f"\n{want} threads, inclusive, tollgate frames (top 40):")
    shown = 0
    for k, v in incl.most_common():
        if 'io/tollgate' in k and 'Lambda' not in k:
            print(f"  {100 * v / mine:5.1f}%  {k[:120]}")
            shown += 1
            if shown == 40:
                break


def alloc(path, requests):
    threads = collections.Counter()
    sites = collections.Counter()
    for frames, n in stacks(path):
        threads[thread(frames)] += n
        if 'loop' not in frames[0]:
            continue
        own = [f for f in frames if ('tollgate' in f or 'netty/handler/codec' in f) and 'loop' not in f]
        site = ' > '.join(f.split('/')[-1] for f in own[-2:]) + ' -> ' + frames[-1]
        sites[site] += n
    print(f"bytes per request ({requests} requests):")
    for k, v in threads.most_common(6):
        print(f"  {v / requests:8.0f}  {k}")
    print("\nloop threads, by site (top 30):")
    for k, v in sites.most_common(30):
        print(f"  {v / requests:8.0f}  {k[:150]}")


if __name__ == '__main__':
    if len(sys.argv) < 3 or sys.argv[1] not in ('cpu', 'alloc'):
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == 'cpu':
        cpu(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else 'tollgate-loop')
    else:
        alloc(sys.argv[2], int(sys.argv[3]))
