"""Run by an image's own python: loads a definitions target the way ``dagster code-server
start`` does and writes the outcome as JSON. Only the standard library and dagster are used;
this file is never imported by the platform.

Usage: python _check_target.py KIND VALUE WORKING_DIRECTORY REPO_ROOT RESULT_FILE
"""

import json
import os
import sys
import traceback


def _chain(error):
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return seen


def _inside(path, root):
    if not os.path.isabs(path):  # e.g. "<frozen os>", "<string>"
        return False
    path = os.path.realpath(path)
    return path.startswith(root + os.sep) and os.sep + "site-packages" + os.sep not in path


def _where(errors, root):
    for error in reversed(errors):
        if isinstance(error, SyntaxError) and error.filename and _inside(error.filename, root):
            return os.path.relpath(os.path.realpath(error.filename), root), error.lineno
        frames = [f for f in traceback.extract_tb(error.__traceback__) if _inside(f.filename, root)]
        if frames:
            return os.path.relpath(os.path.realpath(frames[-1].filename), root), frames[-1].lineno
    return None, None


def _check(kind, value, working_directory):
    from dagster import Definitions
    from dagster._core.workspace.autodiscovery import (
        loadable_targets_from_python_file,
        loadable_targets_from_python_module,
    )

    if kind == "python_file":
        targets = loadable_targets_from_python_file(value, working_directory)
    else:
        targets = loadable_targets_from_python_module(value, working_directory)
    if len(targets) != 1:
        names = ", ".join(t.attribute for t in targets) or "nothing"
        return {
            "ok": False,
            "type": "NoDefinitions",
            "message": f"found {names}, "
            "expected one dagster.Definitions at module scope (e.g. defs = Definitions(...))",
        }
    target = targets[0]
    definitions = target.target_definition
    if callable(definitions) and not isinstance(definitions, Definitions):
        definitions = definitions()
    if not isinstance(definitions, Definitions):
        found = type(definitions).__name__
        return {
            "ok": False,
            "type": "NoDefinitions",
            "message": f"`{target.attribute}` is a "
            f"{found}, not a dagster.Definitions: wrap it in Definitions(...)",
        }
    repository = definitions.get_repository_def()
    return {
        "ok": True,
        "attribute": target.attribute,
        "assets": sorted(k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()),
        "jobs": sorted(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
    }


def main():
    kind, value, working_directory, root, result_file = sys.argv[1:6]
    root = os.path.realpath(root)
    try:
        result = _check(kind, value, working_directory)
    except BaseException as error:  # any failure of the repository code is the answer
        errors = _chain(error)
        innermost = errors[-1]
        path, line = _where(errors, root)
        lines = [ln for chunk in traceback.format_exception(innermost) for ln in chunk.splitlines()]
        result = {
            "ok": False,
            "type": type(innermost).__name__,
            "message": str(innermost),
            "file": path,
            "line": line,
            "tail": [ln for ln in lines if ln.strip()][-3:],
        }
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
