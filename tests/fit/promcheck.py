#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# promcheck.py - parses a Prometheus text exposition with Debian's
# python3-prometheus-client parser (the one Prometheus' own client library
# uses) and checks what it must hold. Exit 0 when every check holds, 1 with
# the reasons otherwise, 77 when the parser is not installed.
#
#   promcheck.py FILE [CHECK...]
#   CHECK: NAME{label=value,...}OP NUMBER   OP one of == >= > <=
#
# Besides the checks: every sample belongs to a family with HELP and TYPE,
# no family appears twice, counters end in _total, values are finite.
import math
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print('SKIP: python3-prometheus-client is not installed', file=sys.stderr)
    sys.exit(77)

CHECK = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?(==|>=|<=|>)(-?[0-9.eE+]+)$')


def structure(text, families):
    errors = []
    seen = {}
    for line in text.splitlines():
        m = re.match(r'^# (HELP|TYPE) (\S+)', line)
        if m:
            seen.setdefault(m.group(2), set()).add(m.group(1))
    for name, kinds in seen.items():
        if kinds != {'HELP', 'TYPE'}:
            errors.append('%s: has %s only' % (name, sorted(kinds)))
    names = [f.name for f in families]
    for n in set(names):
        if names.count(n) > 1:
            errors.append('family %s appears %d times' % (n, names.count(n)))
    for f in families:
        for s in f.samples:
            if not math.isfinite(s.value):
                errors.append('%s%s: value %r' % (s.name, s.labels, s.value))
            if f.type == 'counter' and not s.name.endswith('_total'):
                errors.append('counter sample %s does not end in _total' % s.name)
    return errors


def check(families, spec):
    m = CHECK.match(spec)
    if not m:
        return 'bad check %r' % spec
    name, labels, op, want = m.group(1), m.group(2), m.group(3), float(m.group(4))
    want_labels = dict(kv.split('=', 1) for kv in labels.split(',')) if labels else {}
    values = [s.value for f in families for s in f.samples
              if s.name == name and all(s.labels.get(k) == v for k, v in want_labels.items())]
    if len(values) != 1:
        return '%s: %d samples match, want 1' % (spec, len(values))
    v = values[0]
    ok = {'==': v == want, '>=': v >= want, '<=': v <= want, '>': v > want}[op]
    return None if ok else '%s: value is %r' % (spec, v)


def main():
    text = open(sys.argv[1]).read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print('FAIL: the Prometheus parser rejects %s: %s' % (sys.argv[1], e), file=sys.stderr)
        return 1
    errors = structure(text, families)
    errors += [e for e in (check(families, c) for c in sys.argv[2:]) if e]
    for e in errors:
        print('FAIL: %s' % e, file=sys.stderr)
    if not errors:
        print('%d families, %d samples, %d checks hold' % (
            len(families), sum(len(f.samples) for f in families), len(sys.argv) - 2))
    return 1 if errors else 0


sys.exit(main())
