"""Helper of scripts/export-survival.sh and scripts/export-survival-sequential.sh.
  row EVAL.json LABEL... BYTES   one TSV row: the labels, ES PS NS S of the `emend eval --json` report, the file size
  table TSV                      the TSV as a markdown table (size in MB)
"""
import json
import sys


def row(path, *rest):
    *labels, size = rest
    c = json.load(open(path))["counterfact"]
    print("\t".join(list(labels) + ["%.2f" % c[k] for k in ("ES", "PS", "NS", "S")] + [size]))


def table(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    head, body = rows[0], rows[1:]
    print("| " + " | ".join(head[:-1] + ["size (MB)"]) + " |")
    print("|" + "---|" * len(head))
    for r in body:
        print("| " + " | ".join(r[:-1] + ["%.1f" % (int(r[-1]) / 1e6)]) + " |")


if __name__ == "__main__":
    {"row": row, "table": table}[sys.argv[1]](*sys.argv[2:])
