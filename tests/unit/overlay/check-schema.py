#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Validate every examples/*.json overlay file against the JSON Schema of the
format, check that the schema refuses the structurally bad files and the
inline cases below that csd refuses, and that examples/all-keys.json uses
every overlay key registered with SCHEMA_REGISTER in the C files given (so a
key added to csd without the schema and the example fails here).
    check-schema.py SCHEMA EXAMPLES_DIR BAD_DIR [SCHEMA_C_FILE...]
Exit 77 (skip) when the jsonschema module is missing (Debian: python3-jsonschema)."""
import copy
import glob
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: the python3 jsonschema module is missing (apt-get install python3-jsonschema)")
    sys.exit(77)

# bad files whose fault is structural, so the schema alone must refuse them
STRUCTURAL = ["unknown-top", "unknown-tenant-key", "unknown-vnet-key", "unknown-endpoint-key",
              "wrong-types", "bad-names", "unitless-rate", "top-not-object"]

# what csd refuses although each value has the right type: (what, change to
# a copy of all-keys.json)
BLUE = ("vnets", "acme/blue")


def at(doc, *path):
    for p in path:
        doc = doc[p]
    return doc


def refused_cases(base):
    def case(what, fn):
        d = copy.deepcopy(base)
        fn(d)
        return what, d
    blue = lambda d: at(d, *BLUE)
    pol = lambda d: blue(d)["policy"]
    return [
        case("policy without default", lambda d: pol(d).pop("default")),
        case("policy with an unknown key", lambda d: pol(d).update(defaults="deny")),
        case("rule without action", lambda d: pol(d)["rules"][0].pop("action")),
        case("rule without to", lambda d: pol(d)["rules"][0].pop("to")),
        case("rule named by a number", lambda d: pol(d)["rules"][0].update(name="7")),
        case("rule with ports and icmp", lambda d: pol(d)["rules"][0].update(proto="icmp")),
        case("rule with ports and no proto", lambda d: pol(d)["rules"][0].pop("proto")),
        case("rule with empty ports", lambda d: pol(d)["rules"][0].update(ports=[])),
        case("rule with port 0", lambda d: pol(d)["rules"][0].update(ports=[0])),
        case("rule with a bad selector", lambda d: pol(d)["rules"][0].update(to="host:db")),
        case("test with icmp and a port", lambda d: pol(d)["tests"][2].update(port=1)),
        case("test with tcp and no port", lambda d: pol(d)["tests"][0].pop("port")),
        case("test with proto any", lambda d: pol(d)["tests"][0].update(proto="any")),
        case("test naming a group", lambda d: pol(d)["tests"][0].update(to="group:db")),
        case("members with an unknown key", lambda d: blue(d)["members"].update(users=[1])),
        case("quotas with an unknown key", lambda d: at(d, "tenants", "acme", "quotas")
             .update(cpus=1)),
        case("negative quota", lambda d: at(d, "tenants", "acme", "quotas").update(vnets=-1)),
        case("uplink_shape not a boolean", lambda d: at(d, "nodes", "n1")
             .update(uplink_shape="yes")),
        case("qos on a vnet without capacity", lambda d: blue(d).pop("capacity")),
        case("qos without rate", lambda d: blue(d)["endpoints"]["db"]["qos"].pop("rate")),
        case("node without underlay", lambda d: at(d, "nodes", "n2").pop("underlay")),
    ]


OBJECTS = {"SCHEMA_TENANT": "tenant", "SCHEMA_VNET": "vnet", "SCHEMA_ENDPOINT": "endpoint",
           "SCHEMA_NODE": "node", "SCHEMA_RESERVATION": "reservation"}


def registered_keys(c_files):
    keys = []
    for path in c_files:
        with open(path) as f:
            text = f.read()
        keys += re.findall(r'\{\s*(SCHEMA_[A-Z]+),\s*"([^"]+)"', text)
    return [(OBJECTS[o], k) for o, k in keys if o in OBJECTS]


def uses(obj, path):
    """Does some value below obj have the dotted path ("policy.rules[].name")?"""
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    head = head[:-2] if many else head
    if not isinstance(obj, dict) or head not in obj:
        return False
    if not rest:
        return True
    items = obj[head] if many else [obj[head]]
    return any(uses(i, rest) for i in items)


def objects_of(doc, kind):
    vnets = list(doc.get("vnets", {}).values())
    eps = [e for v in vnets for e in v.get("endpoints", {}).values()]
    return {"tenant": list(doc.get("tenants", {}).values()), "node":
            list(doc.get("nodes", {}).values()), "vnet": vnets, "endpoint": eps,
            # the body of a reservation is an endpoint's qos
            "reservation": [e["qos"] for e in eps if "qos" in e]}[kind]


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
    with open(os.path.join(examples, "all-keys.json")) as f:
        all_keys = json.load(f)
    for what, doc in refused_cases(all_keys):
        refused = not validator.is_valid(doc)
        failed += not refused
        print("%s %s is refused" % ("ok" if refused else "FAIL", what))
    keys = registered_keys(sys.argv[4:])
    if sys.argv[4:] and len(keys) < 20:
        print("FAIL only %d keys found in %s" % (len(keys), " ".join(sys.argv[4:])))
        failed += 1
    for kind, path in keys:
        used = any(uses(o, path) for o in objects_of(all_keys, kind))
        failed += not used
        if not used:
            print("FAIL all-keys.json uses no %s key %s" % (kind, path))
    print("ok all-keys.json uses all %d registered keys" % len(keys))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
