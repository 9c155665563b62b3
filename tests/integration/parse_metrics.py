#!/usr/bin/python3
"""Judges a Prometheus text exposition with the prometheus_client parser.

Reads the exposition from the file named by argv[1]; prints one line per sample,
`name{label="value",...} value` with labels sorted, and exits 0. Exits 1 with
the reason when the text does not parse, a family has no HELP or no TYPE, or a
name appears in two families.
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    lines = []
    try:
        # The parser merges a repeated family; Prometheus refuses one.
        typed = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
        for name in typed:
            if typed.count(name) > 1:
                raise ValueError("family %s has two TYPE lines" % name)
        for family in text_string_to_metric_families(text):
            if not family.documentation:
                raise ValueError("family %s has no HELP" % family.name)
            if family.type == "unknown":
                raise ValueError("family %s has no TYPE" % family.name)
            for sample in family.samples:
                labels = ",".join(
                    '%s="%s"' % (k, v) for k, v in sorted(sample.labels.items()))
                lines.append("%s{%s} %r" % (sample.name, labels, float(sample.value)))
    except ValueError as error:
        print("metrics do not parse: %s" % error)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
