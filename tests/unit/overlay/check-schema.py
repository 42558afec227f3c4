#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validate every examples/*.json overlay file against the JSON Schema of the
format, and check that the schema refuses the structurally bad files.
    check-schema.py SCHEMA EXAMPLES_DIR BAD_DIR
Exit 77 (skip) when the jsonschema module is missing (Debian: python3-jsonschema)."""
import glob
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: the python3 jsonschema module is missing (apt-get install python3-jsonschema)")
    sys.exit(77)

# bad files whose fault is structural, so the schema alone must refuse them
STRUCTURAL = ["unknown-top", "unknown-tenant-key", "unknown-vnet-key", "unknown-endpoint-key",
              "wrong-types", "bad-names", "unitless-rate", "top-not-object"]


def main():
    schema_path, examples, bad = sys.argv[1:4]
    with open(schema_path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    failed = 0
    files = sorted(p for p in glob.glob(os.path.join(examples, "*.json"))
                   if not p.endswith(".schema.json"))
    if not files:
        print("no examples found in", examples)
        return 1
    for p in files:
        with open(p) as f:
            doc = json.load(f)
        errors = list(validator.iter_errors(doc))
        for e in errors:
            print("%s: %s: %s" % (os.path.basename(p), e.json_path, e.message))
        failed += bool(errors)
        print("%s %s" % ("FAIL" if errors else "ok", os.path.basename(p)))
    for name in STRUCTURAL:
        with open(os.path.join(bad, name + ".json")) as f:
            doc = json.load(f)
        refused = not validator.is_valid(doc)
        failed += not refused
        print("%s bad/%s.json is refused" % ("ok" if refused else "FAIL", name))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
