#!/usr/bin/python3
"""Checks JSON reports against a JSON Schema (docs/report.schema.json, ...).

    /usr/bin/python3 tools/validate_report.py docs/report.schema.json r.json [more.json ...]

Prints nothing and exits 0 when every file follows the schema; else one line
per error, "FILE: key.path: message", and exits 1. Exits 2 when it cannot
check at all (no python3-jsonschema, an unreadable file, a malformed schema),
so that a missing validator is never taken for a valid report.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    sys.stderr.write("validate_report.py: python3-jsonschema is missing "
                     "(apt-get install python3-jsonschema; tools/setup.sh installs it)\n")
    sys.exit(2)


def key_path(error):
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path[1:] if path.startswith(".") else (path or "(top)")


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (OSError, ValueError, jsonschema.exceptions.SchemaError) as e:
        sys.stderr.write(f"validate_report.py: schema {argv[1]}: {e}\n")
        return 2
    validator = cls(schema)
    failed = False
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write(f"validate_report.py: {path}: {e}\n")
            return 2
        for error in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path))):
            failed = True
            print(f"{path}: {key_path(error)}: {error.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
